"""Parallel work inside a task: hipercow_parallel's rules, the cores a task and its workers see,
the worker cluster (pool(), executor(), joblib) and its teardown, on the local driver."""

import os
import time

import pytest
from processes import pid_alive

import hipercow_magic as hc
from hipercow_magic.core import store
from hipercow_magic.core.environment import environment_path
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.parallel import validate_parallel
from hipercow_magic.node.cores import THREAD_VARIABLES, cluster_shape

WAIT = 60
CLUSTER_MESSAGES = [
    "Creating a parallel cluster with 2 processes, each with 1 core(s)",
    "Cluster ready to use",
    "Stopping cluster",
    "Cluster stopped",
]


def run(
    code,
    cores,
    method="parallel",
    cores_per_process=1,
    workers_environment=None,
    namespace=None,
    **kwargs,
):
    """Create a task with a parallel method, wait for it, return the handle."""
    task = hc.task_create_expr(
        code,
        namespace=namespace or {},
        resources=hc.hipercow_resources(cores=cores),
        parallel=hc.hipercow_parallel(method, cores_per_process, workers_environment),
        **kwargs,
    )
    task.wait(timeout=WAIT)
    assert task.status() in ("success", "failure"), task.log()
    return task


def log_lines(task) -> list[str]:
    return task.log().splitlines()


def cluster_lines(task) -> list[str]:
    wanted = ("Creating a parallel", "Cluster ", "Stopping cluster", "Running ")
    return [line for line in log_lines(task) if line.startswith(wanted)]


def save_environment(root, name, packages=(), sources=()):
    store.write_json(
        environment_path(root, name),
        {"name": name, "packages": list(packages), "sources": list(sources), "globals": []},
    )


def wait_gone(pids, timeout=10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if pid_alive(pid)]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def needs_cores(n):
    return pytest.mark.skipif(
        len(os.sched_getaffinity(0)) < n, reason=f"needs a machine with {n} CPUs"
    )


# ---- hipercow's rules and messages --------------------------------------------------------
def test_unknown_method_and_bad_cores_per_process():
    with pytest.raises(HipercowError) as e:
        hc.hipercow_parallel("magic")
    assert str(e.value) == (
        "Parallel method 'magic' unknown\nUse either 'future', 'parallel', or leave as None"
    )
    with pytest.raises(
        HipercowError, match="'cores_per_process' must be a positive integer, not 0"
    ):
        hc.hipercow_parallel("parallel", cores_per_process=0)
    with pytest.raises(HipercowError, match="'cores' must be a positive integer, not -1"):
        hc.hipercow_parallel_set_cores(-1)


def test_method_with_one_core_is_refused_and_nothing_is_written(example_root):
    with pytest.raises(HipercowError) as e:
        hc.task_create_expr("1", namespace={}, parallel=hc.hipercow_parallel("parallel"))
    assert str(e.value) == (
        "You chose parallel method 'parallel', with 1 core\n"
        "You need multiple cores for this - check your hipercow_resources"
    )
    with pytest.raises(HipercowError, match="You chose parallel method 'future', with 1 core"):
        hc.task_create_expr(
            "1",
            namespace={},
            parallel=hc.hipercow_parallel("future"),
            resources=hc.hipercow_resources(cores=1),
        )
    assert hc.task_list() == []


def test_cores_per_process_above_cores_or_without_method(example_root):
    with pytest.raises(HipercowError) as e:
        hc.task_create_expr(
            "1",
            namespace={},
            resources=hc.hipercow_resources(cores=4),
            parallel=hc.hipercow_parallel("parallel", cores_per_process=5),
        )
    assert str(e.value) == "You chose 5 cores per process, but requested only 4 cores in total"
    with pytest.raises(HipercowError) as e:
        hc.task_create_expr(
            "1",
            namespace={},
            resources=hc.hipercow_resources(cores=4),
            parallel=hc.hipercow_parallel(cores_per_process=2),
        )
    assert str(e.value) == "You chose 2 cores per process, but no parallel method is set"
    assert hc.task_list() == []


def test_validation_without_a_task():
    assert validate_parallel(None, 1) is None
    assert validate_parallel(hc.hipercow_parallel(), 1).method is None
    assert validate_parallel(hc.hipercow_parallel("future", 2), float("inf")).method == "future"


def test_leftover_cores_message(capsys):
    assert cluster_shape(32, 7) == 4
    assert capsys.readouterr().out == (
        "Running 7 cores per process leaves 4 unallocated cores on a 32-core task\n"
    )
    assert cluster_shape(4, 2) == 2
    assert capsys.readouterr().out == ""
    with pytest.raises(HipercowError, match="Couldn't find HIPERCOW_CORES environment variable"):
        cluster_shape(None, 1)


def test_leftover_cores_in_the_task_log(example_root):
    task = run(
        "import hipercow_magic as h\n"
        "[h.hipercow_parallel_get_cores()] + "
        "h.pool().map(lambda _: h.hipercow_parallel_get_cores(), range(3))",
        cores=4,
        cores_per_process=3,
    )
    assert task.result() == [4, 3, 3, 3]
    assert cluster_lines(task) == [
        "Running 3 cores per process leaves 1 unallocated cores on a 4-core task",
        "Creating a parallel cluster with 1 processes, each with 3 core(s)",
        "Cluster ready to use",
        "Stopping cluster",
        "Cluster stopped",
    ]


# ---- the seed's examples ------------------------------------------------------------------
def test_seed_core_counts_one_core_per_process(example_root):
    task = run(
        "import hipercow_magic\n"
        "[hipercow_magic.hipercow_parallel_get_cores()] + hipercow_magic.pool().map(\n"
        "    lambda x: hipercow_magic.hipercow_parallel_get_cores(), range(4))",
        cores=4,
    )
    assert task.status() == "success"
    assert task.result() == [4, 1, 1, 1, 1]
    assert cluster_lines(task) == [
        "Creating a parallel cluster with 4 processes, each with 1 core(s)",
        "Cluster ready to use",
        "Stopping cluster",
        "Cluster stopped",
    ]


def test_seed_core_counts_two_cores_per_process(example_root):
    task = run(
        "import hipercow_magic\n"
        "[hipercow_magic.hipercow_parallel_get_cores()] + hipercow_magic.pool().map(\n"
        "    lambda x: hipercow_magic.hipercow_parallel_get_cores(), range(2))",
        cores=4,
        cores_per_process=2,
    )
    assert task.result() == [4, 2, 2]
    assert cluster_lines(task)[0] == (
        "Creating a parallel cluster with 2 processes, each with 2 core(s)"
    )


def test_more_work_than_workers_queues(root):
    code = (
        "import os, time, hipercow_magic\n"
        "def nap(x):\n"
        "    start = time.time()\n"
        "    time.sleep(2)\n"
        "    return os.getpid(), start, time.time()\n"
        "hipercow_magic.pool().map(nap, range(3))"
    )
    task = run(code, cores=2)
    spans = task.result()
    assert len({pid for pid, _, _ in spans}) == 2
    # the third job starts only once one of the first two has finished
    first_end = min(end for _, _, end in spans[:2])
    assert spans[2][1] >= first_end - 0.01
    times = hc.task_times(task)[0]
    assert times["finished"] - times["started"] >= 4.0
    assert cluster_lines(task) == CLUSTER_MESSAGES


# ---- cores, variables and thread limits ----------------------------------------------------
def test_variables_and_runtime_thread_limits_in_main_and_workers(root):
    pytest.importorskip("numpy")
    save_environment(root, "numeric", packages=["numpy"])
    code = (
        "import os, time, numpy, hipercow_magic, threadpoolctl\n"
        "NAMES = " + repr(THREAD_VARIABLES) + "\n"
        "def report(_):\n"
        "    time.sleep(0.2)\n"
        "    pools = threadpoolctl.threadpool_info()\n"
        "    return ({n: os.environ[n] for n in NAMES},\n"
        "            sorted({p['num_threads'] for p in pools}),\n"
        "            (os.getpid(), numpy.random.random()))\n"
        "main = report(None)\n"
        "workers = hipercow_magic.pool().map(report, range(2), chunksize=1)\n"
        "hipercow_magic.hipercow_parallel_set_cores(1)\n"
        "after = report(None)\n"
        "main, workers, after"
    )
    task = run(code, cores=2, environment="numeric")
    assert task.status() == "success", task.log()
    main, workers, after = task.result()
    assert main[0] == dict.fromkeys(THREAD_VARIABLES, "2")
    assert main[1] and max(main[1]) <= 2
    for variables, threads, _ in workers:
        assert variables == dict.fromkeys(THREAD_VARIABLES, "1")
        # numpy's BLAS was loaded before the workers existed: limited at run time
        assert threads == [1]
    # each worker draws its own random numbers, though forked from one numpy state
    assert len({pid for _, _, (pid, _) in workers}) == 2
    assert len({draw for _, _, (_, draw) in workers}) == 2
    assert after[0] == dict.fromkeys(THREAD_VARIABLES, "1") and after[1] == [1]


@needs_cores(2)
def test_each_worker_gets_its_own_cpus(root):
    code = (
        "import os, time, hipercow_magic\n"
        "def where(_):\n"
        "    time.sleep(0.3)\n"
        "    return os.getpid(), sorted(os.sched_getaffinity(0))\n"
        "sorted(os.sched_getaffinity(0)), hipercow_magic.pool().map(where, range(2))"
    )
    task = run(code, cores=2)
    main_cpus, workers = task.result()
    assert len(main_cpus) == 2
    assert len({pid for pid, _ in workers}) == 2
    worker_cpus = [cpus for _, cpus in workers]
    assert all(len(c) == 1 for c in worker_cpus)
    assert sorted(c[0] for c in worker_cpus) == main_cpus


def test_increasing_cores_prints_the_note(root):
    code = (
        "import hipercow_magic as h\n"
        "h.hipercow_parallel_set_cores(1)\n"
        "h.hipercow_parallel_set_cores(2)\n"
        "h.hipercow_parallel_get_cores()"
    )
    task = hc.task_create_expr(code, namespace={}, resources=hc.hipercow_resources(cores=2))
    assert task.wait(timeout=WAIT)
    assert task.result() == 2
    notes = [line for line in log_lines(task) if line.startswith("Note:")]
    assert notes == ["Note: increasing cores alone is unlikely to improve performance"]


# ---- notebook-defined code in both methods -----------------------------------------------
NOTEBOOK_CODE = """
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def norm2(self):
        return self.x ** 2 + self.y ** 2

def norm2(p):
    return p.norm2()

offset = 100
"""


def notebook_namespace() -> dict:
    """Functions and classes as a notebook defines them: in module `__main__`."""
    namespace = {"__name__": "__main__"}
    exec(NOTEBOOK_CODE, namespace)
    assert namespace["norm2"].__module__ == "__main__"
    return namespace


def test_notebook_functions_lambdas_and_classes_with_pool(root):
    code = (
        "import hipercow_magic\n"
        "p = hipercow_magic.pool()\n"
        "points = [Point(i, 1) for i in range(4)]\n"
        "a = p.map(norm2, points)\n"
        "b = p.starmap(lambda x, y: Point(x, y).norm2() + offset, [(1, 2), (3, 4)])\n"
        "c = list(p.imap(lambda q: q.x, points))\n"
        "d = p.apply_async(Point, (5, 6)).get(timeout=30)\n"
        "e = sorted(p.imap_unordered(abs, [-1, -2]))\n"
        "def callbacks():\n"
        "    got, failed = [], []\n"
        "    ok = p.apply_async(abs, (-3,), callback=got.append)\n"
        "    bad = p.map_async(lambda x: 1 / x, [0], error_callback=failed.append)\n"
        "    ok.wait(30), bad.wait(30)\n"
        "    return got, [type(x).__name__ for x in failed], ok.successful(), bad.successful()\n"
        "f = callbacks()\n"
        "a, b, c, (type(d).__name__, d.norm2(), isinstance(d, Point)), e, f, p.processes"
    )
    task = run(code, cores=2, namespace=notebook_namespace())
    assert task.status() == "success", task.log()
    assert task.result() == (
        [1, 2, 5, 10],
        [105, 125],
        [0, 1, 2, 3],
        ("Point", 61, True),
        [1, 2],
        ([3], ["ZeroDivisionError"], True, False),
        2,
    )


def test_notebook_functions_with_executor_in_method_future(root):
    code = (
        "import concurrent.futures, hipercow_magic\n"
        "with hipercow_magic.executor() as ex:\n"
        "    done = [ex.submit(norm2, Point(i, 0)) for i in range(3)]\n"
        "    mapped = list(ex.map(lambda v, w: v + w + offset, [1, 2], [0, 0], chunksize=2))\n"
        "done = [f.result() for f in done]\n"
        "again = hipercow_magic.executor().submit(lambda: 'still running').result()\n"
        "isinstance(ex, concurrent.futures.Executor), done, mapped, again"
    )
    task = run(code, cores=2, method="future", namespace=notebook_namespace())
    assert task.status() == "success", task.log()
    assert task.result() == (True, [0, 1, 4], [101, 102], "still running")
    assert cluster_lines(task) == CLUSTER_MESSAGES


def test_functions_defined_in_the_task_code(root):
    code = (
        "import hipercow_magic\n"
        "def twice(x):\n"
        "    return 2 * x\n"
        "results = hipercow_magic.pool().map(twice, range(5))\n"
        "results"
    )
    task = run(code, cores=2)
    assert task.result() == [0, 2, 4, 6, 8]
    assert task.exports()["results"] == [0, 2, 4, 6, 8]


def test_workers_load_a_different_environment(root):
    with open(os.path.join(root.path, "helpers.py"), "w") as f:
        f.write(
            "import os\nos.environ['LOADED_IN'] = 'workers'\ndef helper(x):\n    return x * 10\n"
        )
    save_environment(root, "workers", sources=["helpers.py"])
    # a notebook function using a name that only the workers' environment defines
    notebook = {"__name__": "__main__"}
    exec("def use_helper(x):\n    return helper(x)\n", notebook)
    code = (
        "import os, hipercow_magic\n"
        "p = hipercow_magic.pool()\n"
        "(os.environ.get('LOADED_IN'), p.map(lambda _: os.environ.get('LOADED_IN'), [1, 2]),\n"
        " p.map(use_helper, [1, 2]))"
    )
    task = run(
        code,
        cores=2,
        workers_environment="workers",
        namespace={"use_helper": notebook["use_helper"]},
    )
    assert task.status() == "success", task.log()
    assert task.result() == (None, ["workers", "workers"], [10, 20])


def test_errors_in_jobs_come_back_with_the_workers_traceback(root):
    code = (
        "import hipercow_magic\n"
        "def fails(x):\n"
        "    raise ValueError(f'bad value {x}')\n"
        "hipercow_magic.pool().map(fails, [7])"
    )
    task = run(code, cores=2)
    assert task.status() == "failure"
    error = task.result()
    assert isinstance(error, ValueError) and str(error) == "bad value 7"
    log = task.log()
    trace = log[log.index("Traceback (most recent call last):") :]
    worker = trace[trace.index("  ── in worker ") :]  # the worker's frames, under the task's
    assert "in fails" in worker and "ValueError: bad value 7" in worker
    assert "hipercow_magic/node/" not in trace
    assert log.index("Stopping cluster") < log.index("Cluster stopped")


def test_workers_are_titled_with_their_task_and_number(root):
    # What ps, top and `pkill -f ID` see: the task's process and its workers, by task id.
    code = (
        "import psutil\n"
        "def title(p):\n"
        "    return ' '.join(filter(None, p.cmdline()))  # the title is NUL-padded\n"
        "def name(p):\n"
        "    return open(f'/proc/{p.pid}/comm').read().strip()\n"
        "me = psutil.Process()\n"
        "(title(me), sorted((title(c), name(c)) for c in me.children()))"
    )
    task = run(code, cores=2)
    assert task.status() == "success", task.log()
    title, workers = task.result()
    assert title == f"hipercow task {task.id} ({root.path})"
    assert workers == [
        (f"hipercow task {task.id} worker {n}", f"hc-{task.id[:8]}-w{n}") for n in (1, 2)
    ]


def test_pool_outside_a_cluster_says_how_to_get_one(root):
    with pytest.raises(HipercowError, match="There is no parallel cluster in this process"):
        hc.pool()
    task = hc.task_create_expr(
        "import hipercow_magic\nhipercow_magic.executor()",
        namespace={},
        resources=hc.hipercow_resources(cores=2),
    )
    task.wait(timeout=WAIT)
    assert task.status() == "failure"
    assert "parallel=hipercow_parallel('parallel')" in str(task.result())


# ---- joblib --------------------------------------------------------------------------------
JOBLIB_CODE = (
    "import os, joblib, hipercow_magic\n"
    "def slow_pid(_):\n"
    "    import time\n"
    "    time.sleep(0.1)\n"
    "    return os.getpid()\n"
    "workers = set(hipercow_magic.pool().map(slow_pid, range(4), chunksize=1))\n"
    "used = set(joblib.Parallel(n_jobs=-1)(joblib.delayed(slow_pid)(i)"
    " for i in range(12)))\n"
    "capped = set(joblib.Parallel(n_jobs=16)(joblib.delayed(slow_pid)(i)"
    " for i in range(12)))\n"
    "inner = joblib.Parallel(n_jobs=2)(joblib.delayed(\n"
    "    lambda: joblib.effective_n_jobs(-1))() for _ in range(2))\n"
    "(joblib.effective_n_jobs(-1), len(workers), used <= workers, len(used),"
    " capped <= workers, os.getpid() in used, inner)"
)


def test_joblib_uses_exactly_the_workers(example_root):
    pytest.importorskip("joblib")
    task = run(JOBLIB_CODE, cores=4, cores_per_process=2, method="future")
    assert task.status() == "success", task.log()
    n_jobs, workers, subset, used, capped, in_main, inner = task.result()
    assert (n_jobs, workers, subset, capped, in_main) == (2, 2, True, True, False)
    assert used == 2
    # inside a worker, joblib sees that worker's cores
    assert inner == [2, 2]


def test_joblib_imported_before_the_cluster(root):
    pytest.importorskip("joblib")
    save_environment(root, "with-joblib", packages=["joblib"])
    task = run(JOBLIB_CODE, cores=2, environment="with-joblib")
    assert task.status() == "success", task.log()
    n_jobs, workers, subset, used, capped, in_main, inner = task.result()
    assert (n_jobs, workers, subset, capped, in_main, used) == (2, 2, True, True, False, 2)
    assert inner == [1, 1]


# ---- teardown ------------------------------------------------------------------------------
PIDS_CODE = (
    "import json, os, subprocess, hipercow_magic\n"
    "p = hipercow_magic.pool()\n"
    "def spawn(_):\n"
    "    import time\n"
    "    child = subprocess.Popen(['sleep', '120'])\n"
    "    time.sleep(0.2)\n"
    "    return os.getpid(), child.pid\n"
    "pids = p.map(spawn, range(2), chunksize=1)\n"
    "open('pids.json', 'w').write(json.dumps(pids))\n"
)


def read_pids(root) -> list[int]:
    path = os.path.join(root.path, "pids.json")
    deadline = time.monotonic() + WAIT
    while not os.path.exists(path):
        assert time.monotonic() < deadline, "the task never wrote its worker pids"
        time.sleep(0.05)
    return [pid for pair in store.read_json(path) for pid in pair]


def test_teardown_after_failure_leaves_no_process(root):
    task = run(
        PIDS_CODE + "p.map_async(__import__('time').sleep, [60, 60])\n"
        "raise RuntimeError('task failed on purpose')",
        cores=2,
    )
    assert task.status() == "failure"
    assert str(task.result()) == "task failed on purpose"
    pids = read_pids(root)
    assert len(set(pids)) == 4
    assert wait_gone(pids) == []
    lines = cluster_lines(task)
    assert lines == CLUSTER_MESSAGES


def test_teardown_after_cancel_leaves_no_process(root):
    task = hc.task_create_expr(
        PIDS_CODE + "p.map(__import__('time').sleep, [120, 120])",
        namespace={},
        resources=hc.hipercow_resources(cores=2),
        parallel=hc.hipercow_parallel("parallel"),
    )
    pids = read_pids(root)
    assert all(pid_alive(pid) for pid in pids)
    task.cancel()
    assert task.wait(timeout=WAIT) is not None
    assert task.status() == "cancelled"
    assert wait_gone(pids) == []


def test_a_dying_worker_fails_the_task_and_leaves_no_process(root):
    code = (
        "import os, hipercow_magic\n"
        "pids = hipercow_magic.pool().map(lambda _: os.getpid(), range(2), chunksize=1)\n"
        "open('pids.json', 'w').write(repr([pids]))\n"
        "hipercow_magic.pool().map(lambda _: os._exit(3), [1])"
    )
    task = run(code, cores=2)
    assert task.status() == "failure"
    assert "stopped unexpectedly (exit code 3)" in str(task.result())
    pids = read_pids(root)
    assert wait_gone(pids) == []
    assert cluster_lines(task) == CLUSTER_MESSAGES


@pytest.mark.slow
def test_teardown_after_timeout_leaves_no_process(root):
    task = hc.task_create_expr(
        PIDS_CODE + "p.map(__import__('time').sleep, [300, 300])",
        namespace={},
        resources=hc.hipercow_resources(cores=2, max_runtime=1),
        parallel=hc.hipercow_parallel("parallel"),
    )
    pids = read_pids(root)
    assert task.wait(timeout=120) is not None
    assert task.status() == "failure"
    assert "max_runtime" in str(task.result())
    assert wait_gone(pids) == []


def test_no_process_left_when_the_task_ends(root):
    task = run(PIDS_CODE, cores=2)
    assert task.status() == "success"
    assert wait_gone(read_pids(root)) == []


def test_cluster_in_python_without_tasks_cleans_up():
    """The cluster also works when started by hand in this process (as the runner does)."""
    from hipercow_magic.node.cluster import running_cluster

    with running_cluster(2, 1, {"__name__": "__main__"}) as cluster:
        assert hc.pool().map(abs, [-1, -2, -3]) == [1, 2, 3]
        pids = [w.pid for w in cluster._workers]
    assert wait_gone(pids) == []
    with pytest.raises(HipercowError):
        hc.pool()


def test_a_failing_worker_environment_fails_the_task(root):
    with open(os.path.join(root.path, "broken.py"), "w") as f:
        f.write("raise ImportError('no such data on this node')\n")
    save_environment(root, "broken", sources=["broken.py"])
    task = run("1", cores=2, workers_environment="broken")
    assert task.status() == "failure"
    message = str(task.result())
    assert message.startswith("Starting the parallel cluster failed:")
    assert "ImportError: no such data on this node" in message
    assert "Cluster ready to use" not in task.log()
