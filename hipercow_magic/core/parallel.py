"""hipercow_parallel(): how a multi-core task uses its cores (the spec checked at creation).

With a method, the task's code runs beside a cluster of worker processes (node/cluster.py);
both methods give the same workers, reached with `pool()` (multiprocessing style) or
`executor()` (concurrent.futures style).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from hipercow_magic.core.checks import positive_int
from hipercow_magic.core.errors import HipercowError

METHODS = ("parallel", "future")


@dataclass
class Parallel:
    """How a task uses its cores: the method, cores per worker and the workers' environment."""

    method: str | None = None
    cores_per_process: int = 1
    environment: str | None = None

    def to_dict(self) -> dict:
        """The spec as stored in a task's data.json."""
        return asdict(self)


def hipercow_parallel(
    method: str | None = None, cores_per_process: int = 1, environment: str | None = None
) -> Parallel:
    """How a multi-core task uses its cores: with a method, the task's code gets
    `cores // cores_per_process` worker processes (hipercow_magic.pool() and .executor();
    joblib's default), each with `cores_per_process` cores.

    Args:
        method: 'parallel' or 'future' (both give the same workers), or None for none.
        cores_per_process: cores for each worker process.
        environment: the environment each worker loads (default: the task's own).

    Returns:
        The spec, to pass as `parallel=` when creating tasks.

    Raises:
        HipercowError: an unknown method or an invalid number of cores.
    """
    if method is not None and method not in METHODS:
        raise HipercowError(
            f"Parallel method '{method}' unknown\nUse either 'future', 'parallel', or leave as None"
        )
    return Parallel(method, positive_int(cores_per_process, "cores_per_process"), environment)


def validate_parallel(parallel: Parallel | None, cores: float) -> Parallel | None:
    """Check the method against the task's cores (hipercow's rules and messages)."""
    if parallel is None:
        return None
    cpp = parallel.cores_per_process
    if parallel.method is None:
        if cpp > 1:
            raise HipercowError(f"You chose {cpp} cores per process, but no parallel method is set")
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
