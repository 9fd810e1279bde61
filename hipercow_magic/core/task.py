"""Tasks on disk: ids, status (cheap first), times and logs (results: core/results.py)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time

from hipercow_magic.core import remote_files, signing, store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.results import pickle_result
from hipercow_magic.core.status import TERMINAL


def new_id() -> str:
    """A new task id: 32 random lowercase hexadecimal characters."""
    return secrets.token_hex(16)


def read_data(root, task_id: str) -> dict:
    """The task's data.json; an unknown id is an error."""
    try:
        return store.read_json(root.task_file(task_id, "data.json"))
    except FileNotFoundError:
        raise HipercowError(
            f"Task '{task_id}' does not exist in the root at '{root.path}'"
        ) from None
    except ValueError as e:  # edited or cut short by hand: the file is not JSON
        raise HipercowError(
            f"Task '{task_id}' can't be read: its file "
            f"'{root.task_file(task_id, 'data.json')}' is not valid JSON ({e})\n"
            "Restore the file, or purge the task (hipercow_purge(task_ids=[...]))."
        ) from None


def read_locals(root, task_id: str) -> dict:
    """The values a task captured (its locals.pkl, whose signature must verify); {} for a
    task that captured nothing.
    """
    path = root.task_file(task_id, "locals.pkl")
    try:
        signed = store.read_bytes(path)
    except FileNotFoundError:
        return {}
    from hipercow_magic.core.capture import unpack_locals  # cloudpickle: only when asked

    return unpack_locals(signing.verify(signed, "locals.pkl", task_id, path))


def task_exists(root, task_id: str) -> bool:
    """Whether the task's data.json exists (a task exists only once it is whole)."""
    return os.path.exists(root.task_file(task_id, "data.json"))


def marker_status(root, task_id: str) -> str | None:
    """Status from the marker files alone (no driver); None for an unknown id."""
    cached = root.terminal_cache.get(task_id)
    if cached:
        return cached
    base = root.task_dir(task_id) + os.sep
    for status in ("success", "failure", "cancelled", "running", "submitted"):
        if os.path.exists(base + "status-" + status):
            if status in TERMINAL:
                root.terminal_cache[task_id] = status
            return status
    return "created" if os.path.exists(base + "data.json") else None


def read_marker(root, task_id: str, status: str) -> dict:
    """The JSON a status marker holds ({} when absent or still being written)."""
    try:
        return store.read_json(root.task_file(task_id, "status-" + status)) or {}
    except (FileNotFoundError, ValueError):
        return {}


def ran_on(root, task_id: str) -> str | None:
    """The node a task runs or ran on, from its start claim (kept after it ends); None if it
    never started. A scheduler's claim names the node it placed the task on; a task that
    claimed itself names the host it ran on.
    """
    claim = read_marker(root, task_id, "running")
    return claim.get("node") or claim.get("host") or None


def write_terminal(
    root,
    task_id: str,
    status: str,
    reason: str | None = None,
    result: dict | bytes | None = None,
    started: float | None = None,
    result_file: str | None = None,
    created: float | None = None,
    failure_class: str | None = None,
) -> bool:
    """Record a terminal state, exactly once: True for the one writer that claims it.

    The signed result is first written to a temporary file (a full disk fails here, before
    anything is claimed); then the state is claimed by creating `status-final` exclusively
    (a whole file, hard-linked into place); only the winner moves its result into place,
    then times.json and the terminal marker (in that order). A loser writes nothing.
    The claim holds the task's times too, so one file is status-final, times.json (renamed
    from its temporary name) and the terminal marker (linked).
    `result` is a result record, or one already pickled by `pickle_result`; or
    `result_file` is one already written by `prepare_result` (removed if this call loses).
    `created` (data.json's) and `started`, when the caller knows them, are not read again.
    `failure_class` (one of core.failures.FAILURE_CLASSES) is kept as the claim's "class".

    Raises:
        OSError: the result could not be written (nothing was claimed).
    """
    tmp = result_file
    if marker_status(root, task_id) in TERMINAL:
        if tmp is not None:
            store.remove_file(tmp)
        return False
    now = time.time()
    claim_file = None
    if result is not None and tmp is None:
        tmp = prepare_result(root, task_id, result)
    try:
        known = {"finished": now}
        if started is not None:
            known["started"] = started
        if created is not None:
            known["created"] = created
        claim = {"status": status, "time": now, "pid": os.getpid(), "host": socket.gethostname()}
        if reason:
            claim["reason"] = reason
        if failure_class:
            claim["class"] = failure_class
        claim.update(collect_times(root, task_id, known))
        final = root.task_file(task_id, FINAL)
        claim_file = store.write_temp(
            root.task_dir(task_id), json.dumps(claim).encode(), target=final
        )
        try:
            os.link(claim_file, final)
        except FileExistsError:
            _complete_orphan_claim(root, task_id)
            return False
        if tmp is not None:
            os.replace(tmp, root.task_file(task_id, "result.pkl"))
            tmp = None
        _finish_claim(root, task_id, claim, claim_file)
        claim_file = None
    finally:
        for leftover in (tmp, claim_file):
            if leftover is not None:
                store.remove_file(leftover)
    return True


FINAL = "status-final"


def prepare_result(root, task_id: str, result: dict | bytes) -> str:
    """Write the signed result to a temporary file in the task's folder, for
    `write_terminal(result_file=...)`; returns its path.

    Raises:
        OSError: it could not be written (a full disk); nothing is left behind.
    """
    blob = result if isinstance(result, bytes) else pickle_result(result)[0]
    signed = signing.sign(blob, "result.pkl", task_id)
    path = root.task_file(task_id, "result.pkl")
    return store.write_temp(os.path.dirname(path), signed, target=path)


def _finish_claim(root, task_id: str, claim: dict, claim_file: str | None = None) -> None:
    """times.json, then the terminal marker, for a claimed terminal state.

    Both are `status-final` itself (it holds the state's time and reason, who claimed it,
    and the task's times): `claim_file`, its temporary name, is renamed times.json, and the
    marker is linked to it; a claim without times (made by an older version) has its times
    collected and written.
    """
    status = claim["status"]
    final = root.task_file(task_id, FINAL)
    times = root.task_file(task_id, "times.json")
    try:
        if claim_file is not None:
            os.replace(claim_file, times)
        elif claim.get("finished") is not None:
            _link(final, times)
        else:
            known = {"finished": claim["time"], "started": claim.get("started")}
            store.write_json(times, collect_times(root, task_id, known))
    except OSError:
        pass  # the times are still read from the markers
    marker = root.task_file(task_id, "status-" + status)
    try:
        _link(final, marker)
    except OSError:  # hard links refused here: the marker is a copy
        marker_claim = {"time": claim["time"]}
        marker_claim.update({k: claim[k] for k in ("reason", "class") if claim.get(k)})
        store.write_json(marker, marker_claim)
    root.terminal_cache[task_id] = status


def _link(source: str, name: str) -> None:
    """Link `name` to the file at `source`; one already there is kept."""
    with contextlib.suppress(FileExistsError):
        os.link(source, name)


def _claimer_dead(claim: dict) -> bool:
    """Whether the process that made a claim is gone (known only for one on this host)."""
    pid = claim.get("pid")
    if claim.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return False  # another thread of this process: it is writing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


STALE_CLAIM = 60.0  # seconds: a claim whose marker is this late was left by a dead writer


def _complete_orphan_claim(root, task_id: str, patience: float = 10.0) -> None:
    """After losing the claim: wait (briefly) for the winner's terminal marker, so the state
    is recorded when this returns; if the winner died before writing it (its process is gone
    from this host, or its claim is a minute old), write it from the claim.
    """
    deadline = time.monotonic() + patience
    while marker_status(root, task_id) not in TERMINAL:
        try:
            claim = store.read_json(root.task_file(task_id, FINAL))
        except (FileNotFoundError, ValueError):
            return
        if not isinstance(claim, dict) or claim.get("status") not in TERMINAL:
            return
        stale = time.time() - (claim.get("time") or 0) > STALE_CLAIM
        if stale or _claimer_dead(claim):
            _finish_claim(root, task_id, claim)
            return
        if time.monotonic() > deadline:
            return
        time.sleep(0.005)


TIMES = ("created", "submitted", "started", "finished")


def collect_times(root, task_id: str, known: dict | None = None) -> dict:
    """Created / submitted / started / finished (epoch seconds, None when not yet).

    Args:
        root: the task's root.
        task_id: the task.
        known: times the caller knows already (then times.json, written once the task has
            ended, is not looked for, and only the files for the other times are read).
    """
    if known is None:
        try:
            written = store.read_json(root.task_file(task_id, "times.json"))
            return {name: written.get(name) for name in TIMES}
        except (FileNotFoundError, ValueError, AttributeError):  # not finished, or being written
            known = {}
    times = dict.fromkeys(TIMES) | {k: v for k, v in known.items() if v is not None}
    if times["created"] is None:
        data = store.read_json_or(root.task_file(task_id, "data.json")) or {}
        times["created"] = data.get("created")
    times["submitted"] = read_marker(root, task_id, "submitted").get("time")
    if times["started"] is None:
        times["started"] = read_marker(root, task_id, "running").get("time")
    if times["finished"] is None:
        for status in TERMINAL:
            t = read_marker(root, task_id, status).get("time")
            if t is not None:
                times["finished"] = t
    return times


def read_log(root, task_id: str, offset: int = 0) -> tuple[str | None, int]:
    """The log from byte `offset`; (None, 0) when there is no log yet."""
    remote_files.ensure(root, task_id, "log", grow=True)
    path = root.task_file(task_id, "log")
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return None, 0
    except PermissionError:
        raise store.permission_error(path, "reading") from None
    return data.decode("utf-8", errors="replace"), offset + len(data)
