"""Where planned runs execute: here, one after another, or as tasks on a Dask cluster.

Both executors take the same :class:`~.execute.Task` list and give back one result per
task, in the order given. A task writes its products (executed notebook, run record,
cache record) into its own slot on the shared file system, so the run cache works the
same whichever executor ran it.

On Dask each task is one future. When a worker dies mid-run, the scheduler gives the
task to another worker (up to ``distributed.scheduler.allowed-failures`` times); the
lost attempt leaves only hidden, uniquely named leftovers, never a result.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .errors import RunnerError

if TYPE_CHECKING:
    from .execute import RunResult, Task

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "DaskExecutor", "make_executor",
           "environment"]

EXECUTORS = ("local", "dask")
SCHEDULER_ENV = "COURSEKIT_DASK_SCHEDULER"
# A Dask nanny starts workers with these set to 1; a chapter should get the threads
# it gets when run here, so the worker's kernels see the submitting process's values.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set environment variables (None unsets one) for a run, whose kernel inherits
    them; put the old values back afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            _set_env(key, value)
        yield
    finally:
        for key, old in saved.items():
            _set_env(key, old)


def _set_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


class Executor(Protocol):
    """Runs tasks; calls ``on_start(task)`` and ``on_result(result)`` as they go."""

    name: str

    def run(self, tasks: Sequence[Task], *,
            on_start: Callable[[Task], None] | None = None,
            on_result: Callable[[RunResult], None] | None = None) -> list[RunResult]:
        ...

    def close(self) -> None:
        ...


class LocalExecutor:
    """Run the tasks in this process, one after another, in order."""

    name = "local"

    def run(self, tasks, *, on_start=None, on_result=None):
        results = []
        for task in tasks:
            if on_start:
                on_start(task)
            results.append(task.call())
            if on_result:
                on_result(results[-1])
        return results

    def close(self) -> None:
        pass


def _in_worker(call: Callable[[], Any], threads: dict[str, str | None]) -> Any:
    """Run ``call`` on a Dask worker with the submitting process's thread settings."""
    with environment(threads):
        return call()


class DaskExecutor:
    """Submit each task to a Dask cluster and gather the results as they finish.

    Args:
        scheduler: the scheduler's address (``tcp://host:8786``). None starts a local
            cluster of ``workers`` processes on 127.0.0.1 for as long as this executor
            lives.
        workers: the size of that local cluster.
    Raises:
        RunnerError: if Dask is not installed or the scheduler cannot be reached.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int = 2):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise RunnerError(f"--executor dask needs dask.distributed ({exc}); "
                              "install it with: pip install -r requirements.txt") from exc
        self._cluster = None
        if scheduler is None:
            if workers < 1:
                raise RunnerError(f"--workers {workers}: a local Dask cluster needs at "
                                  "least one worker")
            self._cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None)
            self.client = Client(self._cluster)
            return
        try:
            self.client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise RunnerError(
                f"cannot reach the Dask scheduler at {scheduler!r}: {exc}. Start one "
                "with `dask scheduler` and workers with `dask worker ADDRESS "
                "--nthreads 1`, or leave out --scheduler (and COURSEKIT_DASK_SCHEDULER) "
                "to start local workers") from exc

    @property
    def address(self) -> str:
        """The scheduler's address."""
        return self.client.scheduler.address

    def run(self, tasks, *, on_start=None, on_result=None):
        from dask.distributed import as_completed

        threads = {key: os.environ.get(key) for key in _THREAD_VARIABLES}
        futures = []
        for task in tasks:
            if on_start:
                on_start(task)
            key = f"coursekit {task.label} {uuid.uuid4().hex[:8]}"
            futures.append(self.client.submit(_in_worker, task.call, threads,
                                              key=key, pure=False))
        position = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        for future in as_completed(futures):
            index = position[future.key]
            try:
                results[index] = future.result()
            except Exception as exc:  # the runner failed on the worker, not the chapter
                raise RunnerError(f"{tasks[index].label} failed on a Dask worker: "
                                  f"{type(exc).__name__}: {exc}") from exc
            if on_result:
                on_result(results[index])
        return results

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(name: str = "local", scheduler: str | None = None,
                  workers: int = 2) -> Executor:
    """The executor called ``name``; for Dask, ``scheduler`` defaults to
    ``$COURSEKIT_DASK_SCHEDULER`` and, when that is unset too, a local cluster.

    Raises:
        RunnerError: for an unknown name, or a scheduler given to the local executor.
    """
    if name not in EXECUTORS:
        raise RunnerError(f"unknown executor {name!r}; choose one of: "
                          f"{', '.join(EXECUTORS)}")
    if name == "local":
        if scheduler:
            raise RunnerError("--scheduler needs --executor dask")
        return LocalExecutor()
    return DaskExecutor(scheduler or os.environ.get(SCHEDULER_ENV) or None, workers)
