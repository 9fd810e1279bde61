"""joblib on the task's workers.

While a task's cluster runs, joblib's default backend is one that runs on those workers, so
`joblib.Parallel(n_jobs=-1)` (and scikit-learn's `n_jobs=-1`) use the task's allocation and no
more. joblib is not imported for this: the backend is registered when task code imports it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

BACKEND_NAME = "hipercow"
_state: dict = {"cluster": None, "finder": None, "previous_default": None}


class _RegisterOnImport(importlib.abc.MetaPathFinder):
    """Registers the backend right after joblib's own import finishes."""

    def __init__(self):
        self._finding = False

    def find_spec(self, name, path=None, target=None):
        if name != "joblib" or self._finding:
            return None
        self._finding = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._finding = False
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _remove_finder()
            _register()

        spec.loader.exec_module = exec_then_register
        return spec


def install(cluster) -> None:
    """Make the cluster joblib's default backend, now or when joblib is imported."""
    _state["cluster"] = cluster
    if "joblib" in sys.modules:
        _register()
    else:
        _state["finder"] = _RegisterOnImport()
        sys.meta_path.insert(0, _state["finder"])


def uninstall() -> None:
    """Give joblib back its previous default backend."""
    _remove_finder()
    _state["cluster"] = None
    previous = _state["previous_default"]
    if previous is not None:
        from joblib import parallel

        parallel.register_parallel_backend(previous, parallel.BACKENDS[previous], make_default=True)
        _state["previous_default"] = None


def _remove_finder() -> None:
    finder = _state["finder"]
    if finder is not None and finder in sys.meta_path:
        sys.meta_path.remove(finder)
    _state["finder"] = None


def _register() -> None:
    from joblib import parallel

    if _state["previous_default"] is None:
        _state["previous_default"] = parallel.DEFAULT_BACKEND
    parallel.register_parallel_backend(BACKEND_NAME, _backend_class(), make_default=True)


def _backend_class():
    from joblib._parallel_backends import (
        AutoBatchingMixin,
        FallbackToBackend,
        ParallelBackendBase,
        SequentialBackend,
    )

    class HipercowBackend(AutoBatchingMixin, ParallelBackendBase):
        """Runs joblib's batches on the task's worker processes."""

        supports_retrieve_callback = True
        uses_threads = False
        supports_sharedmem = False

        def effective_n_jobs(self, n_jobs):
            if n_jobs == 0:
                raise ValueError("n_jobs == 0 in Parallel has no meaning")
            cluster = _state["cluster"]
            processes = cluster.processes if cluster is not None else 1
            if n_jobs is None:
                return 1
            if n_jobs < 0:
                return max(processes + 1 + n_jobs, 1)
            return min(n_jobs, processes)

        def configure(self, n_jobs=1, parallel=None, prefer=None, require=None, **backend_kwargs):
            n_jobs = self.effective_n_jobs(n_jobs)
            if n_jobs == 1 or _state["cluster"] is None:
                raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
            self.parallel = parallel
            self._futures = []
            return n_jobs

        def submit(self, func, callback=None):
            future = _state["cluster"].submit(func)
            self._futures.append(future)
            if callback is not None:
                future.add_done_callback(callback)
            return future

        def retrieve_result_callback(self, future):
            return future.result()

        def abort_everything(self, ensure_ready=True):
            """Drop the call's queued batches (after an error); running ones finish."""
            for future in self._futures:
                future.cancel()
            self._futures = []

    return HipercowBackend
