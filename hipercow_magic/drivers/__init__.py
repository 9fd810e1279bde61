"""Cluster drivers: one folder each, found through the `hipercow_magic.drivers` entry points."""
