"""Task starts and ends, told at once to every process waiting on a root.

A waiter binds a unix datagram socket in the root's `hipercow/local/waiters/` (one folder
for every user of a shared root; the socket follows the umask, like the rest of the root).
Whoever writes a start claim or a terminal marker (the scheduler, or a user cancelling)
then sends the ids of those tasks, space-separated, to every socket there: one that nobody
listens on any more is removed, one it may not write (another user's) is skipped. A notice
is only a hint to look at the markers again, so a lost one costs a waiter its fallback
look, never a wrong state.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import secrets
import socket
import time

from hipercow_magic.drivers.local.paths import SUN_PATH_MAX

IDS_PER_NOTICE = 64  # task ids in one datagram (about 2 KB)
MANY = b"*"  # a notice naming no task: look at every task again
BATCH_GAP = 0.01  # seconds between notices while a batch of tasks is worked through


def waiters_dir(root) -> str:
    """The folder of waiters' sockets: one for the whole root, whichever user waits."""
    return os.path.join(root.hipercow, "local", "waiters")


def _address(folder: str, folder_fd: int, name: str) -> str:
    """`name` in `folder`, spelt through the folder's descriptor when the plain path is too
    long for a unix socket's address.
    """
    path = os.path.join(folder, name)
    if len(os.fsencode(path)) < SUN_PATH_MAX:
        return path
    return f"/proc/self/fd/{folder_fd}/{name}"


class Subscription:
    """One process's ear on a root: a bound socket in `waiters/`, removed on close().

    Args:
        root: the root to hear about.

    Raises:
        OSError: the folder can't be made or written, or the socket can't be bound.
    """

    def __init__(self, root):
        folder = waiters_dir(root)
        os.makedirs(folder, exist_ok=True)
        self._folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            for _ in range(8):
                name = secrets.token_hex(4)
                try:
                    self._sock.bind(_address(folder, self._folder_fd, name))
                    break
                except OSError as e:
                    if e.errno != errno.EADDRINUSE:
                        raise
            else:
                raise OSError(errno.EADDRINUSE, "no free name for a waiter's socket")
            self._name = name
            self._pid = os.getpid()  # a forked child must not remove its parent's socket
            self._sock.setblocking(False)
        except BaseException:
            self._sock.close()
            os.close(self._folder_fd)
            raise

    def fileno(self) -> int:
        """The socket's descriptor: readable once a notice has arrived."""
        return self._sock.fileno()

    def drain(self) -> set[str] | None:
        """Read every notice that has arrived: the ids they name (empty if none arrived),
        or None when one named no task in particular.
        """
        ids: set[str] | None = set()
        while True:
            try:
                data = self._sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return ids
            if ids is not None:
                words = data.split()
                if not words or MANY in words:
                    ids = None
                else:
                    ids.update(w.decode("ascii", "replace") for w in words)

    def close(self) -> None:
        """Stop listening and remove the socket's file."""
        if self._sock.fileno() < 0:
            return
        if self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.unlink(self._name, dir_fd=self._folder_fd)
        self._sock.close()
        os.close(self._folder_fd)

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()


def announce(root, ids) -> None:
    """Tell every waiter of the root that these tasks started or ended (never raises).

    A socket nobody listens on is removed; one this user may not write, or whose owner has
    fallen behind reading, is skipped.
    """
    ids = list(ids)
    if not ids:
        return
    folder = waiters_dir(root)
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # nobody has waited on this root
    try:
        names = [n for n in os.listdir(folder_fd) if not n.startswith(".")]
        if not names:
            return
        notices = [
            " ".join(ids[k : k + IDS_PER_NOTICE]).encode("ascii")
            for k in range(0, len(ids), IDS_PER_NOTICE)
        ]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            for name in names:
                _send(sock, folder_fd, _address(folder, folder_fd, name), name, notices)
    except OSError:
        pass
    finally:
        os.close(folder_fd)


def _send(sock: socket.socket, folder_fd: int, address: str, name: str, notices) -> None:
    """Send the notices to one waiter; remove its socket if nobody listens there."""
    for notice in notices:
        try:
            sock.sendto(notice, socket.MSG_DONTWAIT, address)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=folder_fd)
            return
        except OSError:
            return  # another user's socket, a full queue, not a socket: its fallback looks


class Announcer:
    """The scheduler's notices: tasks collected as they start or end, sent together.

    Sent at once while nothing waits to be placed (a task or the last of a batch: its
    waiter hears of it without delay). While tasks still wait (a batch being worked
    through), notices go out at most every BATCH_GAP seconds, each naming every task since
    the last: waiters wake a few hundred times for a thousand tasks, not twice for each.

    Args:
        root: the scheduler's root.
    """

    def __init__(self, root):
        self.root = root
        self.ids: list[str] = []
        self.sent = 0.0  # time.monotonic() of the last notice

    def add(self, task_id: str) -> None:
        """Note that a task started or ended (sent by the next flush)."""
        self.ids.append(task_id)

    def flush(self, busy: bool = False) -> None:
        """Send what was noted since the last notice to every waiter; while `busy` (tasks
        still wait to be placed), only once BATCH_GAP has passed since that notice.
        """
        if not self.ids or (busy and self.due() > 0):
            return
        ids, self.ids = self.ids, []
        self.sent = time.monotonic()
        announce(self.root, ids)

    def due(self) -> float:
        """Seconds until held notices may go out (0 when they may now; inf with none held)."""
        if not self.ids:
            return math.inf
        return max(self.sent + BATCH_GAP - time.monotonic(), 0.0)
