"""Fixtures of the tests on the real Slurm: a root of their own per test module, each test
run from inside it, and no job left behind."""

from __future__ import annotations

import pytest
from processes import cancel_slurm_jobs, require_slurm

import hipercow_magic as hm


@pytest.fixture(scope="module")
def root_path(tmp_path_factory, request):
    """A root configured for Slurm, shared by the tests of one module; its jobs are
    cancelled at the end, whatever happened.
    """
    require_slurm()
    path = tmp_path_factory.mktemp(request.module.__name__.removeprefix("test_"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        hm.hipercow_init(str(path), driver="slurm", poll_interval=0.5)
        try:
            yield path
        finally:
            cancel_slurm_jobs(path)


@pytest.fixture
def in_root(root_path, monkeypatch):
    """Run the test from inside the module's root."""
    monkeypatch.chdir(root_path)
