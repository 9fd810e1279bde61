"""The remote side of a remote root: one request on stdin, one reply on stdout, then exit.

Run over SSH as `python -m hipercow_magic.drivers.remote_agent REMOTE_ROOT` by the laptop's
`RemoteDriver`: it writes the files a request carries into the remote root, asks the driver
configured there (Slurm, or the local driver of a lab workstation) to act on many tasks at
once, and answers in one reply. Nothing of it keeps running once it has replied.

The root's keys (signing, secrets) are the laptop user's, installed at configure in
`hipercow/remote/` of the remote root, so what nodes write verifies on the laptop.
"""

from __future__ import annotations

import contextlib
import os
import sys

from hipercow_magic.drivers.remote import wire
from hipercow_magic.drivers.remote.records import record_digests

EAGER_RESULT = 1_000_000  # results up to this size come back with the status that finds them
CHUNKS_USED = "remote-chunks"  # in a task's folder: the chunks its files were made of
NOT_MIRRORED = ("data.json", "locals.pkl", "log", "result.pkl", CHUNKS_USED)
TASKS = "hipercow/tasks/"  # where the tasks' own files go, relative to the root


def keys_folder(root_path: str) -> str:
    """Where a remote root keeps the laptop user's keys."""
    return os.path.join(root_path, "hipercow", "remote")


def chunk_path(root_path: str, name: str) -> str:
    """Where a remote root keeps the chunk named `name` (its SHA-256)."""
    return os.path.join(chunks_folder(root_path), name[:2], name[2:])


def chunks_folder(root_path: str) -> str:
    """Where a remote root keeps the chunks sent to it."""
    return os.path.join(root_path, "hipercow", "remote", "chunks")


class Agent:
    """Answers one request against the remote root at `root_path`."""

    def __init__(self, root_path: str):
        from hipercow_magic.core.root import Root

        self.root_path = os.path.realpath(os.path.expanduser(root_path))
        self.root = Root(self.root_path)
        keys = keys_folder(self.root_path)
        os.environ["HIPERCOW_KEY_FILE"] = os.path.join(keys, "secret.key")
        os.environ["HIPERCOW_SIGNING_KEY_FILE"] = os.path.join(keys, "signing.key")

    # ---- files ----------------------------------------------------------------------------
    def missing_chunks(self, files: list[dict]) -> list[str]:
        """Chunks the files refer to that this side does not keep."""
        names = {p[1] for f in files for p in f["parts"] if p[0] == "chunk"}
        return sorted(n for n in names if not os.path.exists(chunk_path(self.root_path, n)))

    def write_files(self, files: list[dict], blobs: list) -> None:
        """Write each file from its parts (the root's own files atomically: tasks may be
        reading them; a task's files at once: nothing reads them before the task is marked
        submitted, and a submission sent again writes them again); keep the chunks sent.
        """
        from hipercow_magic.core import store

        used: dict[str, set[str]] = {}  # task folder -> the chunks its files were made of
        for entry in files:
            pieces, names = [], set()
            for part in entry["parts"]:
                if part[0] == "chunk":
                    with open(chunk_path(self.root_path, part[1]), "rb") as f:
                        pieces.append(f.read())
                    names.add(part[1])
                    continue
                data = bytes(blobs[part[1]])
                if len(part) > 2:  # a chunk sent now: kept for the next time
                    path = chunk_path(self.root_path, part[2])
                    if not os.path.exists(path):
                        os.makedirs(os.path.dirname(path), exist_ok=True)
                        store.write_bytes(path, data)
                    names.add(part[2])
                pieces.append(data)
            target = os.path.join(self.root_path, entry["path"])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if entry["path"].startswith(TASKS):  # read by nothing before it is submitted
                with open(target, "wb") as f:
                    f.write(b"".join(pieces))
                used.setdefault(os.path.dirname(target), set()).update(names)
            else:  # the root's own files: tasks may be reading them now
                store.write_bytes(target, b"".join(pieces), mtime=entry.get("mtime"))
        for folder, names in used.items():
            if names:
                with open(os.path.join(folder, CHUNKS_USED), "w") as f:
                    f.write("\n".join(sorted(names)) + "\n")

    def prune_chunks(self) -> list[str]:
        """Remove the chunks no task here was made from (the root's own files, and tasks
        purged since, keep none): they were kept only to be named instead of sent again.
        Returns their names.
        """
        import glob

        used = set()
        for path in glob.glob(os.path.join(self.root_path, TASKS, "*", "*", CHUNKS_USED)):
            try:
                with open(path) as f:
                    used.update(f.read().split())
            except FileNotFoundError:
                continue
        dropped = []
        for path in glob.glob(os.path.join(chunks_folder(self.root_path), "*", "*")):
            name = os.path.basename(os.path.dirname(path)) + os.path.basename(path)
            if name not in used:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
                dropped.append(name)
        return sorted(dropped)

    def task_files(self, task_id: str, status: str) -> tuple[list[dict], list[bytes]]:
        """The small files of a task that started or ended, to mirror on the laptop: its
        markers and records, with the status's own marker last (a marker is written after
        what it vouches for); a result up to EAGER_RESULT bytes too.
        """
        folder = self.root.task_dir(task_id)
        try:
            names = [n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n))]
        except FileNotFoundError:
            return [], []
        last = f"status-{status}"
        wanted = [n for n in names if n not in NOT_MIRRORED and n != last and n[0] != "."]
        result = os.path.join(folder, "result.pkl")
        if "result.pkl" in names and os.path.getsize(result) <= EAGER_RESULT:
            wanted.insert(0, "result.pkl")
        wanted.sort(key=lambda n: n.startswith("status-"))
        if last in names:
            wanted.append(last)
        files, blobs = [], []
        for name in wanted:
            try:
                with open(os.path.join(folder, name), "rb") as f:
                    blobs.append(f.read())
            except FileNotFoundError:
                continue
            files.append({"task": task_id, "name": name, "blob": len(blobs) - 1})
        return files, blobs

    # ---- operations -----------------------------------------------------------------------
    def driver(self, name: str, config: dict | None):
        """The driver `name` as configured on this side; `config` (the laptop's record of
        it) is saved first where this machine has none or another (login nodes differ).
        """
        from hipercow_magic.core import store
        from hipercow_magic.drivers.registry import load_driver

        if config is not None and self.root.driver_config(name) != config:
            path = self.root.config_path(name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            store.write_json(path, config)
        return load_driver(self.root, name)

    def op_hello(self, header: dict, blobs: list) -> tuple[dict, list]:
        """Versions and whether the remote root can be written."""
        import platform

        from hipercow_magic._version import __version__

        try:
            import cloudpickle

            cloudpickle_version = cloudpickle.__version__
        except ImportError:
            cloudpickle_version = None
        path = self.root_path
        problem = None
        if os.path.exists(path) and not os.path.isdir(path):
            problem = f"'{path}' is a file, not a folder"
        else:
            parent = path if os.path.isdir(path) else os.path.dirname(path)
            while not os.path.exists(parent):
                parent = os.path.dirname(parent)
            if not os.access(parent, os.W_OK | os.X_OK):
                problem = f"'{parent}' can't be written by {_user()}"
        return {
            "python": platform.python_version(),
            "executable": sys.executable,
            "hipercow_magic": __version__,
            "cloudpickle": cloudpickle_version,
            "root": path,
            "problem": problem,
            "hostname": platform.node(),
        }, []

    def op_configure(self, header: dict, blobs: list) -> tuple[dict, list]:
        """Make the remote root, install the user's keys, configure the driver here; its
        configuration and the cluster it sees.
        """
        from hipercow_magic.core.root import init_root
        from hipercow_magic.drivers.registry import configure_driver

        init_root(self.root_path)
        keys = keys_folder(self.root_path)
        os.makedirs(keys, mode=0o700, exist_ok=True)
        for name, index in header["keys"].items():
            path = os.path.join(keys, name)
            tmp = f"{path}.{os.getpid()}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(bytes(blobs[index]))
            os.replace(tmp, path)
        message = configure_driver(self.root, header["driver"], **header["options"])
        config = self.root.driver_config(header["driver"])
        cluster = self.driver(header["driver"], None).cluster_info().to_dict()
        return {"message": message, "config": config, "cluster": cluster}, []

    def op_cluster_info(self, header: dict, blobs: list) -> tuple[dict, list]:
        """The cluster the driver sees."""
        driver = self.driver(header["driver"], header.get("config"))
        return {"cluster": driver.cluster_info().to_dict()}, []

    def op_submit(self, header: dict, blobs: list) -> tuple[dict, list]:
        """Write the tasks' files, then submit those not submitted yet (a request sent again
        after a cut connection submits nothing twice) and mark them submitted.
        """
        from hipercow_magic.core import store
        from hipercow_magic.core.resources import Resources

        missing = self.missing_chunks(header["files"])
        if missing:
            return {"missing": missing}, []
        try:
            self.write_files(header["files"], blobs)
        except FileNotFoundError:  # a purge here removed a chunk a moment ago
            if missing := self.missing_chunks(header["files"]):
                return {"missing": missing}, []
            raise
        driver = self.driver(header["driver"], header.get("config"))
        ids = [
            i
            for i in header["ids"]
            if not os.path.exists(self.root.task_file(i, "status-submitted"))
        ]
        if ids:
            resources = Resources.from_dict(header["resources"])
            if header.get("after"):
                driver.submit(ids, resources, after=header["after"])
            else:
                driver.submit(ids, resources)
            store.write_markers(self.root, ids, "status-submitted", header["marker"])
        return {"submitted": ids}, []

    def op_status(self, header: dict, blobs: list) -> tuple[dict, list]:
        """Every task's status (markers first, then ONE driver call for the active ones),
        with the files of those that changed from what the laptop knows (`known`), and what
        the driver says of the queued ones.
        """
        from hipercow_magic.core.status import ACTIVE
        from hipercow_magic.core.task import marker_status

        ids, known = header["ids"], header.get("known") or {}
        out = [marker_status(self.root, i) for i in ids]
        active = [k for k, s in enumerate(out) if s in ACTIVE]
        details: dict = {}
        if active:
            driver = self.driver(header["driver"], header.get("config"))
            for k, status in zip(active, driver.status([ids[k] for k in active])):
                out[k] = status
            still = [ids[k] for k in active if out[k] in ACTIVE]
            details = driver.queue_details(still) if still else {}
        files, sent = [], []
        records = []
        for path, digest in record_digests(self.root_path).items():
            if (header.get("records") or {}).get(path) != digest:
                with open(os.path.join(self.root_path, path), "rb") as f:
                    sent.append(f.read())
                records.append({"path": path, "blob": len(sent) - 1})
        for task_id, status in zip(ids, out):
            if status in (None, "created", "submitted") or known.get(task_id) == status:
                continue
            found, data = self.task_files(task_id, status)
            for f in found:
                f["blob"] += len(sent)
            files += found
            sent += data
        return {"statuses": out, "files": files, "records": records, "details": details}, sent

    def op_fetch(self, header: dict, blobs: list) -> tuple[dict, list]:
        """Files of tasks (from `offset` for a growing log): None for those absent."""
        sizes, sent = [], []
        for task_id, name, offset in header["files"]:
            try:
                with open(self.root.task_file(task_id, name), "rb") as f:
                    f.seek(offset)
                    sent.append(f.read())
                sizes.append(len(sent) - 1)
            except FileNotFoundError:
                sizes.append(None)
        return {"found": sizes}, sent

    def op_cancel(self, header: dict, blobs: list) -> tuple[dict, list]:
        """Cancel tasks; whether each was."""
        driver = self.driver(header["driver"], header.get("config"))
        return {"cancelled": driver.cancel(header["ids"])}, []

    def op_info(self, header: dict, blobs: list) -> tuple[dict, list]:
        """The scheduler's view of one task."""
        driver = self.driver(header["driver"], header.get("config"))
        return {"info": driver.info(header["id"])}, []

    def op_outer_log(self, header: dict, blobs: list) -> tuple[dict, list]:
        """The scheduler's own log of a task."""
        driver = self.driver(header["driver"], header.get("config"))
        return {"log": driver.log(header["id"], outer=True)}, []

    def op_usage(self, header: dict, blobs: list) -> tuple[dict, list]:
        """What tasks used, by id."""
        driver = self.driver(header["driver"], header.get("config"))
        return {"usage": {i: u.to_dict() for i, u in driver.usage(header["ids"]).items()}}, []

    def op_purge(self, header: dict, blobs: list) -> tuple[dict, list]:
        """Delete tasks' folders, and the chunks no remaining task was made from."""
        import shutil

        for task_id in header["ids"]:
            shutil.rmtree(self.root.task_dir(task_id), ignore_errors=True)
        return {"purged": len(header["ids"]), "chunks_dropped": self.prune_chunks()}, []

    def answer(self, header: dict, blobs: list) -> tuple[dict, list]:
        """The reply to one request: its operation's, or {"error": ...} saying what failed."""
        from hipercow_magic.core.errors import HipercowError

        handler = getattr(self, "op_" + str(header.get("op")), None)
        if handler is None:
            return {"error": f"unknown operation {header.get('op')!r}"}, []
        try:
            return handler(header, blobs)
        except HipercowError as e:
            return {"error": str(e)}, []
        except OSError as e:
            return {"error": f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")}, []


def _user() -> str:
    import getpass

    return getpass.getuser()


def main(argv: list[str]) -> int:
    """Answer the request on stdin about the remote root `argv[0]`."""
    data = sys.stdin.buffer.read()
    header, blobs = wire.decode(data)
    agent = Agent(argv[0])
    reply, sent = agent.answer(header, blobs)
    sys.stdout.buffer.write(wire.encode(reply, sent))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
