"""Which roots the server extension serves: discovery, configured folders, path escapes."""

from __future__ import annotations

import contextlib
import os

import pytest

from hipercow_magic import api
from hipercow_magic.server.roots import PathRejected, RootNotFound, ServedRoots


@pytest.fixture
def tree(tmp_path):
    """served/{a, b/deep/c, .hidden/d, plain} roots, a link inside and one leading out."""
    served = tmp_path / "served"
    with contextlib.redirect_stdout(None):
        for rel in ["a", "b/deep/c", ".hidden/d"]:
            (served / rel).mkdir(parents=True)
            api.hipercow_init(str(served / rel))
        api.hipercow_init(str(tmp_path / "outside"))
    (served / "plain").mkdir()
    os.symlink(served / "a", served / "link-to-a")
    os.symlink(tmp_path / "outside", served / "link-out")
    return served


def test_discovery_finds_roots_below_the_served_folder_but_not_hidden_ones_or_links(tree):
    assert ServedRoots(str(tree)).discover() == ["a", "b/deep/c"]
    assert ServedRoots(str(tree), depth=2).discover() == ["a"]


def test_configured_folders_limit_what_is_served(tree):
    served = ServedRoots(str(tree), ["b"])
    assert served.discover() == ["b/deep/c"]
    assert served.resolve("b/deep/c")[0] == "b/deep/c"
    with pytest.raises(PathRejected, match="outside the folders this server serves"):
        served.resolve("a")
    assert served.locate("a/notebook.ipynb") is None
    with pytest.raises(ValueError, match="inside the server's root folder"):
        ServedRoots(str(tree), [str(tree.parent / "outside")])


def test_links_may_point_within_the_served_folders_but_not_out_of_them(tree):
    served = ServedRoots(str(tree))
    key, root = served.resolve("link-to-a")
    assert key == "link-to-a" and root.path == str((tree / "a").resolve())
    with pytest.raises(PathRejected):
        served.resolve("link-out")
    assert served.locate("link-out/x.ipynb") is None


def test_locate_searches_upward_from_a_file_or_folder(tree):
    served = ServedRoots(str(tree))
    assert served.locate("b/deep/c/sub/analysis.ipynb") == "b/deep/c"
    assert served.locate("b/deep") is None
    assert served.locate("") is None
    with pytest.raises(RootNotFound):
        served.resolve("plain")
