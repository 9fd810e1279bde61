"""engine/bundles: names, saving and loading, the order of listing, and listing while
another process deletes bundles.
"""

import os
import subprocess
import sys
import textwrap
import time

import pytest
from processes import source_environment

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import init_root
from hipercow_magic.engine import bundles


@pytest.fixture
def root(tmp_path):
    return init_root(str(tmp_path))[0]


def test_names_are_checked(root):
    for bad in ("", ".hidden", "a/b", "a b", "../x"):
        with pytest.raises(HipercowError, match="Invalid bundle name"):
            bundles.bundle_save(root, bad, ["a" * 32])
    assert bundles.check_bundle_name("ok_name-1.2") == "ok_name-1.2"


def test_save_load_delete_and_newest_first(root):
    bundles.bundle_save(root, "older", ["a" * 32])
    bundles.bundle_save(root, "newer", ["b" * 32, "c" * 32])
    past = time.time() - 60
    os.utime(os.path.join(root.bundles, "older"), (past, past))
    assert bundles.bundle_list(root) == ["newer", "older"]
    assert bundles.bundle_load_ids(root, "newer") == ["b" * 32, "c" * 32]
    bundles.bundle_delete(root, "older")
    assert bundles.bundle_list(root) == ["newer"]
    with pytest.raises(HipercowError, match="No such bundle 'older'"):
        bundles.bundle_load_ids(root, "older")


CHURN = textwrap.dedent(
    """
    import os, sys, time
    folder, names = sys.argv[1], int(sys.argv[2])
    end = time.monotonic() + float(sys.argv[3])
    print("started", flush=True)
    while time.monotonic() < end:
        for n in range(names):
            os.unlink(os.path.join(folder, f"b{n}"))
        for n in range(names):
            open(os.path.join(folder, f"b{n}"), "w").close()
    """
)


def test_listing_while_another_process_deletes_bundles(root):
    names = 200
    for n in range(names):
        bundles.bundle_save(root, f"b{n}", ["a" * 32])
    churn = subprocess.Popen(
        [sys.executable, "-c", CHURN, root.bundles, str(names), "3"],
        stdout=subprocess.PIPE,
        text=True,
        env=source_environment(),
    )
    try:
        assert churn.stdout.readline().strip() == "started"
        listings = 0
        while churn.poll() is None:
            listed = bundles.bundle_list(root)  # must not raise FileNotFoundError
            assert set(listed) <= {f"b{n}" for n in range(names)}
            listings += 1
    finally:
        churn.kill()
        churn.wait()
    assert listings > 10
