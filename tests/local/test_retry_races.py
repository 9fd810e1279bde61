"""Retries under races: processes retrying one failed task at once make one retry (and all
answer with it); retries made while a purge rewrites the map are never lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from processes import source_environment

import hipercow_magic as hc
from hipercow_magic.engine.retry import read_retry_map

WAIT = 60

RETRY = textwrap.dedent(
    """
    import json, sys
    import hipercow_magic as hc
    ids = sys.argv[2:]
    sys.stdin.readline()
    try:
        print(json.dumps([t.id for t in hc.task_retry(ids, driver=False, root=sys.argv[1])]))
    except hc.HipercowError as e:  # a racer that came after the retry: it is not finished
        print(json.dumps(str(e).splitlines()[0]))
    """
)

PURGE = textwrap.dedent(
    """
    import json, sys
    import hipercow_magic as hc
    ids = sys.argv[2:]
    sys.stdin.readline()
    for i in ids:
        hc.hipercow_purge(task_ids=[i], root=sys.argv[1])
    print(json.dumps(ids))
    """
)


def start(script, root, ids):
    return subprocess.Popen(
        [sys.executable, "-c", script, root.path, *ids],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=source_environment(),
    )


def run_together(procs) -> list:
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    return [json.loads(o[0].splitlines()[-1]) for o in outs]


def task_folders(root) -> set[str]:
    tasks = os.path.join(root.hipercow, "tasks")
    return {s + r for s in os.listdir(tasks) for r in os.listdir(os.path.join(tasks, s))}


def failed_tasks(n: int) -> list[str]:
    tasks = [hc.task_create_expr("1 / 0", namespace={}) for _ in range(n)]
    for t in tasks:
        assert t.wait(timeout=WAIT) is False
    return [t.id for t in tasks]


def test_processes_retrying_one_task_make_one_retry(root):
    rounds, racers = 10, 4
    for _ in range(rounds):
        (base,) = failed_tasks(1)
        before = task_folders(root)
        answers = run_together([start(RETRY, root, [base]) for _ in range(racers)])
        made = {a[0] for a in answers if isinstance(a, list)}
        late = [a for a in answers if not isinstance(a, list)]
        assert len(made) == 1  # every caller that retried got the same retry
        assert set(late) <= {"1 task does not have terminal status"}
        (new,) = made
        assert task_folders(root) - before == {new}  # and only one was made
        assert hc.task_info(base, follow=False).retry_chain == [base, new]
        assert hc.task_info(base).id == new
        assert hc.task_info(new).data["parent"] == base


def test_retries_racing_purge_are_never_lost(root):
    rounds = 8
    for _ in range(rounds):
        kept = failed_tasks(6)
        doomed = failed_tasks(6)
        hc.task_retry(doomed[:3], driver=False)  # purge rewrites chains too
        answers = run_together(
            [start(RETRY, root, kept[:3]), start(RETRY, root, kept[3:]), start(PURGE, root, doomed)]
        )
        retries = answers[0] + answers[1]
        chains = {b: t for t, _, b in read_retry_map(root)}
        for base, new in zip(kept, retries):
            assert chains[base] == new
            assert hc.task_info(base, follow=False).retry_chain == [base, new]
        gone = set(doomed)
        assert not gone & task_folders(root)
        assert not [r for r in read_retry_map(root) if r[2] in gone]
