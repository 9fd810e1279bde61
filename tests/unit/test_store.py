"""core/store: atomic writes, exclusive creation, and markers shared by many tasks; a write
that fails leaves no temporary file behind.
"""

import os
import subprocess
import sys
import textwrap

from processes import source_environment

from hipercow_magic.core import store
from hipercow_magic.core.root import init_root
from hipercow_magic.core.task import new_id


def leftovers(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


def test_atomic_writes_replace_whole_files(tmp_path):
    path = str(tmp_path / "a.json")
    store.write_json(path, {"n": 1})
    store.write_json(path, {"n": 2})
    assert store.read_json(path) == {"n": 2}
    assert store.read_json_or(str(tmp_path / "missing"), "none") == "none"
    assert store.read_text_or(str(tmp_path / "missing")) is None
    assert leftovers(tmp_path) == []


def test_create_exclusive_only_once(tmp_path):
    path = str(tmp_path / "claim")
    assert store.create_exclusive(path, "first")
    assert not store.create_exclusive(path, "second")
    assert store.read_text_or(path) == "first"


def test_markers_for_many_tasks_are_one_file_linked_into_each(tmp_path):
    root, _ = init_root(str(tmp_path))
    ids = [new_id() for _ in range(3)]
    for task_id in ids:
        os.makedirs(root.task_dir(task_id))
    store.write_json(root.task_file(ids[1], "status-submitted"), {"old": True})
    store.write_markers(root, ids, "status-submitted", {"driver": "local"})
    for task_id in ids:
        assert store.read_json(root.task_file(task_id, "status-submitted")) == {"driver": "local"}
    linked = [os.stat(root.task_file(i, "status-submitted")).st_nlink for i in ids]
    assert linked == [2, 1, 2]  # one file shared; the task that had a marker gets its own
    assert leftovers(root.hipercow) == []


SCRIPT = textwrap.dedent(
    """
    import os, resource, signal, sys
    from hipercow_magic.core import store
    from hipercow_magic.core.root import find_root
    root = find_root(sys.argv[1])
    ids = sys.argv[2:]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))
    try:
        store.write_markers(root, ids, "status-submitted", {"pad": "x" * 5000})
    except OSError as e:
        print("failed:", e.strerror)
    """
)


def test_a_marker_that_fails_to_write_leaves_no_temporary_file(tmp_path):
    root, _ = init_root(str(tmp_path))
    ids = [new_id() for _ in range(2)]
    for task_id in ids:
        os.makedirs(root.task_dir(task_id))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, root.path, *ids],
        capture_output=True,
        text=True,
        env=source_environment(),
        check=True,
    )
    assert proc.stdout.strip() == "failed: File too large", proc.stderr
    assert leftovers(root.hipercow) == []
    for task_id in ids:
        assert not os.path.exists(root.task_file(task_id, "status-submitted"))


MODES = textwrap.dedent(
    """
    import json, os, sys
    os.umask(int(sys.argv[2], 8))
    from hipercow_magic.core import store
    from hipercow_magic.core.root import init_root
    from hipercow_magic.core.task import new_id
    root, _ = init_root(sys.argv[1])
    ids = [new_id() for _ in range(2)]
    for i in ids:
        os.makedirs(root.task_dir(i))
    store.write_json(root.task_file(ids[0], "data.json"), {})
    store.write_plain(root.task_file(ids[0], "locals.pkl"), b"x")
    store.create_exclusive(root.task_file(ids[0], "status-running"), "{}")
    store.write_markers(root, ids, "status-submitted", {})
    files = [root.task_file(ids[0], n) for n in ("data.json", "locals.pkl", "status-running")]
    files += [root.task_file(i, "status-submitted") for i in ids]
    print(json.dumps(sorted({oct(os.stat(f).st_mode & 0o777) for f in files})))
"""
)


def test_every_write_has_one_mode_that_follows_the_umask(tmp_path):
    for umask, mode in (("002", "0o664"), ("022", "0o644"), ("077", "0o600")):
        proc = subprocess.run(
            [sys.executable, "-c", MODES, str(tmp_path / umask), umask],
            capture_output=True,
            text=True,
            env=source_environment(),
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f'["{mode}"]'


CLAIM = textwrap.dedent(
    """
    import resource, signal, sys
    from hipercow_magic.core import store
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))
    try:
        store.create_exclusive(sys.argv[1], "x" * 5000)
    except OSError as e:
        print("failed:", e.strerror)
    """
)


def test_a_claim_that_fails_to_write_leaves_no_empty_claim(tmp_path):
    path = tmp_path / "status-running"
    proc = subprocess.run(
        [sys.executable, "-c", CLAIM, str(path)],
        capture_output=True,
        text=True,
        env=source_environment(),
        check=True,
    )
    assert proc.stdout.strip() == "failed: File too large", proc.stderr
    assert os.listdir(tmp_path) == []  # no empty status-running, no temporary file
    assert store.create_exclusive(str(path), "whole")
    assert store.read_text_or(str(path)) == "whole"


PERMISSION = textwrap.dedent(
    """
    import os, sys
    from hipercow_magic.core import store
    from hipercow_magic.core.errors import HipercowError
    os.setgid(65534)
    os.setuid(65534)  # now an ordinary user, who may not read or write the files
    for act in (lambda: store.read_json(sys.argv[1]),
                lambda: store.write_json(sys.argv[1], 1),
                lambda: store.write_json(sys.argv[2] + "/new.json", 1)):
        try:
            act()
            print("no error")
        except HipercowError as e:
            print(str(e).splitlines()[0])
    """
)


def test_permission_errors_name_the_file(tmp_path):
    if os.getuid() != 0:
        import pytest

        pytest.skip("needs root, to become another user")
    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "data.json"
    path.write_text("{}")
    path.chmod(0o600)
    folder.chmod(0o755)
    tmp_path.chmod(0o755)
    proc = subprocess.run(
        [sys.executable, "-c", PERMISSION, str(path), str(folder)],
        capture_output=True,
        text=True,
        env=source_environment(),
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"Permission denied reading '{path}'",
        f"Permission denied writing '{path}'",
        f"Permission denied writing '{folder}/new.json'",
    ]
