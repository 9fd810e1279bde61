"""Reading Slurm's output and writing sbatch options (no Slurm needed; real-Slurm tests are in
test_slurm.py). Samples are output captured from Slurm 22.05."""

import datetime as dt
import math
import os

import pytest

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.resources import hipercow_resources, validate_resources
from hipercow_magic.core.root import init_root
from hipercow_magic.core.usage import read_usage
from hipercow_magic.drivers.slurm import accounting, parse
from hipercow_magic.drivers.slurm.cluster import describe as _cluster_info
from hipercow_magic.drivers.slurm.endings import job_ending
from hipercow_magic.drivers.slurm.script import sbatch_options
from hipercow_magic.drivers.slurm.usage import UsageTracker

SINFO = "vm|4|16000|idle|alltasks*\nvm|4|16000|idle|bigmem\nvm|4|16000|idle|fast\n"
PARTITIONS = (
    "PartitionName=alltasks AllowGroups=ALL Default=YES MaxTime=UNLIMITED Nodes=vm State=UP\n"
    "PartitionName=bigmem AllowGroups=ALL Default=NO MaxTime=UNLIMITED Nodes=vm State=UP\n"
    "PartitionName=fast AllowGroups=ALL Default=NO MaxTime=01:00:00 Nodes=vm State=UP\n"
)
CONFIG = (
    "ClusterName             = hipercow\nMaxArraySize            = 1001\n"
    "JobCompLoc              = /var/log/slurm/jobcomp.log\n"
    "JobCompType             = jobcomp/filetxt\nSLURM_VERSION           = 22.05.8\n"
)


def test_time_limits_in_minutes():
    assert parse.minutes("UNLIMITED") is None
    assert parse.minutes("01:00:00") == 60
    assert parse.minutes("1-00:00:00") == 1440
    assert parse.minutes("2-12") == 2 * 1440 + 12 * 60
    assert parse.minutes("90") == 90
    assert parse.minutes("10:30") == 11  # minutes:seconds, rounded up


def test_cluster_info_from_sinfo_and_scontrol():
    info, extra = _cluster_info(SINFO, PARTITIONS, CONFIG, {"python_version": "3.11"})
    assert info.name == "hipercow"
    assert info.node_names == ["vm"]
    assert info.max_cores == 4
    assert info.max_memory == 15  # 16000 MB is less than 16 GB: --mem=16G would be refused
    assert info.queue_names == ["alltasks", "bigmem", "fast"]
    assert info.default_queue == "alltasks"
    assert info.queue_max_runtime("fast") == 60
    assert info.queue_max_runtime("alltasks") is None
    assert extra["max_array_size"] == 1001
    assert extra["jobcomp_file"] == "/var/log/slurm/jobcomp.log"
    # A configured partition becomes the default queue.
    info, _ = _cluster_info(SINFO, PARTITIONS, CONFIG, {"partition": "fast"})
    assert info.default_queue == "fast"


def test_squeue_rows_for_plain_jobs_and_array_elements():
    text = (
        "9|c7b1a25ab1e3170692d9d386284d68cb|COMPLETED|None|vm|2026-11-25T09:35:20|"
        "2026-11-25T09:35:20|UNLIMITED|alltasks|0\n"
        "11_2|hipercow-ceac8bafc340|PENDING|BeginTime|  |2026-11-25T10:00:00|"
        "2026-11-25T09:35:20|1:00:00|fast|0\n"
        "12|x|RUNNING|None|vm|2026-11-25T09:35:21|2026-11-25T09:35:20|UNLIMITED|fast|0\n"
        "13|y|FAILED|NonZeroExitCode|vm|2026-11-25T09:35:21|2026-11-25T09:35:20|UNLIMITED|"
        "fast|768\n"
    )
    rows = parse.squeue_rows(text)
    assert rows["9"].ended and rows["9"].node == "vm" and rows["9"].reason is None
    pending = rows["11_2"]
    assert pending.pending and pending.reason == "BeginTime" and pending.node is None
    assert pending.start == dt.datetime(2026, 11, 25, 10).timestamp()
    assert rows["12"].running and rows["12"].partition == "fast"
    assert rows["13"].exit_code == "3:0"
    assert rows["13"].ended_reason() == (
        "Slurm job 13 ended: the batch script failed [FAILED, exit code 3:0]"
    )


def test_sacct_and_jobcomp_rows():
    sacct = (
        "15_3|hipercow-abc|TIMEOUT|0:0|vm|2026-11-25T09:00:00|2026-11-25T09:01:20|"
        "2026-11-25T08:59:59|None|fast\n16|t|CANCELLED by 0|0:15|vm|Unknown|Unknown|"
        "2026-11-25T08:59:59|None|alltasks\n"
    )
    rows = parse.sacct_rows(sacct)
    assert rows["15_3"].state == "TIMEOUT"
    assert rows["16"].state == "CANCELLED" and rows["16"].start is None
    jobcomp = (
        "JobId=7 UserId=root(0) GroupId=root(0) Name=hc-test JobState=FAILED Partition=alltasks "
        "TimeLimit=UNLIMITED StartTime=2026-11-25T09:31:55 EndTime=2026-11-25T09:31:57 "
        "NodeList=vm NodeCnt=1 ProcCnt=1 SubmitTime=2026-11-25T09:31:52 ArrayJobId=2 "
        "ArrayTaskId=3 DerivedExitCode=0:0 ExitCode=3:0 \n"
        "JobId=8 UserId=root(0) GroupId=root(0) Name=solo JobState=TIMEOUT Partition=alltasks "
        "TimeLimit=1 StartTime=2026-11-25T09:31:57 EndTime=2026-11-25T09:33:19 NodeList=vm "
        "SubmitTime=2026-11-25T09:31:52 ExitCode=0:0 \n"
    )
    rows = parse.jobcomp_rows(jobcomp, {"2_3", "8"})
    assert rows["2_3"].state == "FAILED" and rows["2_3"].exit_code == "3:0"
    assert rows["8"].state == "TIMEOUT" and rows["8"].time_limit == "1"
    assert "time limit" in rows["8"].ended_reason()
    assert parse.jobcomp_rows(jobcomp, {"7"}) == {}  # array elements only by their array id


def test_ended_reasons_name_slurm_state():
    job = parse.JobState("5", "x", "OUT_OF_MEMORY", exit_code="0:125")
    assert job.ended_reason() == "Slurm job 5 ended: out of memory [OUT_OF_MEMORY, exit code 0:125]"
    assert "cancelled outside hipercow" in parse.JobState("5", "x", "CANCELLED").ended_reason()
    assert "node" in parse.JobState("5", "x", "NODE_FAIL").ended_reason()


def test_scancel_refusals():
    err = (
        "scancel: error: Kill job error on job id 5: Job/step already completing or completed\n"
        "scancel: error: Kill job error on job id 7_2: Invalid job id specified\n"
    )
    assert parse.scancel_refused(err) == {"5", "7_2"}


def test_resources_become_sbatch_options():
    info, _ = _cluster_info(
        SINFO + "gpu1|8|64000|idle|alltasks\ngpu2|8|64000|idle|alltasks\n", PARTITIONS, CONFIG, {}
    )
    hold = dt.datetime.now() + dt.timedelta(hours=1)
    r = validate_resources(
        hipercow_resources(
            cores=2,
            max_runtime="1h30",
            memory_per_node="8G",
            memory_per_process=2,
            priority="low",
            queue="bigmem",
            hold_until=hold,
            requested_nodes=["gpu1", "gpu2"],
        ),
        info,
    )
    opts = sbatch_options(r, {"account": "proj", "sbatch_args": ["--qos=short"]}, info.node_names)
    assert opts == [
        "--nodes=1",
        "--ntasks=1",
        "--cpus-per-task=2",
        "--partition=bigmem",
        "--account=proj",
        "--mem=8G",
        "--mem-per-cpu=2G",
        "--time=90",
        f"--begin={hold.strftime('%Y-%m-%dT%H:%M:%S')}",
        "--nice=1000",
        "--exclude=vm",
        "--qos=short",
    ]
    whole = sbatch_options(hipercow_resources(cores=math.inf), {}, info.node_names)
    assert "--exclusive" in whole and not any(o.startswith("--cpus") for o in whole)
    one = sbatch_options(
        hipercow_resources(requested_nodes="gpu2", exclusive=True), {}, info.node_names
    )
    assert "--nodelist=gpu2" in one and "--exclusive" in one


GPU_SINFO = (
    "vm|4|16000|idle|alltasks*|(null)\n"
    "g1|8|64000|idle|alltasks*|gpu:tesla:2(S:0)\n"
    "g2|8|64000|mixed|alltasks*|gpu:a100:4(S:0,1),mps:100\n"
)


def test_gpus_of_nodes_from_sinfo_gres():
    assert parse.gres_gpus("gpu:tesla:2(S:0)") == (2, ["tesla"])
    assert parse.gres_gpus("gpu:2") == (2, [])
    assert parse.gres_gpus("gpu:a100:2,gpu:v100:1,mps:100") == (3, ["a100", "v100"])
    assert parse.gres_gpus("gpu:a100:4(S:0,1)") == (4, ["a100"])
    assert parse.gres_gpus("(null)") == (0, [])
    info, _ = _cluster_info(GPU_SINFO, PARTITIONS, CONFIG, {})
    gpus = {n.name: (n.gpus, n.gpu_types) for n in info.nodes}
    assert gpus == {"vm": (0, []), "g1": (2, ["tesla"]), "g2": (4, ["a100"])}
    assert info.max_gpus == 4 and info.gpu_types == ["tesla", "a100"]


def test_gpu_requests_become_gres_and_are_refused_where_no_node_has_them():
    info, _ = _cluster_info(GPU_SINFO, PARTITIONS, CONFIG, {})
    typed = validate_resources(hipercow_resources(gpus=2, gpu_type="TESLA"), info)
    assert "--gres=gpu:tesla:2" in sbatch_options(typed, {}, info.node_names)
    any_kind = validate_resources(hipercow_resources(gpus=3), info)
    assert "--gres=gpu:3" in sbatch_options(any_kind, {}, info.node_names)
    assert not any("gres" in o for o in sbatch_options(hipercow_resources(), {}, []))
    with pytest.raises(HipercowError, match="(?s)5 GPUs are too many.*The most any node has is 4"):
        validate_resources(hipercow_resources(gpus=5), info)
    with pytest.raises(HipercowError, match="(?s)type .v100.*GPU types here: tesla, a100"):
        validate_resources(hipercow_resources(gpus=1, gpu_type="v100"), info)
    plain, _ = _cluster_info(SINFO, PARTITIONS, CONFIG, {})
    with pytest.raises(HipercowError, match="None of its nodes has GPUs"):
        validate_resources(hipercow_resources(gpus=1), plain)


# `sacct -n -P -o SACCT_FIELDS,USAGE_FIELDS` as Slurm 22.05 answers (steps included): a job
# that ended, an array element whose end is not recorded yet, one still running, one that
# never started.
SACCT_USAGE = (
    "17625|burn|COMPLETED|0:0|vm|2026-12-01T23:59:10|2026-12-01T23:59:16|2026-12-01T23:59:10|"
    "None|alltasks|00:10.548||6|2\n"
    "17625.batch|batch|COMPLETED|0:0|vm|2026-12-01T23:59:10|2026-12-01T23:59:16|"
    "2026-12-01T23:59:10||alltasks|00:10.548|223242K|6|2\n"
    "17621_0|arr|COMPLETED|0:0|vm|2026-12-01T23:59:10|2026-12-01T23:59:29|2026-12-01T23:59:10|"
    "None|alltasks|00:02.297||19|1\n"
    "17623_0|arr|RUNNING|0:0|vm|2026-12-01T23:59:10|Unknown|2026-12-01T23:59:10|None|"
    "alltasks|00:00:00||18|1\n"
    "17623_0.batch|batch|RUNNING|0:0|vm|2026-12-01T23:59:10|Unknown|2026-12-01T23:59:10||"
    "alltasks|00:00:00||18|1\n"
    "17630|queued|CANCELLED by 0|0:0|None assigned|Unknown|2026-12-01T23:59:12|"
    "2026-12-01T23:59:10|None|alltasks|00:00:00||0|0\n"
)


def test_final_figures_from_sacct_only_once_the_batch_step_is_recorded():
    answer = accounting.parse_sacct(SACCT_USAGE)
    assert set(answer.states) == {"17625", "17621_0", "17623_0", "17630"}
    assert set(answer.usage) == {"17625"}
    done = answer.usage["17625"]
    assert (done.wall, done.cpu, done.memory_peak) == (6.0, 10.548, 223242 * 1024)
    assert done.cores_average == pytest.approx(1.758)
    assert not done.running and done.source == "Slurm accounting (sacct)"
    assert answer.unrecorded == {"17621_0"}  # ran and ended: its figures come later
    assert answer.states["17630"].ended and "17630" not in answer.unrecorded


def test_live_readings_from_sstat():
    text = (
        "17622.batch|213503982334-14:25:51||\n"  # a step being torn down: no figures
        "17624.batch|00:00:09|657928K|16772K\n"
    )
    readings = accounting.parse_sstat(text)
    assert list(readings) == ["17624"]
    assert readings["17624"] == accounting.Reading(9.0, 657928 * 1024, 16772 * 1024)
    assert accounting.cpu_seconds("00:11.853") == pytest.approx(11.853)
    assert accounting.cpu_seconds("01:02:03") == 3723
    assert accounting.cpu_seconds("2-01:02:03") == 2 * 86400 + 3723
    assert accounting.cpu_seconds("") is None
    assert accounting.size_bytes("1.5G") == int(1.5 * 1024**3)
    assert accounting.size_bytes("0") == 0 and accounting.size_bytes("") is None


def test_jobs_ended_by_slurm_have_a_failure_class():
    oom = parse.JobState("12", "x", "OUT_OF_MEMORY", exit_code="0:125")
    assert job_ending(oom, None) == (
        "Slurm job 12 ended: out of memory [OUT_OF_MEMORY, exit code 0:125]",
        "out_of_memory",
    )
    # Without cgroups, Slurm's accounting kills the job: FAILED, and its output says why.
    killed = parse.JobState("13", "x", "FAILED", exit_code="0:9")
    output = (
        "hipercow: task abc on vm as Slurm job 13\n"
        "slurmstepd-vm: error: StepId=13.batch exceeded memory limit (323505152 > 104857600), "
        "being killed\nslurmstepd-vm: error: Exceeded job memory limit\n"
    )
    assert job_ending(killed, output) == (
        "Slurm job 13 ended: out of memory (peak 309 MB > limit 100 MB) [FAILED, exit code 0:9]",
        "out_of_memory",
    )
    timeout = parse.JobState("14", "x", "TIMEOUT", time_limit="1")
    assert job_ending(timeout, "") == (
        "Slurm job 14 ended: time limit reached (1) [TIMEOUT]",
        "timeout",
    )
    assert job_ending(parse.JobState("15", "x", "NODE_FAIL"), "")[1] == "node_failure"
    failed = parse.JobState("16", "x", "FAILED", exit_code="1:0")
    assert job_ending(failed, "python: not found") == (
        "Slurm job 16 ended: the batch script failed [FAILED, exit code 1:0]",
        None,
    )


def test_figures_accounting_has_not_recorded_yet_are_asked_for_again(tmp_path):
    root = init_root(str(tmp_path))[0]
    lagging, never_ran, other = "a1" * 16, "b2" * 16, "c3" * 16
    for task_id in (lagging, never_ran, other):
        os.makedirs(root.task_dir(task_id))
    tracker = UsageTracker(root)
    finished = {
        lagging: {"job_id": "17621_0", "name": "arr", "submitted": 0},
        never_ran: {"job_id": "17630", "name": "queued", "submitted": 0},
        other: {"job_id": "17625", "name": "not-this-job", "submitted": 0},
    }
    tracker.record(accounting.parse_sacct(SACCT_USAGE), finished)
    assert tracker.wanted() == {"17621_0": lagging}  # only the one whose end is not recorded
    assert all(read_usage(root, t) is None for t in finished)
    step = (
        "17621_0.batch|batch|COMPLETED|0:0|vm|2026-12-01T23:59:10|2026-12-01T23:59:29|"
        "2026-12-01T23:59:10||alltasks|00:02.297|323712K|19|1\n"
    )
    tracker.record(accounting.parse_sacct(SACCT_USAGE + step), {})
    figures = read_usage(root, lagging)
    assert (figures.wall, figures.cpu, figures.memory_peak) == (19.0, 2.297, 323712 * 1024)
    assert tracker.wanted() == {}
    tracker.expect(never_ran, finished[never_ran])  # nothing to read: not asked again
    assert tracker.wanted() == {}
    tracker.disable()  # a cluster without accounting: figures are simply unknown
    tracker.expect(other, finished[other])
    assert tracker.wanted() == {}
