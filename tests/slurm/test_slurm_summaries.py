"""On the project's real single-node Slurm: the rows every display shows (task_summaries)
give each task of a bundle its array element's job id and, while it waits, Slurm's reason in
words with what to do; once it ran, where it ran."""

import subprocess

import pytest
from processes import wait_until

import hipercow_magic as hm
from hipercow_magic.core.reasons import pending_words
from hipercow_magic.core.root import find_root
from hipercow_magic.core.task import ran_on
from hipercow_magic.drivers.registry import load_driver

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("in_root")]
WAIT = 180


def test_a_held_bundle_lists_each_element_with_its_job_id_and_why_it_waits():
    hm.hipercow_configure("slurm", poll_interval=0.5, sbatch_args=["--hold"])
    try:
        bundle = hm.task_create_bulk_call(lambda k: k * 2, [1, 2, 3], bundle_name="held")
    finally:
        hm.hipercow_configure("slurm", poll_interval=0.5)
    driver = load_driver(find_root(), "slurm")
    array = driver.job_record(bundle.ids[0])["array_job_id"]
    words, action = pending_words("JobHeldUser")

    def held_rows():
        rows = hm.task_summaries(bundle)
        return rows if all(r["pending"] == words for r in rows) else None

    rows = wait_until(held_rows, WAIT)
    assert [r["job_id"] for r in rows] == [f"{array}_{k}" for k in range(3)]
    assert [r["pending_action"] for r in rows] == [action] * 3
    assert [r["row"] for r in rows] == [{"k": "1"}, {"k": "2"}, {"k": "3"}]
    assert all(r["status"] == "submitted" and r["node"] is None for r in rows)
    subprocess.run(["scontrol", "release", array], check=True)
    assert bundle.wait(timeout=WAIT)
    rows = hm.task_summaries(bundle)
    assert [r["job_id"] for r in rows] == [None] * 3  # known while queued or running
    assert [r["pending"] for r in rows] == [None] * 3
    assert [r["node"] for r in rows] == [ran_on(find_root(), i) for i in bundle.ids]
    assert all(rows[k]["node"] for k in range(3))
