"""Shared fixtures: a fresh root on the local driver, and cleaning up its processes."""

from __future__ import annotations

import pytest

import hipercow_magic as hc

from processes import stop_local_scheduler


@pytest.fixture
def root(tmp_path, monkeypatch, capsys):
    """A root at tmp_path using the local driver on this machine; cwd is the root."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path.parent / f"{tmp_path.name}.key"))
    r = hc.hipercow_init(".", driver="local", idle_timeout=30)
    capsys.readouterr()
    yield r
    stop_local_scheduler(r)


@pytest.fixture
def example_root(tmp_path, monkeypatch, capsys):
    """A root on the local driver's `example` cluster (4 nodes x 4 cores, 3 queues)."""
    monkeypatch.chdir(tmp_path)
    r = hc.hipercow_init(".", driver="example", idle_timeout=30)
    capsys.readouterr()
    yield r
    stop_local_scheduler(r)


@pytest.fixture
def bare_root(tmp_path, monkeypatch, capsys):
    """A root with no driver configured."""
    monkeypatch.chdir(tmp_path)
    r = hc.hipercow_init(".")
    capsys.readouterr()
    return r
