"""The package version, in one place (read by the build, the runner and the displays)."""

__version__ = "0.1.0"
