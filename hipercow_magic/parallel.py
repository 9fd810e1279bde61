"""hipercow_parallel(): how a multi-core task uses its cores, and the cores variables.

On the node every task gets its cores in HIPERCOW_CORES and the thread-count variables, and
BLAS/OpenMP pools already loaded are limited at run time. With a method, the task's code runs
beside a cluster of worker processes (hipercow_magic.pool); both methods give the same workers,
reached with `pool()` (multiprocessing style) or `executor()` (concurrent.futures style).
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import asdict, dataclass

from .environment import load_environment
from .errors import HipercowError

METHODS = ("parallel", "future")
THREAD_VARIABLES = (
    "HIPERCOW_CORES", "OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS", "MC_CORES", "LOKY_MAX_CPU_COUNT", "POLARS_MAX_THREADS",
    "RAYON_NUM_THREADS", "BLIS_NUM_THREADS",
)
NATIVE_POOL_LIBRARIES = ("openblas", "libmkl", "libblis", "flexiblas", "libgomp", "libiomp",
                         "libomp")


@dataclass
class Parallel:
    method: str | None = None
    cores_per_process: int = 1
    environment: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _positive_int(value, name: str) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) or (
        isinstance(value, float) and value.is_integer())
    if not ok or value < 1:
        raise HipercowError(f"'{name}' must be a positive integer, not {value}")
    return int(value)


def hipercow_parallel(method: str | None = None, cores_per_process: int = 1,
                      environment: str | None = None) -> Parallel:
    """How a multi-core task uses its cores: with method 'parallel' or 'future', the task's code
    gets `cores // cores_per_process` worker processes (hipercow_magic.pool() and .executor();
    joblib's default), each with `cores_per_process` cores and the `environment` loaded
    (default: the task's own)."""
    if method is not None and method not in METHODS:
        raise HipercowError(
            f"Parallel method '{method}' unknown\n"
            "Use either 'future', 'parallel', or leave as None"
        )
    return Parallel(method, _positive_int(cores_per_process, "cores_per_process"), environment)


def validate_parallel(parallel: Parallel | None, cores: float) -> Parallel | None:
    """Check the method against the task's cores (hipercow's rules and messages)."""
    if parallel is None:
        return None
    cpp = parallel.cores_per_process
    if parallel.method is None:
        if cpp > 1:
            raise HipercowError(
                f"You chose {cpp} cores per process, but no parallel method is set"
            )
        return parallel
    if cores == 1:
        raise HipercowError(
            f"You chose parallel method '{parallel.method}', with 1 core\n"
            "You need multiple cores for this - check your hipercow_resources"
        )
    if cores != math.inf and cpp > cores:
        raise HipercowError(
            f"You chose {cpp} cores per process, but requested only {int(cores)} cores in total"
        )
    return parallel


def hipercow_parallel_get_cores() -> int | None:
    """The cores this task (or pool worker) was given, from HIPERCOW_CORES."""
    value = os.environ.get("HIPERCOW_CORES")
    return int(value) if value else None


def hipercow_parallel_set_cores(cores: int) -> None:
    """Set HIPERCOW_CORES and every thread-count variable to `cores`, and limit the
    BLAS/OpenMP thread pools already loaded in this process to `cores` threads."""
    cores = _positive_int(cores, "cores")
    current = hipercow_parallel_get_cores()
    if current is not None and cores > current:
        print("Note: increasing cores alone is unlikely to improve performance")
    for name in THREAD_VARIABLES:
        os.environ[name] = str(cores)
    limit_native_pools(cores)


def limit_native_pools(cores: int) -> None:
    """Limit loaded BLAS/OpenMP pools (threadpoolctl), which read the variables only once."""
    if _native_pools_loaded():
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=cores)


def _native_pools_loaded() -> bool:
    """Whether a BLAS or OpenMP library is mapped into this process (a cheap look first)."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return True
    return any(name in maps for name in NATIVE_POOL_LIBRARIES)


def cluster_shape(cores: int | None, cores_per_process: int) -> int:
    """How many worker processes a task's cores make; says so when cores are left over."""
    if cores is None:
        raise HipercowError("Couldn't find HIPERCOW_CORES environment variable.")
    processes = cores // cores_per_process
    if processes < 1:
        raise HipercowError(
            f"You chose {cores_per_process} cores per process, but this task has only "
            f"{cores} cores"
        )
    leftover = cores - processes * cores_per_process
    if leftover:
        print(f"Running {cores_per_process} cores per process leaves {leftover} unallocated "
              f"cores on a {cores}-core task")
    return processes


def set_task_cores() -> int | None:
    """On the node: the task's cores (HIPERCOW_CORES) into every variable and run-time limit.
    Safe to call more than once (before the environment loads, and again before the code)."""
    cores = hipercow_parallel_get_cores()
    if cores is not None:
        hipercow_parallel_set_cores(cores)
    return cores


@contextlib.contextmanager
def task_context(root, data: dict, namespace: dict):
    """Set the task's cores before its code runs and, with a method, run its worker cluster."""
    cores = set_task_cores()
    spec = data.get("parallel") or {}
    if not spec.get("method"):
        yield
        return
    from .pool import running_cluster

    cores_per_process = spec.get("cores_per_process") or 1
    processes = cluster_shape(cores, cores_per_process)
    environment = spec.get("environment")
    if environment in (None, data.get("environment", "default")):
        setup = None  # the workers start as copies of this process, environment loaded
    else:
        def setup(worker_namespace: dict) -> None:
            load_environment(root, environment, worker_namespace)
    with running_cluster(processes, cores_per_process, namespace, setup):
        yield
