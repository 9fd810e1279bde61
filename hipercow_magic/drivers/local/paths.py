"""Where the local driver keeps its queue, running tasks, lock and wake-up address.

Each user has a scheduler of their own and runs only their own tasks: the root's owner keeps
these files in `hipercow/local/`; another member of a group sharing the root keeps theirs in
`hipercow/local/users/<uid>/`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

_owners: dict[str, int] = {}  # a root's hipercow/ folder -> its owner's uid
SUN_PATH_MAX = 108  # bytes in a unix socket's address, with its final NUL


def local_dir(root) -> str:
    """This user's local driver folder in the root (see the module's docstring)."""
    base = os.path.join(root.hipercow, "local")
    uid = os.geteuid()
    owner = _owner(root.hipercow)
    return base if owner in (None, uid) else os.path.join(base, "users", str(uid))


def _owner(folder: str) -> int | None:
    """The uid owning a root's `hipercow/` folder, asked once per folder (every path of the
    driver goes through `local_dir`, on each status query); None while it does not exist.
    """
    owner = _owners.get(folder)
    if owner is None:
        try:
            owner = _owners[folder] = os.stat(folder).st_uid
        except FileNotFoundError:
            return None
    return owner


def queue_dir(root) -> str:
    """The queue: one file per submission, removed when its tasks are done."""
    return os.path.join(local_dir(root), "queue")


def batch_file(root, stamp: str) -> str:
    """One submission: the resources its tasks share and their ids."""
    return os.path.join(local_dir(root), "queue", stamp + ".json")


def batch_stamp(name: str) -> str | None:
    """The stamp of a queue file's name, or None for anything else (temporary files)."""
    return name[:-5] if name.endswith(".json") and not name.startswith(".") else None


def scheduler_lock(root) -> str:
    """The file whose lock the running scheduler holds (one scheduler per root)."""
    return os.path.join(local_dir(root), "scheduler.lock")


def scheduler_info(root) -> str:
    """The running scheduler's pid and start time."""
    return os.path.join(local_dir(root), "scheduler.json")


def scheduler_log(root) -> str:
    """What the scheduler prints (its own errors)."""
    return os.path.join(local_dir(root), "scheduler.log")


def state_file(root) -> str:
    """The queue as the scheduler last published it (positions, reasons, running tasks)."""
    return os.path.join(local_dir(root), "state.json")


def wake_address(root) -> str | None:
    """The scheduler's wake-up socket: a file in the root's own local folder (only those who
    can write the root can take it); None when its path is too long for a unix socket.
    """
    path = os.path.join(local_dir(root), "wake.sock")
    return path if len(os.fsencode(path)) < SUN_PATH_MAX else None


def start_failures(root) -> str:
    """How many schedulers in a row could not start (or stopped on an error), and why."""
    return os.path.join(local_dir(root), "start-failures.json")


def make_dirs(root) -> None:
    """Create the local driver's folders in the root."""
    os.makedirs(queue_dir(root), exist_ok=True)


@contextlib.contextmanager
def queue_lock(root):
    """Serialises starting queued tasks with cancelling them."""
    fd = os.open(os.path.join(local_dir(root), "queue.lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
