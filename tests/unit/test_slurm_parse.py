"""Reading Slurm's output and writing sbatch options (no Slurm needed; real-Slurm tests are in
test_slurm.py). Samples are output captured from Slurm 22.05."""

import datetime as dt
import math

from hipercow_magic.core.resources import hipercow_resources, validate_resources
from hipercow_magic.drivers.slurm import parse
from hipercow_magic.drivers.slurm.cluster import describe as _cluster_info
from hipercow_magic.drivers.slurm.script import sbatch_options

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
