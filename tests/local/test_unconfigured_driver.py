"""Tasks whose driver can no longer be asked (its configuration was removed): a status
query says so instead of quietly showing the last known status, and a handle's repr
makes no status query at all.
"""

import warnings

import pytest

import hipercow_magic as hc
from hipercow_magic import HipercowWarning

WAIT = 60


@pytest.fixture
def running(root, capsys):
    """A task running on the local driver, whose configuration is then removed."""
    task = hc.task_create_expr("import time\ntime.sleep(60)", namespace={})
    assert task.wait(timeout=WAIT, for_start=True)
    hc.hipercow_unconfigure("local")
    capsys.readouterr()
    return task


def test_status_warns_naming_the_driver_that_cannot_be_asked(running):
    with pytest.warns(HipercowWarning) as caught:
        status = hc.task_status(running.id)
    assert status == "running"  # the last status known from its files
    [warning] = caught
    message = str(warning.message)
    assert message.startswith("Can't ask driver 'local' about 1 task, so it shows its last")
    assert "not configured for this root" in message
    assert warning.filename == __file__  # points at the caller, not at the package


def test_status_of_many_tasks_warns_once_per_driver(root, capsys):
    tasks = [hc.task_create_expr("import time\ntime.sleep(60)", namespace={}) for _ in range(2)]
    hc.hipercow_unconfigure("local")
    capsys.readouterr()
    with pytest.warns(HipercowWarning) as caught:
        statuses = hc.task_status(tasks)
    assert all(s in ("submitted", "running") for s in statuses)
    [warning] = caught
    assert "Can't ask driver 'local' about 2 tasks, so they show their" in str(warning.message)


def test_repr_makes_no_status_query(running):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a status query would warn (see above)
        shown = repr(running)
        assert shown == f"<hipercow task {running.id}>"
        assert repr([running, hc.Task(running.id)]) == f"[{shown}, {shown}]"


def test_repr_shows_a_final_status_once_known(root):
    task = hc.task_create_expr("1 + 1", namespace={})
    assert task.wait(timeout=WAIT)
    hc.hipercow_unconfigure("local")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert repr(task) == f"<hipercow task {task.id} (success)>"
