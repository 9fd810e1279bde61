"""What goes up with a submission and what comes down with a reply, for a remote root.

Up: each task's own files (data.json, locals.pkl with its large buffers as chunks), the
root's own files that changed since they were last sent (the modules tasks import, data
files beside them) and the root's records (environments, provisioning requests). Chunks the
remote side is known to keep are named, not sent (the record of them is `sent-chunks` in this
side's `hipercow/remote/<driver>/`).
Down: the small files of tasks that started or ended, written here in the order that keeps
a marker after what it vouches for, and the records tasks changed there (an installation's
record and the environment's current installation).
"""

from __future__ import annotations

import functools
import hashlib
import os

from hipercow_magic.core import store
from hipercow_magic.core.capture import buffer_spans
from hipercow_magic.core.format import format_bytes
from hipercow_magic.core.signing import MAGIC
from hipercow_magic.drivers.remote.records import record_digests
from hipercow_magic.drivers.remote.wire import Outgoing

SIGNED_HEAD = len(MAGIC) + 32  # the signature before a signed file's payload
ROOT_FILE_LIMIT = 10_000_000  # the root's own files larger than this are not sent
SKIPPED_FOLDERS = {"hipercow", "__pycache__", "node_modules"}


class SentRecord:
    """What this side knows the remote side keeps: chunks (by digest), the root's own files
    (by path: size, modification time and digest when sent) and its records (by path:
    digest). Each is read from disk when first used: a status poll reads only the records.
    """

    def __init__(self, folder: str):
        self.folder = folder
        self.chunks_path = os.path.join(folder, "sent-chunks")
        self.files_path = os.path.join(folder, "sent-files.json")
        self.records_path = os.path.join(folder, "sent-records.json")

    @functools.cached_property
    def chunks(self) -> set[str]:
        """The chunks the remote side keeps."""
        try:
            with open(self.chunks_path) as f:
                return set(f.read().split())
        except FileNotFoundError:
            return set()

    @functools.cached_property
    def files(self) -> dict:
        """The root's own files as last sent."""
        return store.read_json_or(self.files_path, {}) or {}

    @functools.cached_property
    def records(self) -> dict:
        """The root's records as last alike on both sides."""
        return store.read_json_or(self.records_path, {}) or {}

    def forget(self, chunks: list[str]) -> None:
        """The remote side no longer keeps these chunks."""
        self.chunks.difference_update(chunks)
        self._save_chunks()

    def sent(self, outgoing: Outgoing, files: dict, records: dict) -> None:
        """A request carrying `outgoing` was answered: its chunks, the root's `files` and
        `records` (path: digest) are there.
        """
        if outgoing.sent - self.chunks:
            self.chunks |= outgoing.sent
            self._save_chunks()
        if files:
            os.makedirs(self.folder, exist_ok=True)
            self.files.update(files)
            store.write_json(self.files_path, self.files)
        self.same_records(records)

    def same_records(self, records: dict) -> None:
        """These records (path: digest) are alike on both sides now."""
        if records and any(self.records.get(k) != v for k, v in records.items()):
            os.makedirs(self.folder, exist_ok=True)
            self.records.update(records)
            store.write_json(self.records_path, self.records)

    def _save_chunks(self) -> None:
        os.makedirs(self.folder, exist_ok=True)
        store.write_text(self.chunks_path, "\n".join(sorted(self.chunks)) + "\n")


def add_tasks(root, ids: list[str], outgoing: Outgoing) -> None:
    """Put the files each task was created with into `outgoing` (paths relative to the
    root); a signed locals.pkl travels with each large buffer as its own chunk.
    """
    for task_id in ids:
        folder = root.task_dir(task_id)
        relative = os.path.relpath(folder, root.path)
        for name in sorted(os.listdir(folder)):
            if name.startswith(("status-", ".")) or name in ("log", "result.pkl"):
                continue
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                continue
            data = store.read_bytes(path)
            spans = buffer_spans(data[SIGNED_HEAD:], SIGNED_HEAD) if name == "locals.pkl" else []
            outgoing.add(f"{relative}/{name}", data, spans)


def add_root_files(root, record: SentRecord, outgoing: Outgoing) -> tuple[dict, list[str]]:
    """Put the root's own files that changed since last sent into `outgoing`: everything
    under the root but `hipercow/`, hidden and cache folders and virtual environments, up to
    ROOT_FILE_LIMIT bytes a file. Returns what to record once they arrive, and the larger
    files not sent (each named once a version: they are recorded as not sent).
    """
    changed, too_large = {}, []
    for folder, dirs, files in os.walk(root.path):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in SKIPPED_FOLDERS
            and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg"))
        )
        for name in files:
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            relative = os.path.relpath(path, root.path)
            stamp = [st.st_size, st.st_mtime_ns]
            if (record.files.get(relative) or [])[:2] == stamp:
                continue
            if st.st_size > ROOT_FILE_LIMIT:
                too_large.append(f"{relative} ({format_bytes(st.st_size)})")
                changed[relative] = [*stamp, "not sent"]
                continue
            try:
                data = store.read_bytes(path)
            except OSError:
                continue
            outgoing.add(relative, data, mtime=st.st_mtime)
            changed[relative] = stamp
    return changed, too_large


def add_records(root, record: SentRecord, outgoing: Outgoing) -> dict:
    """Put the root's records that changed here since they were last alike into `outgoing`;
    their digests, to record once they arrive.
    """
    changed = {}
    for relative, digest in record_digests(root.path).items():
        if record.records.get(relative) != digest:
            outgoing.add(relative, store.read_bytes(os.path.join(root.path, relative)))
            changed[relative] = digest
    return changed


def mirror_records(root, record: SentRecord, files: list[dict], blobs: list) -> None:
    """Write the records a reply carries (each {"path", "blob"}); they are alike now."""
    digests = {}
    for entry in files:
        data = bytes(blobs[entry["blob"]])
        path = os.path.join(root.path, entry["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        store.write_bytes(path, data)
        digests[entry["path"]] = hashlib.sha256(data).hexdigest()
    record.same_records(digests)


def mirror(root, files: list[dict], blobs: list) -> None:
    """Write the task files a reply carries (each {"task", "name", "blob"}), in order."""
    made = set()
    for entry in files:
        folder = root.task_dir(entry["task"])
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        store.write_bytes(os.path.join(folder, entry["name"]), bytes(blobs[entry["blob"]]))


def write_fetched(path: str, data: bytes, append: bool) -> None:
    """Keep a fetched file here: whole (atomically), or its new bytes appended (a log)."""
    if append:
        with open(path, "ab") as f:
            f.write(data)
    else:
        store.write_bytes(path, data)
