"""Shared fixtures: a fresh root on the local driver, and cleaning up its processes; and
the marker of each test folder (tests/local -> `local`, tests/slurm -> `slurm`, ...), so
`pytest -m "not slurm"` leaves out what needs Slurm wherever a test lives.
"""

from __future__ import annotations

import pathlib

import pytest
from processes import stop_local_scheduler

import hipercow_magic as hc

TESTS = pathlib.Path(__file__).resolve().parent
FOLDER_MARKERS = ("local", "slurm", "kernel", "browser", "shared", "remote")  # in pyproject.toml


def pytest_collection_modifyitems(items):
    """Mark each test with the name of its folder under tests/, when that is a marker."""
    for item in items:
        try:
            folder = pathlib.Path(item.path).resolve().relative_to(TESTS).parts[0]
        except ValueError:  # a test outside tests/
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(getattr(pytest.mark, folder))


def _local_root(tmp_path, monkeypatch, capsys, driver: str):
    """A root at tmp_path on a local driver; cwd is the root; its processes stop afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path.parent / f"{tmp_path.name}.key"))
    r = hc.hipercow_init(".", driver=driver, idle_timeout=30)
    capsys.readouterr()
    yield r
    stop_local_scheduler(r)


@pytest.fixture
def root(tmp_path, monkeypatch, capsys):
    """A root using the local driver on this machine."""
    yield from _local_root(tmp_path, monkeypatch, capsys, "local")


@pytest.fixture
def example_root(tmp_path, monkeypatch, capsys):
    """A root on the local driver's `example` cluster (4 nodes x 4 cores, 3 queues)."""
    yield from _local_root(tmp_path, monkeypatch, capsys, "example")


@pytest.fixture(scope="module")
def ip():
    """The IPython shell with the extension loaded (one shell per test session)."""
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()
    shell.run_line_magic("load_ext", "hipercow_magic")
    return shell


@pytest.fixture
def bare_root(tmp_path, monkeypatch, capsys):
    """A root with no driver configured."""
    monkeypatch.chdir(tmp_path)
    r = hc.hipercow_init(".")
    capsys.readouterr()
    return r
