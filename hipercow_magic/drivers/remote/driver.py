"""A driver behind SSH: the laptop's side of a remote root.

Every call for many tasks is ONE remote command over the root's master connection: the
agent (drivers/remote_agent.py) runs there, the configured driver (Slurm, or a workstation's
local driver) does its one batched query, and the reply carries every answer, with the small
files of tasks that started or ended. Results larger than the agent sends at once, and logs,
are brought here when first read (core/remote_files.py) and kept.

While the cluster can't be reached, status lookups warn once and give the last known states;
nothing is marked failed for it, and the next lookup that gets through carries on.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
import warnings

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError, HipercowWarning
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status
from hipercow_magic.core.usage import Usage
from hipercow_magic.drivers.base import ClusterInfo, Driver, NodeInfo, QueueInfo
from hipercow_magic.drivers.remote import transfer, wire
from hipercow_magic.drivers.remote.ssh import RemoteUnreachable, SshConnection

CLUSTER_INFO_AGE = 300.0  # seconds a description of the remote cluster is kept


def shell_path(path: str) -> str:
    """`path` quoted for the remote shell, a leading `~/` left for it to expand."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def connection(root, name: str, remote: dict) -> SshConnection:
    """The master connection of driver `name` of this root (one per root and driver)."""
    return SshConnection(remote["ssh"], f"{root.path}\0{name}", remote.get("ssh_config"))


def call(conn: SshConnection, remote: dict, header: dict, blobs=(), python=None):
    """Send one request to the agent of the remote root `remote`; its reply and blobs.

    Raises:
        RemoteUnreachable: the cluster can't be reached.
        HipercowError: the agent could not run, or the operation failed there.
    """
    python = python or remote.get("remote_python") or "python3"
    command = f"{python} -m hipercow_magic.drivers.remote_agent {shell_path(remote['remote_root'])}"
    out = conn.run(command, wire.encode(header, list(blobs)))
    try:
        reply, got = wire.decode(out)
    except wire.WireError as e:
        raise HipercowError(f"The reply from {remote['ssh']} could not be read: {e}") from None
    if "error" in reply:
        raise HipercowError(f"On {remote['ssh']}: {reply['error']}")
    return reply, got


def remote_folder(root, name: str) -> str:
    """Where this side keeps what it knows of driver `name`'s remote side: the chunks and
    files sent there, the cluster it last described.
    """
    return os.path.join(root.hipercow, "remote", name)


def save_cluster(folder: str, cluster: dict) -> None:
    """Keep the description of the remote cluster (`ClusterInfo.to_dict()`), for creating
    tasks while the cluster can't be reached.
    """
    path = os.path.join(folder, "cluster.json")
    if store.read_json_or(path) != cluster:
        os.makedirs(folder, exist_ok=True)
        store.write_json(path, cluster)


def cluster_from_dict(d: dict) -> ClusterInfo:
    """A ClusterInfo from its `to_dict()` form."""
    return ClusterInfo(
        driver=d["driver"],
        name=d["name"],
        nodes=[NodeInfo(**n) for n in d["nodes"]],
        queues=[QueueInfo(**q) for q in d["queues"]],
        default_queue=d["default_queue"],
        python_version=d.get("python_version"),
        extra=d.get("extra") or {},
    )


def _not_sent(remote: dict, names: list[str]) -> str:
    """What to say of the root's files too large to send with a submission."""
    limit = transfer.ROOT_FILE_LIMIT // 1_000_000
    return (
        f"Not sent to {remote['ssh']} (files over {limit} MB are not sent with tasks): "
        f"{', '.join(names)}\nTasks that read them need a copy at the same place under "
        f"{remote['remote_root']} (e.g. with rsync or scp), or should read them from the "
        "cluster's own storage."
    )


class RemoteDriver(Driver):
    """Driver `name` (configured on the remote side as `config["inner"]`) reached over SSH
    at `config["remote"]`; `inner_class` is that driver's class (its default environment
    variables are every task's here too).
    """

    def __init__(self, root, config: dict, name: str, inner_class=None):
        super().__init__(root, config)
        self.name = name
        self.default_envvars = getattr(inner_class, "default_envvars", None)
        self.remote = config["remote"]
        self.inner = config["inner"]
        self.connection = connection(root, name, self.remote)
        self.folder = remote_folder(root, name)
        self._cluster: tuple[float, ClusterInfo] | None = None
        self._details: dict[str, dict] = {}
        self._down: str | None = None  # what was said when the cluster became unreachable
        self._lock = threading.Lock()
        self._complete_logs: set[str] = set()

    @classmethod
    def configure(cls, root, **options) -> dict:
        """Configured by `drivers.remote.setup.configure_remote` (through the registry)."""
        raise HipercowError("A remote root is configured with ssh= and remote_root=")

    def call(self, op: str, header: dict | None = None, blobs=()):
        """One request to the agent about this driver's tasks (see `call`)."""
        request = {"op": op, "driver": self.name, "config": self.inner, **(header or {})}
        return call(self.connection, self.remote, request, blobs)

    # ---- the protocol -------------------------------------------------------------------
    def cluster_info(self) -> ClusterInfo:
        """The remote cluster, as its driver sees it (kept for CLUSTER_INFO_AGE seconds).
        While the cluster can't be reached: the description it last gave (kept on disk), so
        tasks can still be created, to be submitted once it answers.
        """
        cached = self._cluster
        if cached is not None and time.monotonic() - cached[0] < CLUSTER_INFO_AGE:
            return cached[1]
        try:
            reply, _ = self.call("cluster_info")
        except RemoteUnreachable:
            last = store.read_json_or(os.path.join(self.folder, "cluster.json"))
            if last is None:
                raise
            return cluster_from_dict(last)
        info = cluster_from_dict(reply["cluster"])
        save_cluster(self.folder, reply["cluster"])
        self._cluster = (time.monotonic(), info)
        return info

    def submit(self, ids: list[str], resources, after=()) -> None:
        """Send the tasks' files (and the root's changed files) and submit them there, in one
        remote command. Sent again as a whole when the remote side lost chunks it had.
        """
        record = transfer.SentRecord(self.folder)
        marker = {"driver": self.name, "time": time.time(), "resources": resources.to_dict()}
        if after:
            marker["after"] = list(after)
        for _ in range(2):
            outgoing = wire.Outgoing(record.chunks)
            transfer.add_tasks(self.root, ids, outgoing)
            changed, too_large = transfer.add_root_files(self.root, record, outgoing)
            records = transfer.add_records(self.root, record, outgoing)
            header = {
                "files": outgoing.files,
                "ids": ids,
                "resources": resources.to_dict(),
                "after": list(after),
                "marker": marker,
            }
            reply, _ = self.call("submit", header, outgoing.blobs)
            if "missing" not in reply:
                record.sent(outgoing, changed, records)
                if too_large:
                    warnings.warn(_not_sent(self.remote, too_large), HipercowWarning, stacklevel=2)
                return
            record.forget(reply["missing"])
        raise HipercowError(f"{self.remote['ssh']} kept losing the files sent to it")

    def status(self, ids: list[str]) -> list[str]:
        """Every task's status in one remote command; the files of those that started or
        ended are written here. While the cluster can't be reached: the last known states.
        """
        known = {i: marker_status(self.root, i) for i in ids}
        record = transfer.SentRecord(self.folder)
        request = {"ids": ids, "known": known, "records": record.records}
        try:
            reply, blobs = self.call("status", request)
        except RemoteUnreachable as e:
            self._unreachable(e)
            return [known[i] or "submitted" for i in ids]
        self._reachable()
        transfer.mirror(self.root, reply["files"], blobs)
        transfer.mirror_records(self.root, record, reply.get("records") or [], blobs)
        self._details = reply.get("details") or {}
        return reply["statuses"]

    def cancel(self, ids: list[str]) -> list[bool]:
        """Cancel tasks there, in one remote command."""
        reply, _ = self.call("cancel", {"ids": ids})
        self.status(ids)  # their markers, here
        return reply["cancelled"]

    def info(self, task_id: str) -> dict:
        """The remote scheduler's view of a task."""
        return self.call("info", {"id": task_id})[0]["info"]

    def queue_details(self, ids: list[str]) -> dict[str, dict]:
        """What the remote scheduler said of these tasks at the last status lookup."""
        return {i: self._details[i] for i in ids if i in self._details}

    def log(self, task_id: str, outer: bool = False) -> str | None:
        """The task's log (its new bytes brought here first), or the scheduler's own."""
        if outer:
            return self.call("outer_log", {"id": task_id})[0]["log"]
        self.fetch(task_id, "log", grow=True)
        return super().log(task_id)

    def usage(self, ids: list[str]) -> dict[str, Usage]:
        """What tasks used, from the remote driver, in one remote command."""
        reply, _ = self.call("usage", {"ids": ids})
        return {i: Usage.from_dict(u) for i, u in reply["usage"].items()}

    def poll_interval(self) -> float:
        """The remote driver's own pause between polls (1 s by default)."""
        return float(self.inner.get("poll_interval") or 1.0)

    def purge(self, ids: list[str]) -> None:
        """Delete the tasks' folders on the remote side, and the chunks kept there that no
        remaining task was made from.
        """
        reply, _ = self.call("purge", {"ids": ids})
        if reply.get("chunks_dropped"):
            transfer.SentRecord(self.folder).forget(reply["chunks_dropped"])

    # ---- files brought here ----------------------------------------------------------------
    def fetch(self, task_id: str, name: str, grow: bool = False) -> None:
        """Bring file `name` of a task here: once, or (`grow`, a log) its new bytes, until
        the task has ended and its whole log is here. Quiet while the cluster can't be
        reached: what is here is what is read.
        """
        path = self.root.task_file(task_id, name)
        have = os.path.getsize(path) if os.path.exists(path) else None
        if have is not None and (not grow or task_id in self._complete_logs):
            return
        ended = marker_status(self.root, task_id) in TERMINAL
        try:
            reply, blobs = self.call("fetch", {"files": [[task_id, name, have or 0]]})
        except RemoteUnreachable as e:
            self._unreachable(e)
            return
        self._reachable()
        index = reply["found"][0]
        if index is not None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            transfer.write_fetched(path, bytes(blobs[index]), append=grow and have is not None)
        if grow and ended:
            self._complete_logs.add(task_id)

    # ---- the connection coming and going -------------------------------------------------
    def _unreachable(self, error: Exception) -> None:
        with self._lock:
            if self._down is not None:
                return
            self._down = str(error)
        warnings.warn(
            f"{' '.join(str(error).split())}. Until it answers, lookups show the last known "
            "states and nothing is marked failed for it.",
            HipercowWarning,
            stacklevel=3,
        )

    def _reachable(self) -> None:
        with self._lock:
            if self._down is None:
                return
            self._down = None
        warnings.warn(
            f"{self.remote['ssh']} answers again; lookups carry on", HipercowWarning, stacklevel=3
        )
