"""Which hipercow roots the Jupyter server serves, and checking the paths a client sends.

A root is named by its path relative to the server's root folder, with "/" separators and
"." for the root folder itself: the same paths the file browser shows. Nothing outside the
served folders can be named: no absolute paths, no "..", no symlink leading out of them.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import threading
import time

from hipercow_magic.core.root import Root, find_root

SKIPPED_DIRS = {"node_modules", "__pycache__", "site-packages", "hipercow"}
MAX_DIRS = 5000  # folders one search for roots looks in at most
MAX_SECONDS = 5.0  # ... and for at most this long
CACHE_SECONDS = 10.0  # a search's answer is shared this long


@dataclasses.dataclass
class Discovery:
    """What a search for roots found: their keys, folders looked in, and why it stopped
    early (None when it looked everywhere it should).
    """

    roots: list[str]
    folders: int
    message: str | None = None


class PathRejected(Exception):
    """A client path names something outside the served folders, or is malformed."""


class RootNotFound(Exception):
    """A client path is allowed but holds no hipercow root."""


def _inside(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


class ServedRoots:
    """The folders whose hipercow roots are served, below the server's root folder."""

    def __init__(self, server_root: str, folders: list[str] | None = None, depth: int = 3):
        self.depth = depth
        self.server_root = os.path.realpath(server_root)
        bases = [os.path.realpath(os.path.join(self.server_root, f)) for f in folders or []]
        outside = [b for b in bases if not _inside(b, self.server_root)]
        if outside:
            raise ValueError(
                "hipercow: served folders must lie inside the server's root folder "
                f"'{self.server_root}': {', '.join(outside)}"
            )
        self.bases = bases or [self.server_root]
        self._search_lock = threading.Lock()
        self._last_search: tuple[float, Discovery] | None = None

    def allowed(self, real_path: str) -> bool:
        """Whether a real (link-free) path lies inside a served folder."""
        return any(_inside(real_path, b) for b in self.bases)

    def split(self, path: str | None) -> list[str]:
        """The parts of a client path, after rejecting anything that could escape."""
        if path is None:
            raise PathRejected(
                "Missing root: pass ?root=PATH (a folder relative to the server's root)"
            )
        if "\x00" in path or "\\" in path:
            raise PathRejected(f"Invalid path '{path}'")
        if path.startswith("/") or os.path.isabs(path) or (len(path) > 1 and path[1] == ":"):
            raise PathRejected(f"Absolute paths are not served: '{path}'")
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise PathRejected(f"Paths with '..' are not served: '{path}'")
        return parts

    def key(self, parts: list[str]) -> str:
        """The name clients use for a path: its parts joined by '/', or '.' for the top."""
        return "/".join(parts) or "."

    def real(self, parts: list[str]) -> str:
        """The real location of a client path, which must be inside a served folder."""
        real = os.path.realpath(os.path.join(self.server_root, *parts))
        if not self.allowed(real):
            raise PathRejected(f"'{self.key(parts)}' is outside the folders this server serves")
        return real

    def _is_root(self, real: str) -> bool:
        marker = os.path.join(real, "hipercow")
        return os.path.isdir(marker) and self.allowed(os.path.realpath(marker))

    def resolve(self, path: str | None) -> tuple[str, Root]:
        """The key and `Root` for a client path naming a root folder."""
        parts = self.split(path)
        real = self.real(parts)
        if not self._is_root(real):
            raise RootNotFound(f"No hipercow root at '{self.key(parts)}'")
        return self.key(parts), find_root(real)

    def locate(self, path: str | None) -> str | None:
        """The key of the root holding a client path (searching upward), or None."""
        parts = self.split(path or ".")
        while True:
            try:
                real = self.real(parts)
            except PathRejected:
                real = None
            if real is not None and os.path.isdir(real) and self._is_root(real):
                return self.key(parts)
            if not parts:
                return None
            parts = parts[:-1]

    def discover(self, max_dirs: int = MAX_DIRS, max_seconds: float = MAX_SECONDS) -> list[str]:
        """Keys of roots in the served folders, `depth` levels down, skipping hidden folders
        and never following links (see `search` for a search that says when it stopped).
        """
        return self.search(max_dirs, max_seconds).roots

    def search(self, max_dirs: int = MAX_DIRS, max_seconds: float = MAX_SECONDS) -> Discovery:
        """Look for roots as `discover` does, at most `max_dirs` folders and `max_seconds`;
        a search that stops early says so in its `message`.
        """
        found: list[str] = []
        seen = 0
        queue = collections.deque(self._parts_of(b) for b in self.bases)
        deadline = time.monotonic() + max_seconds
        message = None
        while queue:
            if seen >= max_dirs or time.monotonic() > deadline:
                message = (
                    f"Stopped looking for hipercow roots after {seen:,} folders"
                    + (f" ({max_seconds:g} s)" if seen < max_dirs else "")
                    + f"; {len(queue):,} not looked in. Open a folder inside a root to use it, "
                    "or serve fewer folders (c.HipercowServer.roots, discovery_depth)."
                )
                break
            parts = queue.popleft()
            seen += 1
            real = os.path.join(self.server_root, *parts)
            if self._is_root(real):
                found.append(self.key(parts))
            if len(parts) - self._depth_of_base(parts) >= self.depth:
                continue
            try:
                entries = sorted(os.scandir(real), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if (
                    entry.name.startswith(".")
                    or entry.name in SKIPPED_DIRS
                    or not entry.is_dir(follow_symlinks=False)
                ):
                    continue
                queue.append(parts + [entry.name])
        return Discovery(found, seen, message)

    def search_cached(self, ttl: float = CACHE_SECONDS) -> Discovery:
        """`search`, shared: callers within `ttl` seconds of the last search get its answer,
        and callers arriving while one runs wait for it instead of searching again.
        """
        with self._search_lock:
            cached = self._last_search
            if cached is not None and time.monotonic() - cached[0] < ttl:
                return cached[1]
            result = self.search()
            self._last_search = (time.monotonic(), result)
            return result

    def check_task_files(self, root, task_id: str) -> None:
        """Refuse a task whose folder, or a file in it, is a link leading out of its root."""
        inside = os.path.realpath(root.path)
        folder = root.task_dir(task_id)
        paths = [folder]
        with contextlib.suppress(OSError):
            paths += [entry.path for entry in os.scandir(folder) if entry.is_symlink()]
        for path in paths:
            if not _inside(os.path.realpath(path), inside):
                raise PathRejected(
                    f"Task '{task_id}' is not served: '{os.path.relpath(path, root.path)}' "
                    "is a link leading out of its root"
                )

    def _parts_of(self, base: str) -> list[str]:
        rel = os.path.relpath(base, self.server_root)
        return [] if rel == "." else rel.split(os.sep)

    def _depth_of_base(self, parts: list[str]) -> int:
        real = os.path.join(self.server_root, *parts)
        return max(len(self._parts_of(b)) for b in self.bases if _inside(real, b))
