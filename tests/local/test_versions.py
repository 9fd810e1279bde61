"""Tasks made with other versions: the node refuses another Python or cloudpickle before
running anything, and when the inputs of a task made by another hipercow-magic version
can't be loaded, the failure names both versions.
"""

import os
import pickle

import pytest

import hipercow_magic as hc
from hipercow_magic import __version__
from hipercow_magic.core import capture, signing, store
from hipercow_magic.core.checks import string_list

WAIT = 60


def edit_data(root, task_id: str, **fields) -> None:
    """The task's record as another version would have written it (signed by this user, as
    the user's own hipercow-magic of that version signs it)."""
    path = root.task_file(task_id, "data.json")
    data = {**store.read_json(path), **fields}
    data.pop("signature", None)
    store.write_json(path, signing.sign_record(data, task_id))


def reference_to_a_missing_function() -> bytes:
    """A pickle of a module-level function by reference, as an older version might have
    pickled one of its own functions that this version no longer has.
    """
    blob = pickle.dumps(string_list)  # pickled by reference: module and name
    name = string_list.__name__.encode()
    gone = b"gone_fn_xx1"  # same length, so the pickle's framing still holds
    assert len(gone) == len(name) and blob.count(name) == 1
    return blob.replace(name, gone)


@pytest.fixture
def old_task(root):
    """A task that reads `f`, created without a driver so its files can be edited first."""
    task = hc.task_create_expr("f('x')", namespace={"f": string_list}, driver=False)
    with pytest.raises(AttributeError, match="gone_fn_xx1"):
        pickle.loads(reference_to_a_missing_function())
    entries = {"f": ("value", reference_to_a_missing_function(), [])}
    signed = signing.sign(capture.pack(entries), "locals.pkl", task.id)  # as this user's
    store.write_plain(root.task_file(task.id, "locals.pkl"), signed)
    return task


def test_inputs_from_another_version_fail_naming_both_versions(root, old_task):
    edit_data(root, old_task.id, hipercow_version="0.0.1")
    hc.task_submit(old_task)
    assert old_task.wait(timeout=WAIT) is False
    info = old_task.info()
    assert info.status == "failure"
    assert info.reason.startswith("HipercowError: Can't load the task's inputs (AttributeError")
    assert (
        f"the task was created with hipercow-magic 0.0.1, but this node runs hipercow-magic "
        f"{__version__}." in info.reason
    )
    error = old_task.result()
    assert isinstance(error, hc.HipercowError)
    assert "Install hipercow-magic 0.0.1 where tasks run, or create the task again" in str(error)
    log = old_task.log()
    assert "! Note: the task was created with hipercow-magic 0.0.1, but this node runs " in log


def test_the_same_failure_from_this_version_is_the_plain_error(root, old_task):
    hc.task_submit(old_task)
    assert old_task.wait(timeout=WAIT) is False
    error = old_task.result()
    assert isinstance(error, AttributeError) and "gone_fn_xx1" in str(error)
    assert "hipercow-magic 0.0.1" not in old_task.log()


def test_another_python_is_refused_before_running(root):
    task = hc.task_create_expr("open('ran', 'w').close()", namespace={}, driver=False)
    edit_data(root, task.id, python_version="3.0")
    hc.task_submit(task)
    assert task.wait(timeout=WAIT) is False
    reason = task.info().reason
    assert reason.startswith("This node can't run the task: Python ")
    assert "but the task was created with Python 3.0" in reason
    assert not os.path.exists("ran")
