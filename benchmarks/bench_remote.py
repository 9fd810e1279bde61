"""A root reached over SSH against the same root kept on this machine: prints a table,
asserts nothing.

On the project's cluster behind SSH (scripts/start-sshd.sh: sshd on 127.0.0.1:2222, the
user `hpc`), the local driver runs on the remote side; each figure has the same measurement
on a plain local root beside it, taken in the same run:

1. a bulk of N (default 1,000) tasks submitted (`task_submit` of tasks created without a
   driver, held with hold_until so they stay queued; median of 3 bulks), with the remote
   commands it took (sshd's log: run it alone); target <= 3 s over SSH. Creating them is
   timed too: here it writes their files, which the remote side writes at submission;
2. one status poll (`task_status`) of those N active tasks (median of --repeats); target
   <= 1 s;
3. one trivial task, create to result in hand (median of --tasks); target <= 300 ms;
4. floors: `ssh hipercow-cluster true` over the root's open master connection, and on the
   remote side the start of `python -c pass` and of the agent answering one request
   (`python -m hipercow_magic.drivers.remote_agent`, timed there, without SSH).

The master connection is open before anything is timed (hipercow_init opens it): the one
login it costs is not part of any figure. Tasks left are cancelled at the end; each root's
local scheduler then stops by itself (idle_timeout).
Usage: python benchmarks/bench_remote.py [--tasks-in-bulk N] [--tasks 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hipercow_magic as hc  # noqa: E402
from hipercow_magic.drivers.registry import load_driver  # noqa: E402
from hipercow_magic.drivers.remote import wire  # noqa: E402

CLUSTER = "hipercow-cluster"
SSHD_LOG = "/var/log/hipercow-sshd.log"
COMMAND = re.compile(r"Starting session: command for hpc ")


def quiet():
    return contextlib.redirect_stdout(io.StringIO())


def sshd_commands() -> int:
    """Remote commands the test cluster's sshd started so far (all users of it)."""
    try:
        with open(SSHD_LOG, errors="replace") as f:
            return sum(bool(COMMAND.search(line)) for line in f)
    except OSError:
        return 0


def make_root(remote: bool) -> tuple[str, str | None]:
    """A fresh root on the local driver, on the cluster behind SSH or on this machine; its
    folder, and the remote root's folder there.
    """
    folder = tempfile.mkdtemp(prefix=f"bench-remote-{'ssh' if remote else 'here'}-")
    os.chdir(folder)
    os.environ["HIPERCOW_KEY_FILE"] = os.path.join(folder, "..", os.path.basename(folder) + ".key")
    where = {}
    if remote:
        where = {"ssh": CLUSTER, "remote_root": f"~/roots/bench-{uuid.uuid4().hex[:10]}"}
    with quiet():
        root = hc.hipercow_init(folder, driver="local", idle_timeout=20, **where)
    remote_root = root.driver_config("local").get("remote", {}).get("remote_root")
    return folder, remote_root


def bulk_and_poll(n: int, repeats: int) -> dict:
    """Seconds to create a bulk of n tasks and to submit it held (medians of 3 bulks), to
    poll the last one (median of `repeats` polls), and the remote commands a submission took.
    """
    held = hc.hipercow_resources(hold_until=60)
    hc.hipercow_cluster_info()  # described once, as any earlier call would have done
    creates, submits, commands, ids = [], [], [], []
    try:
        for _ in range(3):
            t0 = time.perf_counter()
            with quiet():
                bundle = hc.task_create_bulk_expr(
                    "x + 1", [{"x": i} for i in range(n)], driver=False
                )
            creates.append(time.perf_counter() - t0)
            ids += bundle.ids
            before, t0 = sshd_commands(), time.perf_counter()
            with quiet():
                hc.task_submit(bundle.ids, resources=held)
            submits.append(time.perf_counter() - t0)
            commands.append(sshd_commands() - before)
        polls = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            statuses = hc.task_status(bundle.ids)
            polls.append(time.perf_counter() - t0)
            assert set(statuses) == {"submitted"}, set(statuses)
    finally:
        with quiet():
            hc.task_cancel(ids)
    return {
        "create": statistics.median(creates),
        "submit": statistics.median(submits),
        "submits": submits,
        "commands": max(commands),
        "poll": statistics.median(polls),
    }


def round_trips(count: int) -> float:
    """Median seconds from creating a trivial task to its result in hand."""
    times = []
    for i in range(count):
        t0 = time.perf_counter()
        task = hc.task_create_expr(f"{i} + 1")
        assert task.wait(timeout=60) and task.result() == i + 1
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:] or times)  # the first starts the scheduler


def ssh_floor(control_path: str, count: int) -> float:
    """Median seconds of `ssh CLUSTER true` over the root's open master."""
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        subprocess.run(
            ["ssh", "-o", f"ControlPath={control_path}", "-T", CLUSTER, "true"],
            check=True,
            stdin=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# Run on the remote side: median seconds of each command there, N runs each.
REMOTE_TIMER = """
import statistics, subprocess, sys, time
request, root, count = bytes.fromhex(sys.argv[1]), sys.argv[2], int(sys.argv[3])
commands = {
    "pass": ([sys.executable, "-c", "pass"], b""),
    "agent": ([sys.executable, "-m", "hipercow_magic.drivers.remote_agent", root], request),
}
for name, (command, stdin) in commands.items():
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        subprocess.run(command, input=stdin, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    print(name, statistics.median(times))
"""


def starts(root_path: str, count: int, control_path: str | None = None) -> dict:
    """Median seconds of `python -c pass` and of the agent answering a hello request about
    the root at `root_path`, timed where it lives: on the remote side over the master at
    `control_path`, else on this machine.
    """
    request = wire.encode({"op": "hello"}).hex()
    arguments = f"- {request} {root_path} {count}"
    if control_path:
        command = ["ssh", "-o", f"ControlPath={control_path}", CLUSTER, f"python3 {arguments}"]
    else:
        command = [sys.executable, *arguments.split()]
    out = subprocess.run(
        command, input=REMOTE_TIMER, capture_output=True, text=True, check=True
    ).stdout
    return {name: float(value) for name, value in (line.split() for line in out.splitlines())}


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f} ms"


def spread(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values) + " s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks-in-bulk", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=20, help="round trips timed")
    parser.add_argument("--repeats", type=int, default=5, help="polls timed")
    args = parser.parse_args()
    n = args.tasks_in_bulk

    results = {}
    for remote in (True, False):
        folder, remote_root = make_root(remote)
        figures = bulk_and_poll(n, args.repeats)
        figures["trip"] = round_trips(args.tasks)
        if remote:
            from hipercow_magic.core.root import find_root

            control = load_driver(find_root(folder), "local").connection.control_path
            figures["ssh"] = ssh_floor(control, args.tasks)
            figures.update(starts(remote_root, 10, control))
        else:
            figures["ssh"] = None
            figures.update(starts(folder, 10))
        results[remote] = figures

    ssh, here = results[True], results[False]
    rows = [
        (f"{n:,} tasks created (no driver)", ms(ssh["create"]), ms(here["create"]), ""),
        (f"{n:,} tasks submitted (held)", ms(ssh["submit"]), ms(here["submit"]), "<= 3 s"),
        ("   each of the 3 bulks", spread(ssh["submits"]), spread(here["submits"]), ""),
        ("   remote commands for one", str(ssh["commands"]), "-", "1"),
        (f"status poll of {n:,} active tasks", ms(ssh["poll"]), ms(here["poll"]), "<= 1 s"),
        ("one trivial task, create to result", ms(ssh["trip"]), ms(here["trip"]), "<= 300 ms"),
        ("floor: ssh true over the open master", ms(ssh["ssh"]), "-", ""),
        ("floor: python -c pass (remote side)", ms(ssh["pass"]), ms(here["pass"]), ""),
        ("floor: remote_agent answering hello", ms(ssh["agent"]), ms(here["agent"]), ""),
    ]
    widths = [
        max(len(r[k]) for r in rows + [("", "over SSH", "this machine", "target")])
        for k in range(4)
    ]
    header = ("", "over SSH", "this machine", "target")
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}")
    print(
        f"(medians: {args.repeats} polls, {args.tasks} round trips and ssh calls, 10 process "
        "starts; the remote side is this machine's hpc account, so only SSH and the transfer "
        "differ)"
    )


if __name__ == "__main__":
    main()
