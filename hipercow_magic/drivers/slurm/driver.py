"""The slurm driver: sbatch (arrays for many tasks), one squeue per poll, scancel, sinfo."""

from __future__ import annotations

import math
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import warnings

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError, TaskDied
from hipercow_magic.core.resources import Resources
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status, write_terminal
from hipercow_magic.drivers.base import ClusterInfo, Driver, NodeInfo, QueueInfo
from hipercow_magic.drivers.slurm import commands, parse
from hipercow_magic.drivers.slurm.commands import SlurmUnavailable
from hipercow_magic.drivers.slurm.script import array_script, sbatch_options, task_script

OPTIONS = (
    "partition",
    "python",
    "preamble",
    "sbatch_args",
    "poll_interval",
    "account",
    "array_limit",
    "max_array_size",
)
DEFAULT_POLL_INTERVAL = 2.0
MAX_BACKOFF = 15  # the interval grows to at most 15 times the configured one
POLL_BACKOFF = 1.5
CLUSTER_INFO_TTL = 60.0
GONE_GRACE = 60.0  # seconds after sbatch before a job unknown to Slurm counts as lost
JOB_FILE = "job.json"


class SlurmUnavailableWarning(UserWarning):
    """Slurm could not be asked; statuses shown are the last known ones."""


class _RootState:
    """What the driver remembers between calls for one root (drivers may be rebuilt often)."""

    def __init__(self, base_interval: float):
        self.last: dict[str, str] = {}
        self.jobs: dict[str, dict] = {}
        self.interval = base_interval
        self.problem: str | None = None
        self.cluster: tuple[float, ClusterInfo, dict] | None = None
        self.no_accounting = False
        self.arrays_seen: set[str] = set()
        self.rows: dict[str, parse.JobState] = {}
        self.polled: dict[str, float] = {}
        self.query_lock = threading.Lock()


_STATE: dict[str, _RootState] = {}


class SlurmDriver(Driver):
    """Runs tasks as Slurm jobs; one batch script per task, one job array per bundle."""

    name = "slurm"

    def __init__(self, root, config: dict):
        super().__init__(root, config)
        base = float(config.get("poll_interval") or DEFAULT_POLL_INTERVAL)
        self._state = _STATE.setdefault(root.path, _RootState(base))

    # ------------------------------------------------------------------ configuration
    @classmethod
    def configure(cls, root, **options) -> dict:
        """Check the slurm driver's options; returns the configuration to save."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise HipercowError(
                f"Unknown option{'s' if len(unknown) > 1 else ''} for the slurm driver: "
                f"{', '.join(unknown)}\nValid options are: {', '.join(OPTIONS)}\n"
                "Other sbatch options go in sbatch_args, e.g. sbatch_args=['--qos=short']."
            )
        if not commands.available():
            raise HipercowError(
                "Slurm's commands (sbatch, squeue, scancel, sinfo, scontrol) are not on this "
                "machine's PATH.\nUse the slurm driver on the cluster's login node, or start the "
                "project's single-node Slurm with scripts/start-slurm.sh."
            )
        preamble = _string_list(options.get("preamble"), "preamble")
        sbatch_args = _string_list(options.get("sbatch_args"), "sbatch_args")
        for arg in sbatch_args:
            if not arg.startswith("-"):
                raise HipercowError(
                    f"Invalid sbatch argument '{arg}': each entry is one option such as "
                    "'--qos=short' (it becomes an '#SBATCH' line)"
                )
        poll = options.get("poll_interval")
        if poll is not None and (
            isinstance(poll, bool) or not isinstance(poll, (int, float)) or poll <= 0
        ):
            raise HipercowError(
                f"'poll_interval' must be a positive number of seconds, not {poll!r}"
            )
        for name in ("array_limit", "max_array_size"):
            value = options.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                raise HipercowError(f"'{name}' must be a positive integer, not {value!r}")
        for name in ("partition", "account"):
            value = options.get(name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise HipercowError(f"'{name}' must be a non-empty string, not {value!r}")
        python, versions = _check_python(options.get("python"), preamble)
        config = {
            "partition": options.get("partition"),
            "python": python,
            "preamble": preamble,
            "sbatch_args": sbatch_args,
            "poll_interval": float(poll) if poll is not None else DEFAULT_POLL_INTERVAL,
            "account": options.get("account"),
            "array_limit": options.get("array_limit"),
            "max_array_size": options.get("max_array_size"),
            **versions,
        }
        if config["partition"]:
            info = cls(root, config).cluster_info()
            if config["partition"] not in info.queue_names:
                raise HipercowError(
                    f"The partition '{config['partition']}' does not exist on this cluster.\n"
                    f"Available: {', '.join(info.queue_names)}."
                )
        return config

    # ------------------------------------------------------------------ cluster
    def cluster_info(self) -> ClusterInfo:
        """Nodes, partitions and limits from sinfo and scontrol (cached for a minute)."""
        cached = self._state.cluster
        if cached and time.monotonic() - cached[0] < CLUSTER_INFO_TTL:
            return cached[1]
        try:
            nodes_text = commands.run(["sinfo", "-h", "-N", "-o", "%N|%c|%m|%T|%P"]).stdout
            parts_text = commands.run(["scontrol", "show", "partition", "-o"]).stdout
            config_text = commands.run(["scontrol", "show", "config"]).stdout
        except SlurmUnavailable as e:
            raise HipercowError(f"Could not read the Slurm cluster's description.\n{e}") from None
        info, settings = _cluster_info(nodes_text, parts_text, config_text, self.config)
        self._state.cluster = (time.monotonic(), info, settings)
        return info

    def _settings(self) -> dict:
        self.cluster_info()
        return self._state.cluster[2]

    # ------------------------------------------------------------------ submission
    def batch_script(self, ids: list[str], resources: Resources | None = None) -> str:
        """The script `submit` would give sbatch for these tasks (a dry run)."""
        plan = self._plan(ids, resources or Resources(), key="<key>")
        return plan[0]["script"]

    def submit(self, ids: list[str], resources) -> None:
        """Submit tasks: one job for one task, one job array (split at MaxArraySize) for many."""
        if not ids:
            return
        batches = self._plan(ids, resources or Resources())
        written: list[str] = []
        done: list[dict] = []
        try:
            for batch in batches:
                written += self._write_scripts(batch)
                batch["job_id"] = self._sbatch(batch)
                done.append(batch)
        except BaseException:
            if done:
                self._scancel([b["job_id"] for b in done])
            for path in written:
                _remove(path)
            for batch in batches:
                if batch.get("folder"):
                    shutil.rmtree(batch["folder"], ignore_errors=True)
            raise
        for batch in done:
            self._record_jobs(batch)

    def _plan(self, ids: list[str], resources: Resources, key: str | None = None) -> list[dict]:
        info = self.cluster_info()
        settings = self._state.cluster[2]
        options = sbatch_options(resources, self.config, info.node_names)
        common = {
            "options": options,
            "resources": resources,
            "config": self.config,
            "root_path": self.root.path,
        }
        if len(ids) == 1:
            tid = ids[0]
            output = self._driver_file(tid, "slurm.out")
            text = task_script(
                tid, name=tid, output=output, log_path=self.root.task_file(tid, "log"), **common
            )
            return [
                {
                    "ids": ids,
                    "name": tid,
                    "output": output,
                    "script": text,
                    "script_path": self._driver_file(tid, "slurm.sh"),
                    "folder": None,
                }
            ]
        size = int(settings.get("max_array_size") or 1001)
        if self.config.get("max_array_size"):
            size = min(size, int(self.config["max_array_size"]))
        batches = []
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            batch_key = key or secrets.token_hex(6)
            folder = os.path.join(self.root.hipercow, "slurm", "arrays", batch_key)
            map_path = os.path.join(folder, "tasks")
            output = os.path.join(folder, "%a.out")
            name = f"hipercow-{batch_key}"
            text = array_script(
                map_path, len(chunk), name=name, output=output, tasks_path=self.root.tasks, **common
            )
            batches.append(
                {
                    "ids": chunk,
                    "name": name,
                    "output": output,
                    "script": text,
                    "script_path": os.path.join(folder, "array.sh"),
                    "folder": folder,
                    "map_path": map_path,
                }
            )
        return batches

    def _write_scripts(self, batch: dict) -> list[str]:
        """Write the batch's script (and an array's task map); returns the files written."""
        if batch["folder"]:
            os.makedirs(batch["folder"], exist_ok=True)
            store.write_text(batch["map_path"], "\n".join(batch["ids"]) + "\n")
            store.write_text(batch["script_path"], batch["script"])
            return []  # the folder goes as a whole
        return [self._write_driver_file(batch["ids"][0], "slurm.sh", batch["script"])]

    def _sbatch(self, batch: dict) -> str:
        batch["submitted"] = time.time()
        try:
            proc = commands.run(["sbatch", "--parsable", batch["script_path"]], check=False)
        except SlurmUnavailable as e:
            raise HipercowError(f"Could not submit to Slurm: {e}") from None
        if proc.returncode != 0:
            message = proc.stderr.strip() or proc.stdout.strip() or "(no message)"
            raise HipercowError(
                f"Slurm refused the job (sbatch exited with status {proc.returncode}):\n{message}"
            )
        return proc.stdout.strip().split(";")[0]

    def _record_jobs(self, batch: dict) -> None:
        """Note the job ids: an array's in its folder (no file per task), a job's in driver/."""
        base = {
            "job_id": batch["job_id"],
            "name": batch["name"],
            "submitted": batch["submitted"],
            "script": batch["script_path"],
        }
        if batch["folder"]:
            store.write_json(
                os.path.join(batch["folder"], JOB_FILE), {**base, "output": batch["output"]}
            )
            self._index_array(os.path.basename(batch["folder"]))
        else:
            tid = batch["ids"][0]
            record = {**base, "output": batch["output"]}
            self._write_driver_file(tid, JOB_FILE, _json(record))
            self._state.jobs[tid] = record

    # ------------------------------------------------------------------ status
    def poll_interval(self) -> float:
        """Seconds to wait before the next status() call (grows while nothing changes)."""
        return self._state.interval

    @property
    def problem(self) -> str | None:
        """The last reason Slurm could not be asked, or None when the last poll worked."""
        return self._state.problem

    def status(self, ids: list[str]) -> list[str]:
        """Statuses of submitted/running tasks: ONE squeue call for all of them."""
        records = {tid: self.job_record(tid) for tid in ids}
        jobs = {tid: rec for tid, rec in records.items() if rec}
        rows: dict[str, parse.JobState] = {}
        if jobs:
            try:
                rows = self._queue_rows({_parent(rec) for rec in jobs.values()})
            except SlurmUnavailable as e:
                self._report(e)
                return self._remember(ids, [self._last_known(tid) for tid in ids], failed=True)
        found: dict[str, parse.JobState | None] = {}
        missing = {}
        for tid, rec in jobs.items():
            row = rows.get(rec["job_id"])
            if row is not None and row.name == rec["name"]:
                found[tid] = row
            else:
                missing[tid] = rec
        lookup_failed = False
        if missing:
            try:
                finished = self._finished(list(missing.values()))
            except SlurmUnavailable as e:
                self._report(e)
                finished, lookup_failed = {}, True
            for tid, rec in missing.items():
                found[tid] = finished.get(rec["job_id"])
        result = []
        for tid in ids:
            rec = records[tid]
            if rec is None:
                result.append(marker_status(self.root, tid) or "created")
            elif tid in missing and found.get(tid) is None and lookup_failed:
                result.append(self._last_known(tid))
            else:
                result.append(self._resolve(tid, rec, found.get(tid)))
        return self._remember(ids, result, failed=False)

    def _queue_rows(self, parents: set[str]) -> dict[str, parse.JobState]:
        """Squeue's rows for these jobs; a poll younger than the poll interval is reused, so
        many callers (displays, waits) cost at most one squeue per interval between them.
        """
        state = self._state
        window = float(self.config.get("poll_interval") or DEFAULT_POLL_INTERVAL)
        with state.query_lock:  # callers in other threads wait for this poll, then share it
            now = time.monotonic()
            if all(now - state.polled.get(p, -math.inf) < window for p in parents):
                return state.rows
            rows = self._squeue(parents)
            state.problem = None
            state.rows = {k: v for k, v in state.rows.items() if k.split("_")[0] not in parents}
            state.rows.update(rows)
            state.polled.update({p: now for p in parents})
            return state.rows

    def _squeue(self, job_ids: set[str]) -> dict[str, parse.JobState]:
        args = [
            "squeue",
            "-h",
            "-r",
            "-t",
            "all",
            "-j",
            ",".join(sorted(job_ids)),
            "-O",
            parse.SQUEUE_FIELDS,
        ]
        proc = commands.run(args, check=False)
        if proc.returncode != 0:
            if "Invalid job id" in proc.stderr:
                return {}  # squeue's answer when the only job asked for is gone
            raise SlurmUnavailable(commands.failure_message(args, proc))
        return parse.squeue_rows(proc.stdout)

    def _finished(self, records: list[dict]) -> dict[str, parse.JobState]:
        """Final states of jobs squeue no longer lists: sacct, else the jobcomp file."""
        wanted = {rec["job_id"]: rec for rec in records}
        rows: dict[str, parse.JobState] = {}
        if not self._state.no_accounting:
            since = min(rec.get("submitted") or 0 for rec in records) - 60
            args = [
                "sacct",
                "-n",
                "-P",
                "-X",
                "-o",
                parse.SACCT_FIELDS,
                "-S",
                time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(since)),
                "-j",
                ",".join(sorted(wanted)),
            ]
            proc = commands.run(args, check=False)
            if proc.returncode == 0:
                rows = parse.sacct_rows(proc.stdout)
            elif "accounting storage is disabled" in proc.stderr.lower():
                self._state.no_accounting = True
            else:
                raise SlurmUnavailable(commands.failure_message(args, proc))
        if self._state.no_accounting:
            rows = self._jobcomp(set(wanted))
        return {
            job_id: row
            for job_id, row in rows.items()
            if job_id in wanted and row.name == wanted[job_id]["name"]
        }

    def _jobcomp(self, wanted: set[str]) -> dict[str, parse.JobState]:
        settings = self._settings()
        path = settings.get("jobcomp_file")
        if settings.get("jobcomp_type") != "jobcomp/filetxt" or not path:
            return {}
        text = store.read_text_or(path)
        return parse.jobcomp_rows(text, wanted) if text else {}

    def _resolve(self, tid: str, rec: dict, row: parse.JobState | None) -> str:
        """A task's status from Slurm's view of its job; records deaths as failures."""
        if row is not None and not row.ended:
            # The runner's marker may be ahead of Slurm's view, never behind it.
            if row.running or marker_status(self.root, tid) == "running":
                return "running"
            return "submitted"
        _refresh_dir(self.root.task_dir(tid))
        current = marker_status(self.root, tid)
        if current in TERMINAL:
            return current
        if row is None:
            if time.time() - (rec.get("submitted") or 0) < GONE_GRACE:
                return current or "submitted"
            reason = (
                f"Slurm has no record of job {rec['job_id']} and the task left no result "
                "(the job may have ended long ago on a cluster without accounting)"
            )
            return self._died(tid, reason)
        return self._died(tid, row.ended_reason())

    def _died(self, tid: str, reason: str) -> str:
        outer = self.log(tid, outer=True)
        if outer is None:
            reason += " (Slurm wrote no output for it: is the root on a filesystem the nodes see?)"
        tail = "\n".join((outer or "").strip().splitlines()[-20:])
        error = TaskDied(reason)
        write_terminal(
            self.root,
            tid,
            "failure",
            reason=reason,
            result={
                "ok": False,
                "error": error,
                "traceback": f"Slurm's output for the job:\n{tail}" if tail else "",
            },
        )
        return marker_status(self.root, tid) or "failure"

    def _last_known(self, tid: str) -> str:
        current = marker_status(self.root, tid)
        if current in TERMINAL:
            return current
        return self._state.last.get(tid) or current or "submitted"

    def _remember(self, ids: list[str], result: list[str], failed: bool) -> list[str]:
        state = self._state
        changed = any(state.last.get(tid) != s for tid, s in zip(ids, result))
        for tid, s in zip(ids, result):
            state.last[tid] = s
            if s in TERMINAL:
                state.last.pop(tid, None)
        base = float(self.config.get("poll_interval") or DEFAULT_POLL_INTERVAL)
        if changed and not failed:
            state.interval = base
        else:
            state.interval = min(max(state.interval, base) * POLL_BACKOFF, base * MAX_BACKOFF)
        return result

    def _report(self, error: Exception) -> None:
        message = (
            f"Could not ask Slurm for the tasks' states; showing the last known ones.\n{error}"
        )
        self._state.problem = message
        warnings.warn(message, SlurmUnavailableWarning, stacklevel=3)

    # ------------------------------------------------------------------ info, cancel, logs
    def info(self, task_id: str) -> dict:
        """Slurm's view of the task's job: state, pending reason, node, start (or estimate)."""
        rec = self.job_record(task_id)
        if rec is None:
            return {}
        out = {"job_id": rec["job_id"]}
        try:
            row = self._queue_rows({_parent(rec)}).get(rec["job_id"])
            if row is None or row.name != rec["name"]:
                row = self._finished([rec]).get(rec["job_id"])
        except SlurmUnavailable as e:
            out["problem"] = str(e)
            return out
        if row is None:
            out["state"] = "UNKNOWN"
            return out
        out["state"] = row.state
        if row.reason:
            out["reason"] = row.reason
        if row.partition:
            out["partition"] = row.partition
        if row.node:
            out["node"] = row.node
        if row.start is not None:
            out["estimated_start" if row.pending else "start_time"] = _clock(row.start)
        if row.time_limit:
            out["time_limit"] = row.time_limit
        if row.ended and row.exit_code:
            out["exit_code"] = row.exit_code
        out["output"] = rec.get("output")
        return out

    def cancel(self, ids: list[str]) -> list[bool]:
        """Cancel the tasks' jobs with one scancel; True where a task was stopped by it."""
        records = {tid: self.job_record(tid) for tid in ids}
        job_ids = [rec["job_id"] for rec in records.values() if rec]
        if not job_ids:
            return [False] * len(ids)
        refused = self._scancel(job_ids)
        out = []
        for tid in ids:
            rec = records[tid]
            ok = (
                rec is not None
                and rec["job_id"] not in refused
                and write_terminal(self.root, tid, "cancelled", reason="cancelled by the user")
            )
            if ok:
                self._state.last.pop(tid, None)
            out.append(ok)
        return out

    def _scancel(self, job_ids: list[str]) -> set[str]:
        try:
            proc = commands.run(["scancel", *job_ids], check=False)
        except SlurmUnavailable as e:
            raise HipercowError(f"Could not cancel: {e}") from None
        if proc.returncode == 0:
            return set()
        refused = parse.scancel_refused(proc.stderr)
        if not refused:
            raise HipercowError(f"scancel failed:\n{proc.stderr.strip()}")
        return refused

    def log(self, task_id: str, outer: bool = False) -> str | None:
        """The task's log, or (outer) Slurm's own output file for the job."""
        if not outer:
            return store.read_text_or(self.root.task_file(task_id, "log"))
        rec = self.job_record(task_id)
        return store.read_text_or(rec["output"]) if rec and rec.get("output") else None

    # ------------------------------------------------------------------ files
    def _driver_file(self, tid: str, name: str) -> str:
        return os.path.join(self.root.task_dir(tid), "driver", name)

    def _write_driver_file(self, tid: str, name: str, text: str) -> str:
        path = self._driver_file(tid, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        store.write_text(path, text)
        return path

    def job_record(self, tid: str) -> dict | None:
        """The Slurm job that runs a task (job id, job name, script, output), or None."""
        rec = self._state.jobs.get(tid)
        if rec is None:
            rec = store.read_json_or(self._driver_file(tid, JOB_FILE))
            if rec is None:
                self._index_new_arrays()
                rec = self._state.jobs.get(tid)
            else:
                self._state.jobs[tid] = rec
        return rec

    def _arrays_dir(self) -> str:
        return os.path.join(self.root.hipercow, "slurm", "arrays")

    def _index_new_arrays(self) -> None:
        try:
            keys = os.listdir(self._arrays_dir())
        except FileNotFoundError:
            return
        for key in keys:
            if key not in self._state.arrays_seen:
                self._index_array(key)

    def _index_array(self, key: str) -> None:
        """Learn the tasks of one job array from its folder (its job and its task map)."""
        folder = os.path.join(self._arrays_dir(), key)
        array = store.read_json_or(os.path.join(folder, JOB_FILE))
        ids = (store.read_text_or(os.path.join(folder, "tasks")) or "").split()
        if array is None:
            return  # not submitted (or being submitted right now)
        self._state.arrays_seen.add(key)
        for index, tid in enumerate(ids):
            self._state.jobs[tid] = {
                **array,
                "job_id": f"{array['job_id']}_{index}",
                "array_job_id": array["job_id"],
                "index": index,
                "output": array["output"].replace("%a", str(index)),
            }


def _cluster_info(
    nodes_text: str, parts_text: str, config_text: str, config: dict
) -> tuple[ClusterInfo, dict]:
    rows = parse.sinfo_nodes(nodes_text)
    settings = parse.config(config_text)
    partitions = parse.partitions(parts_text)
    nodes: dict[str, NodeInfo] = {}
    members: dict[str, list[str]] = {}
    default = None
    for row in rows:
        if row.name not in nodes:
            mem = row.memory_mb // 1024 if row.memory_mb else None
            nodes[row.name] = NodeInfo(row.name, row.cpus, mem, row.state)
        members.setdefault(row.partition, []).append(row.name)
        if row.default:
            default = row.partition
    for name, kv in partitions.items():
        members.setdefault(name, [])
        if kv.get("Default") == "YES" and default is None:
            default = name
    queues = []
    chosen = config.get("partition") or default or next(iter(members), "")
    for name, node_names in members.items():
        limit = parse.minutes(partitions.get(name, {}).get("MaxTime"))
        queues.append(QueueInfo(name, sorted(set(node_names)), limit, name == chosen))
    max_array = settings.get("MaxArraySize", "1001")
    extra = {
        "max_array_size": int(max_array) if max_array.isdigit() else 1001,
        "slurm_version": settings.get("SLURM_VERSION"),
        "accounting": settings.get("AccountingStorageType"),
        "jobcomp_type": settings.get("JobCompType"),
        "jobcomp_file": settings.get("JobCompLoc"),
    }
    info = ClusterInfo(
        driver="slurm",
        name=settings.get("ClusterName", "slurm"),
        nodes=list(nodes.values()),
        queues=queues,
        default_queue=chosen,
        python_version=config.get("python_version"),
        extra=extra,
    )
    return info, extra


def _check_python(python, preamble: list[str]) -> tuple[str, dict]:
    """The Python the nodes run, and (when it can be asked here) its versions."""
    if python is None:
        python = sys.executable
    if not isinstance(python, str) or not python.strip():
        raise HipercowError(
            f"'python' must be the path or name of a Python interpreter, not {python!r}"
        )
    if preamble:
        return python, {}  # the preamble (module load, activation) decides what it finds
    found = shutil.which(python)
    if not found:
        raise HipercowError(
            f"The Python '{python}' was not found here.\nGive the full path of the interpreter "
            "the nodes should run, or set 'preamble' to the lines that make it available."
        )
    probe = (
        "import sys, cloudpickle, hipercow_magic;"
        "print(f'{sys.version_info[0]}.{sys.version_info[1]}', cloudpickle.__version__)"
    )
    proc = subprocess.run(
        [found, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise HipercowError(
            f"The Python '{python}' cannot run hipercow-magic:\n{proc.stderr.strip()}\n"
            "Install hipercow-magic into that environment, or choose another 'python'."
        )
    version, cp_version = proc.stdout.split()
    return found, {"python_version": version, "cloudpickle_version": cp_version}


def _string_list(value, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise HipercowError(f"'{name}' must be a string or a list of strings")
    return [v for v in value if v.strip()]


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _parent(rec: dict) -> str:
    return rec.get("array_job_id") or rec["job_id"]


def _refresh_dir(path: str) -> None:
    """List a folder so a network filesystem shows files another machine just wrote."""
    try:
        os.listdir(path)
    except FileNotFoundError:
        pass


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _json(value) -> str:
    import json

    return json.dumps(value, indent=1)
