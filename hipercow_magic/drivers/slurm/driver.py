"""The slurm driver: sbatch (arrays for many tasks), one squeue per poll, scancel, sinfo,
sacct and sstat for what tasks used.

The work is done beside it: config.py checks options, cluster.py describes the cluster,
submit.py submits and cancels, jobs.py keeps each task's job, status.py asks Slurm,
dependencies.py holds jobs until the jobs of the tasks they wait for succeed, usage.py and
accounting.py read what tasks used, endings.py says why a job ended.
"""

from __future__ import annotations

from hipercow_magic.core import store
from hipercow_magic.core.format import stamp
from hipercow_magic.core.resources import Resources
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status, write_terminal
from hipercow_magic.core.usage import Usage, read_usage
from hipercow_magic.drivers.base import ClusterInfo, Driver
from hipercow_magic.drivers.slurm import config as slurm_config
from hipercow_magic.drivers.slurm import dependencies, submit
from hipercow_magic.drivers.slurm.commands import SlurmUnavailable
from hipercow_magic.drivers.slurm.jobs import outer_log, parent
from hipercow_magic.drivers.slurm.pending import queue_row, start_estimate
from hipercow_magic.drivers.slurm.status import (
    SlurmUnavailableWarning,
    StatusQuery,
    root_state,
)

__all__ = ["SlurmDriver", "SlurmUnavailableWarning"]


class SlurmDriver(Driver):
    """Runs tasks as Slurm jobs; one batch script per task, one job array per bundle."""

    name = "slurm"

    def __init__(self, root, config: dict):
        super().__init__(root, config)
        self._state = root_state(root, config)
        self._query = StatusQuery(root, config, self._state)

    @classmethod
    def configure(cls, root, **options) -> dict:
        """Check the slurm driver's options; returns the configuration to save.

        Options are those in `config.OPTIONS`: partition, python, preamble, sbatch_args,
        poll_interval, account, array_limit and max_array_size.
        """
        config = slurm_config.check_options(options)
        if config["partition"]:
            slurm_config.check_partition(cls(root, config).cluster_info(), config["partition"])
        return config

    def cluster_info(self) -> ClusterInfo:
        """Nodes, partitions and limits from sinfo and scontrol (cached for a minute)."""
        return self._state.cluster.get(self.config)[0]

    def batch_script(self, ids: list[str], resources: Resources | None = None, after=()) -> str:
        """The script `submit` would give sbatch for these tasks (a dry run); `after`: the
        parent tasks the jobs would wait for (`--dependency=afterok:...`).
        """
        parents = dependencies.parent_jobs(self.root, self._state.jobs, after)
        cluster = self._state.cluster.get(self.config)
        batches = submit.plan(
            self.root,
            ids,
            resources or Resources(),
            self.config,
            cluster,
            key="<key>",
            dependency=dependencies.dependency_options(self.root, parents),
        )
        return batches[0].script

    def submit(self, ids: list[str], resources, after=()) -> None:
        """Submit tasks: one job for one task, one job array (split at MaxArraySize) for many.

        `after`: parent tasks still submitted or running that must succeed before these
        start (their jobs become `--dependency=afterok:...`; one squeue checks Slurm still
        knows them).

        Raises:
            HipercowError: a parent is not a Slurm task, its job is unknown to Slurm, or
                sbatch refused a job (nothing is left submitted).
        """
        if not ids:
            return
        parents = dependencies.parent_jobs(self.root, self._state.jobs, after)
        if parents:
            rows = self._query.queue_rows({parent(rec) for rec in parents.values()})
            dependencies.check_known(parents, rows)
        cluster = self._state.cluster.get(self.config)
        submit.submit(
            self.root,
            ids,
            resources or Resources(),
            self.config,
            cluster,
            self._state.jobs,
            dependency=dependencies.dependency_options(self.root, parents),
        )

    def poll_interval(self) -> float:
        """Seconds to wait before the next status() call (grows while nothing changes)."""
        return self._state.interval

    @property
    def problem(self) -> str | None:
        """The last reason Slurm could not be asked, or None when the last poll worked."""
        return self._state.problem

    def status(self, ids: list[str]) -> list[str]:
        """Statuses of submitted/running tasks: ONE squeue call for all of them."""
        return self._query.statuses(ids)

    def info(self, task_id: str) -> dict:
        """Slurm's view of the task's job: state, pending reason, node, start; for a queued
        job the estimated start where it means something, else (`start_unknown`) why not.
        """
        rec = self.job_record(task_id)
        if rec is None:
            return {}
        out = {"job_id": rec["job_id"]}
        try:
            row = self._query.job_row(rec)
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
        if row.pending:
            start, unknown = start_estimate(row)
            if start is not None:
                out["estimated_start"] = stamp(start)
            elif unknown:
                out["start_unknown"] = unknown
        elif row.start is not None:
            out["start_time"] = stamp(row.start)
        if row.time_limit:
            out["time_limit"] = row.time_limit
        if row.ended and row.exit_code:
            out["exit_code"] = row.exit_code
        out["output"] = rec.get("output")
        return out

    def queue_details(self, ids: list[str]) -> dict[str, dict]:
        """Each task's job id and, while it is queued, Slurm's pending reason and estimated
        start (where it means something), from the rows of the last squeue poll: Slurm is
        not asked again.
        """
        records = self._state.jobs.records(ids)
        rows = self._state.rows
        return {tid: queue_row(rec, rows.get(rec["job_id"])) for tid, rec in records.items() if rec}

    def cancel(self, ids: list[str]) -> list[bool]:
        """Cancel the tasks' jobs with one scancel; True where a task was stopped by it."""
        records = self._state.jobs.records(ids)
        job_ids = [rec["job_id"] for rec in records.values() if rec]
        if not job_ids:
            return [False] * len(ids)
        refused = submit.scancel(job_ids)
        out = []
        for tid in ids:
            rec = records[tid]
            ok = (
                rec is not None
                and rec["job_id"] not in refused
                and write_terminal(self.root, tid, "cancelled", reason="cancelled by the user")
            )
            if ok:
                self._query.forget(tid)
                self._state.usage.expect(tid, rec)
            out.append(ok)
        return out

    def usage(self, ids: list[str]) -> dict[str, Usage]:
        """What each task used, by id (those with figures only): live readings of running
        tasks from ONE sstat; final figures of ended ones from their usage.json, else from
        ONE sacct (written to usage.json).
        """
        out: dict[str, Usage] = {}
        records = self._state.jobs.records(ids)
        running: dict[str, dict] = {}
        ended: list[str] = []
        for tid in ids:
            rec = records[tid]
            if marker_status(self.root, tid) not in TERMINAL:
                if rec is not None:
                    running[tid] = rec
            elif (stored := read_usage(self.root, tid)) is not None:
                out[tid] = stored
            elif rec is not None:
                self._state.usage.expect(tid, rec)
                ended.append(tid)
        if ended and self._state.usage.pending:
            self._query.finished([])
            out.update({t: u for t in ended if (u := read_usage(self.root, t)) is not None})
        if running:
            rows = self._query.queue_rows({parent(rec) for rec in running.values()})
            live = {}
            for tid, rec in running.items():
                row = rows.get(rec["job_id"])
                if row is not None and row.name == rec["name"] and row.running:
                    live[tid] = row
            out.update(self._state.usage.live(live))
        return out

    def log(self, task_id: str, outer: bool = False) -> str | None:
        """The task's log, or (outer) Slurm's own output file for the job."""
        if not outer:
            return store.read_text_or(self.root.task_file(task_id, "log"))
        return outer_log(self.job_record(task_id))

    def job_record(self, task_id: str) -> dict | None:
        """The Slurm job that runs a task (job id, job name, script, output), or None."""
        return self._state.jobs.get(task_id)
