"""A task's cores on the node: HIPERCOW_CORES, the thread-count variables and run-time limits
on the BLAS/OpenMP pools already loaded.
"""

from __future__ import annotations

import os

from hipercow_magic.core.checks import positive_int
from hipercow_magic.core.errors import HipercowError

THREAD_VARIABLES = (
    "HIPERCOW_CORES",
    "OMP_NUM_THREADS",
    "OMP_THREAD_LIMIT",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
    "MC_CORES",
    "LOKY_MAX_CPU_COUNT",
    "POLARS_MAX_THREADS",
    "RAYON_NUM_THREADS",
    "BLIS_NUM_THREADS",
)


NATIVE_POOL_LIBRARIES = (
    "openblas",
    "libmkl",
    "libblis",
    "flexiblas",
    "libgomp",
    "libiomp",
    "libomp",
)


def hipercow_parallel_get_cores() -> int | None:
    """The cores this task (or pool worker) was given, from HIPERCOW_CORES."""
    value = os.environ.get("HIPERCOW_CORES")
    return int(value) if value else None


def hipercow_parallel_set_cores(cores: int) -> None:
    """Set HIPERCOW_CORES and every thread-count variable to `cores`, and limit the
    BLAS/OpenMP thread pools already loaded in this process to `cores` threads.

    Args:
        cores: the number of cores to use from now on (a positive whole number).
    """
    cores = positive_int(cores, "cores")
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
            f"You chose {cores_per_process} cores per process, but this task has only {cores} cores"
        )
    leftover = cores - processes * cores_per_process
    if leftover:
        print(
            f"Running {cores_per_process} cores per process leaves {leftover} unallocated "
            f"cores on a {cores}-core task"
        )
    return processes


def set_task_cores() -> int | None:
    """On the node: the task's cores (HIPERCOW_CORES) into every variable and run-time limit.
    Safe to call more than once (before the environment loads, and again before the code).
    """
    cores = hipercow_parallel_get_cores()
    if cores is not None:
        hipercow_parallel_set_cores(cores)
    return cores
