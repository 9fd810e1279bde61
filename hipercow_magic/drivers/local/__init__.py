"""The local driver: a virtual cluster on this machine, served by a detached scheduler."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time

import psutil

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import short_id
from hipercow_magic.core.procs import kill_tree, same_process
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status, read_marker, write_terminal
from hipercow_magic.core.versions import child_environment
from hipercow_magic.drivers.base import ClusterInfo, Driver
from hipercow_magic.drivers.local import events, paths
from hipercow_magic.drivers.local.cluster import cluster_info, cluster_spec
from hipercow_magic.drivers.local.health import EXIT_START_FAILED as START_FAILED
from hipercow_magic.drivers.local.health import record_start_failure
from hipercow_magic.drivers.local.placement import VirtualCluster
from hipercow_magic.drivers.local.waiting import never_fits

START_ATTEMPTS = 3  # failed scheduler starts in a row before status calls report them
READY_FD = "HIPERCOW_SCHEDULER_READY_FD"  # the pipe a starting scheduler answers on
LOG_LINES = 10  # lines of the scheduler's log quoted then
START_WAIT = 10  # seconds a status call waits for a scheduler after failed starts


class LocalDriver(Driver):
    """Runs tasks on this machine, honouring the virtual cluster's nodes and queues."""

    name = "local"
    final_usage_after_end = True  # the scheduler writes them when it reaps the process
    _starting: subprocess.Popen | None = None
    _ready = -1  # the read end of the pipe the scheduler started last answers on
    _answer = b""

    @classmethod
    def configure(
        cls, root, cluster=None, nodes=None, queues=None, idle_timeout=300, **unknown
    ) -> dict:
        """Check the local driver's options; returns the configuration to save.

        Args:
            root: the root being configured.
            cluster: a preset ('example'), or None for one node with this machine's cores,
                memory and NVIDIA GPUs.
            nodes: the nodes of a cluster described by hand (`{"name", "cores", "memory"}`,
                and `"gpus"`, `"gpu_type"` for a node with GPUs).
            queues: its queues (`{"name", "nodes", "default"}`); one over every node if None.
            idle_timeout: seconds the scheduler waits with nothing to do before it exits.
            **unknown: anything else is an error.
        """
        if unknown:
            raise HipercowError(
                f"Unknown option(s) for the local driver: {', '.join(sorted(unknown))}\n"
                "Valid options are: cluster, nodes, queues, idle_timeout"
            )
        if not isinstance(idle_timeout, (int, float)) or idle_timeout <= 0:
            raise HipercowError("'idle_timeout' must be a positive number of seconds")
        paths.make_dirs(root)
        return {"cluster": cluster_spec(cluster, nodes, queues), "idle_timeout": idle_timeout}

    def cluster_info(self) -> ClusterInfo:
        """The virtual cluster's nodes and queues."""
        return cluster_info(self.config["cluster"])

    # ---- scheduler process ----------------------------------------------------------
    def scheduler_running(self) -> bool:
        """Whether a scheduler holds this root's lock."""
        try:
            fd = os.open(paths.scheduler_lock(self.root), os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:
            paths.make_dirs(self.root)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def ensure_scheduler(self) -> None:
        """Start the root's scheduler if none runs (detached: it outlives this process).

        The scheduler this process started last tells it (one byte on a pipe) once it has
        taken the root's lock: until then it is still starting and will read the queue; after
        that, a lock nobody holds means it has exited (or died), so another is started.
        """
        if self.scheduler_running():
            return
        if self._starting is not None:
            state = self._start_state()
            if state == "starting":
                return
            code = self._starting.poll()
            if state == "failed" and code is not None and code > 0 and code != START_FAILED:
                record_start_failure(self.root, f"exited with code {code} before starting")
            self._forget_start()
        paths.make_dirs(self.root)
        env = child_environment()
        ready_read, ready_write = os.pipe()
        try:
            with open(paths.scheduler_log(self.root), "ab") as log:
                self._starting = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "hipercow_magic.drivers.local.scheduler",
                        self.root.path,
                    ],
                    cwd=self.root.path,
                    env={**env, READY_FD: str(ready_write)},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    close_fds=True,
                    pass_fds=(ready_write,),
                )
        except BaseException:
            os.close(ready_read)
            raise
        finally:
            os.close(ready_write)
        os.set_blocking(ready_read, False)
        self._ready, self._answer = ready_read, b""

    def _start_state(self) -> str:
        """'starting' (no answer yet, still alive), 'acquired' (it took the lock once),
        'refused' (another held the lock) or 'failed' (it ended without taking it).
        """
        if not self._answer:
            try:
                self._answer = os.read(self._ready, 1) or b"x"  # b"x": ended without a word
            except BlockingIOError:
                if self._starting.poll() is None:
                    return "starting"
                self._answer = b"x"
        return {b"1": "acquired", b"0": "refused"}.get(self._answer, "failed")

    def _forget_start(self) -> None:
        """Close the pipe to the last scheduler started, reaping it if it has ended."""
        os.close(self._ready)
        self._starting.poll()
        self._starting = None

    def start_problem(self) -> str | None:
        """Why the root's scheduler keeps failing to start, after START_ATTEMPTS failures in
        a row (with the end of its log), else None.
        """
        failures = store.read_json_or(paths.start_failures(self.root)) or {}
        if not isinstance(failures, dict) or failures.get("count", 0) < START_ATTEMPTS:
            return None
        log = paths.scheduler_log(self.root)
        lines = (store.read_text_or(log) or "").rstrip("\n").split("\n")[-LOG_LINES:]
        return (
            f"The local scheduler of the root at '{self.root.path}' failed to start "
            f"{failures['count']} times in a row (last: {failures.get('last')})\n"
            f"The end of its log, '{log}':\n" + "\n".join(lines)
        )

    def wake(self, message: bytes = b"w") -> None:
        """Tell the scheduler to look at the queue now ('w' new work, 'c' cancellations)."""
        address = paths.wake_address(self.root)
        if address is None:
            return  # the scheduler polls
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            try:
                s.sendto(message, address)
            except OSError:
                pass  # not listening yet: it reads the queue when it starts

    def subscribe(self) -> events.Subscription | None:
        """Hear of the root's task starts and ends at once (None where no socket can be made
        in the root: waiters then poll).
        """
        try:
            return events.Subscription(self.root)
        except OSError:
            return None

    # ---- the driver protocol ----------------------------------------------------------
    def submit(self, ids: list[str], resources, after=()) -> None:
        """Queue tasks: one file holding their shared resources, their ids and the tasks
        they wait for (`after`: the scheduler holds them until those succeed).
        """
        res = resources.to_dict()
        never = never_fits(VirtualCluster(self.config["cluster"], []), res)
        if never is not None:
            raise HipercowError(
                f"No node of this cluster can ever run {_plural_tasks(ids)}: {never}.\n"
                "Nothing was submitted; ask for less (see hipercow_cluster_info()) and "
                "submit again."
            )
        paths.make_dirs(self.root)
        if resources.hold_until is not None:
            res["hold_until"] = resources.hold_until.timestamp()
        batch = {"resources": res, "ids": ids}
        if after:
            batch["after"] = list(after)
        stamp = f"{time.time_ns():020d}"
        with paths.queue_lock(self.root):  # a scheduler exits only between batches
            store.write_json(paths.batch_file(self.root, stamp), batch)
        self.ensure_scheduler()
        self.wake()

    def status(self, ids: list[str]) -> list[str]:
        """Statuses from the tasks' markers (a scheduler is started if none runs).

        Raises:
            HipercowError: the root's scheduler has failed to start START_ATTEMPTS times in
                a row (the error names its log and quotes its end).
        """
        self.ensure_scheduler()
        problem = self.start_problem()
        if problem is not None and self._starting is not None:
            deadline = time.monotonic() + START_WAIT
            while self._start_state() == "starting" and time.monotonic() < deadline:
                time.sleep(0.05)
            problem = self.start_problem()  # one that started has cleared the count
        if problem is not None and any(
            marker_status(self.root, i) not in (*TERMINAL, "running") for i in ids
        ):
            raise HipercowError(problem)
        out = []
        for task_id in ids:
            status = marker_status(self.root, task_id)
            out.append(status if status in TERMINAL or status == "running" else "submitted")
        return out

    def info(self, task_id: str) -> dict:
        """The scheduler's view: queue position and pending reason, node and pid, or why
        it does not run the task (another user's).
        """
        state = store.read_json_or(paths.state_file(self.root)) or {}
        if task_id in state.get("pending", {}):
            p = state["pending"][task_id]
            out = {"state": "PENDING", "reason": p["reason"], "position": p["position"]}
            if p.get("reason_words"):
                out["reason_words"] = p["reason_words"]
            return out
        if task_id in state.get("refused", {}):
            return {"state": "REFUSED", "reason": state["refused"][task_id]}
        if task_id in state.get("running", {}):
            r = state["running"][task_id]
            return {"state": "RUNNING", "node": r["node"], "pid": r["pid"]}
        claim = read_marker(self.root, task_id, "running")
        return {"state": "RUNNING", "pid": claim.get("pid")} if claim else {}

    def queue_details(self, ids: list[str]) -> dict[str, dict]:
        """Why each queued task waits, from the scheduler's state file (no other call): its
        `reason` code, `reason_words` ('waiting for 2 free cores: 4 of 4 in use') and, for
        a held task, `estimated_start` (when its hold ends).
        """
        pending = (store.read_json_or(paths.state_file(self.root)) or {}).get("pending") or {}
        keys = ("reason", "reason_words", "estimated_start")
        return {
            task_id: {k: pending[task_id][k] for k in keys if pending[task_id].get(k)}
            for task_id in ids
            if task_id in pending
        }

    def cancel(self, ids: list[str]) -> list[bool]:
        """Queued tasks are marked cancelled (the scheduler skips them); running ones have
        their whole process tree killed; ones already ended are left as they are (cancelled
        only if they ended so: the scheduler is told to drop them).
        """
        cancelled: dict[str, bool] = {}
        with paths.queue_lock(self.root):
            for task_id in ids:
                status = marker_status(self.root, task_id)
                if status == "submitted":
                    cancelled[task_id] = write_terminal(self.root, task_id, "cancelled")
                elif status in TERMINAL:
                    cancelled[task_id] = status == "cancelled"
        for task_id in ids:
            if task_id not in cancelled:
                cancelled[task_id] = self._cancel_running(task_id)
        self.wake(b"c")
        events.announce(self.root, [i for i in ids if cancelled[i]])
        return [cancelled[i] for i in ids]

    def _cancel_running(self, task_id: str) -> bool:
        store.write_text(self.root.task_file(task_id, "cancel-requested"), str(time.time()))
        claim = read_marker(self.root, task_id, "running")  # written whole (store.link_exclusive)
        if claim and same_process(claim["pid"], claim["time"]):
            kill_tree(claim["pid"])
            with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
                psutil.Process(claim["pid"]).wait(timeout=5)
        write_terminal(
            self.root, task_id, "cancelled", started=claim.get("time") if claim else None
        )
        return marker_status(self.root, task_id) == "cancelled"


def _plural_tasks(ids: list[str]) -> str:
    """'task 1a2b3c4d' or 'these 20 tasks'."""
    return f"task {short_id(ids[0])}" if len(ids) == 1 else f"these {len(ids)} tasks"
