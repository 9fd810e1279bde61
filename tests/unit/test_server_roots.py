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


def test_a_search_that_stops_early_says_so(tree):
    served = ServedRoots(str(tree))
    whole = served.search()
    assert whole.roots == ["a", "b/deep/c"] and whole.message is None
    cut = served.search(max_dirs=3)
    assert cut.folders == 3
    assert cut.message.startswith("Stopped looking for hipercow roots after 3 folders;")
    assert "not looked in" in cut.message and "c.HipercowServer.roots" in cut.message
    timed_out = served.search(max_seconds=0)
    assert "Stopped looking for hipercow roots after 0 folders (0 s)" in timed_out.message


def test_a_burst_of_look_ups_shares_one_search(tree, monkeypatch):
    import threading

    served = ServedRoots(str(tree))
    searches = []
    release = threading.Event()
    real_search = served.search

    def counted_search(*args, **kwargs):
        searches.append(1)
        release.wait(30)  # every look-up arrives while the first search runs
        return real_search(*args, **kwargs)

    monkeypatch.setattr(served, "search", counted_search)
    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(served.search_cached().roots))
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join(30)
    assert len(searches) == 1
    assert answers == [["a", "b/deep/c"]] * 20
    served.search_cached(ttl=0)  # an old answer is searched again
    assert len(searches) == 2


def test_a_task_whose_files_link_out_of_the_root_is_refused(tree, tmp_path):
    from hipercow_magic.core.root import find_root

    served = ServedRoots(str(tree))
    _, root = served.resolve("a")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the server")
    task_id = "ab" * 16
    os.makedirs(root.task_dir(task_id))
    (tmp_path / "elsewhere").mkdir()
    served.check_task_files(root, task_id)  # plain files: fine
    os.symlink(secret, root.task_file(task_id, "log"))
    with pytest.raises(PathRejected, match="'hipercow/tasks/ab/.*/log' is a link leading out"):
        served.check_task_files(root, task_id)
    os.unlink(root.task_file(task_id, "log"))
    inside = tree / "a" / "notes.txt"
    inside.write_text("inside the root")
    os.symlink(inside, root.task_file(task_id, "log"))
    served.check_task_files(root, task_id)  # a link within the root is followed
    other = "cd" * 16
    os.makedirs(os.path.dirname(root.task_dir(other)), exist_ok=True)
    os.symlink(tmp_path / "elsewhere", root.task_dir(other))
    with pytest.raises(PathRejected, match="is a link leading out of its root"):
        served.check_task_files(find_root(root.path), other)


def test_a_root_made_after_a_look_is_found_by_the_next_look(tree):
    served = ServedRoots(str(tree))
    assert served.locate("plain/notebook.ipynb") is None
    assert served.search_cached().roots == ["a", "b/deep/c"]
    with contextlib.redirect_stdout(None):
        api.hipercow_init(str(tree / "plain"))
    assert served.locate("plain/notebook.ipynb") == "plain"  # "no root" is never kept
    assert served.search_cached().roots == ["a", "b/deep/c"]  # a search is shared a while...
    assert served.search_cached(ttl=0).roots == ["a", "plain", "b/deep/c"]  # ...or made anew
    assert served.search_cached().roots == ["a", "plain", "b/deep/c"]
