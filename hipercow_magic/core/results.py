"""A task's result record: what the node pickles (its value and exports, each on its own),
and reading it back here (signature checked first, a result kept on a remote root brought
here once) as a value, an exception with the node's traceback, or exports.
"""

from __future__ import annotations

import pickle

from hipercow_magic.core import remote_files, signing, store
from hipercow_magic.core.errors import HipercowError, TaskFailed, TaskNotFinishedError


def pickle_result(result: dict) -> tuple[bytes, list[str]]:
    """Cloudpickle a result record; the value and each export are pickled on their own, so
    one that can't be pickled here (or loaded there) spoils nothing else.

    Returns the bytes and notes saying what was left out and why.
    """
    import cloudpickle

    notes = []
    record = {k: v for k, v in result.items() if k not in ("value", "exports")}
    if "value" in result:
        try:
            record["value"] = cloudpickle.dumps(result["value"])
        except Exception:
            record["value"] = None
            record["value_error"] = (
                f"The task's value (a {type(result['value']).__name__}) "
                "could not be pickled, so it could not be sent back"
            )
            notes.append(record["value_error"])
    record["exports"], dropped = {}, {}
    for name, value in (result.get("exports") or {}).items():
        try:
            record["exports"][name] = cloudpickle.dumps(value)
        except Exception:
            dropped[name] = type(value).__name__
    if dropped:
        record["exports_dropped"] = dropped
        notes.append(
            "Not sent back, as they can't be pickled: "
            + ", ".join(f"'{k}' ({t})" for k, t in dropped.items())
        )
    try:
        return cloudpickle.dumps(record), notes
    except Exception:  # the error itself can't be pickled
        e = record["error"]
        record["error"] = TaskFailed(type(e).__name__, str(e), result.get("traceback", ""))
        return cloudpickle.dumps(record), notes


def load_exports(record: dict) -> tuple[dict, dict[str, str]]:
    """The exports of a result record, and why any could not be loaded here."""
    values, problems = {}, {}
    for name, blob in (record.get("exports") or {}).items():
        try:
            values[name] = pickle.loads(blob)
        except Exception as e:
            problems[name] = f"{type(e).__name__}: {e}"
    return values, problems


def read_result_record(root, task_id: str) -> dict:
    """The result record the node wrote; one that can't be unpickled here becomes a failure
    record saying so (a missing file is a FileNotFoundError; one whose signature fails is a
    HipercowError, and is not unpickled).
    """
    path = root.task_file(task_id, "result.pkl")
    try:
        signed = store.read_bytes(path)
    except FileNotFoundError:  # a result kept on a remote root: brought here, once
        remote_files.ensure(root, task_id, "result.pkl")
        signed = store.read_bytes(path)
    blob = signing.verify(signed, "result.pkl", task_id, path)
    try:
        return pickle.loads(blob)
    except Exception as e:
        return {
            "ok": False,
            "error": TaskFailed(type(e).__name__, f"the task's result could not be read here: {e}"),
        }


def result_value(root, task_id: str, status: str):
    """The value of a success, or the exception of a failure (with the node's traceback)."""
    if status not in ("success", "failure"):
        raise TaskNotFinishedError(
            f"Result for task '{task_id}' not available, status is '{status}'"
        )
    try:
        record = read_result_record(root, task_id)
    except FileNotFoundError:
        raise TaskNotFinishedError(
            f"Result for task '{task_id}' not available, status is '{status}' but no result "
            "file was written"
        ) from None
    if record.get("ok"):
        if record.get("value_error"):
            raise HipercowError(record["value_error"])
        try:
            return pickle.loads(record["value"])
        except Exception as e:
            raise HipercowError(
                f"The value of task '{task_id}' can't be loaded here ({type(e).__name__}: {e})\n"
                "Install here the packages the task used on the cluster."
            ) from None
    error = record.get("error")
    trace = record.get("traceback") or getattr(error, "traceback", "")
    if isinstance(error, BaseException):
        try:
            error.node_traceback = trace
            if (
                trace
                and hasattr(error, "add_note")
                and trace not in getattr(error, "__notes__", [])
            ):
                error.add_note("Traceback on the node:\n" + trace)
        except AttributeError:
            pass
    return error
