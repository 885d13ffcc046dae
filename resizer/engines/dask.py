"""A Dask cluster as the engine: `distributed.Client` and its `concurrent.futures` executor.

Not joblib's Dask backend: it waits for ever when a worker dies on a task. Through the client's
executor the futures are the standard ones the dispatch loop already knows. Facts designed for:
- a worker that dies takes the tasks it held with it; Dask re-runs them elsewhere (outputs are
  written idempotently: same bytes, same name) and fails a task with KilledWorker once it has
  killed `allowed-failures` + 1 workers, which may be an innocent one that shared the worker;
- workers are daemonic: an image is judged alone in a `subprocess` child (see alone.py);
- a task costs ~4 ms to dispatch against ~0.1 ms in a local pool: batches are larger.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import Future

from ..records import Job, Result
from ..settings import Settings
from ..storage import is_url
from . import EngineError, run_batch
from .alone import judge

CONNECT_TIMEOUT = "10s"
# What decides output bytes: a worker with another version would write other pixels.
PINNED = ("resizer", "resizer_code", "pillow", "opencv", "numpy")


def absolute_paths(settings: Settings) -> Settings:
    masks = settings.masks.absolute() if settings.masks is not None else None
    return dataclasses.replace(
        settings,
        sources=tuple(_absolute(source) for source in settings.sources),
        out=_absolute(settings.out),
        masks=masks,
        masks_output=settings.masks_out.absolute() if masks is not None else None,
        manifest=_absolute(settings.manifest_path),
    )


def _absolute(location):
    """A path as the workers must see it; an object store's URL is the same everywhere."""
    return location if is_url(location) else location.absolute()


def absolute_job(job: Job) -> Job:
    if is_url(job.source):
        return job
    return dataclasses.replace(job, source=os.path.abspath(job.source))


def worker_versions() -> dict:
    from ..run import versions

    return versions()


class DaskEngine:
    batch_limit = 16
    death_fails_all = False

    def __init__(self, settings: Settings, workers: int):
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise EngineError("--engine dask needs Dask: pip install 'resizer[dask]'") from None
        # Workers run in folders of their own (on other machines, on a shared file system):
        # every path they get is absolute.
        self.settings = absolute_paths(settings)
        self.cluster = None
        self.closed = False
        try:
            if settings.scheduler:
                self.client = Client(settings.scheduler, timeout=CONNECT_TIMEOUT)
            else:
                # Our own cluster: a death is judged by us at once, not after 3 more deaths.
                with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                    self.cluster = LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                        # Its HTTP endpoints (health, metrics) on a free loopback port: the
                        # default 8787, taken by another cluster or run, warns on stderr.
                        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                    )
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as error:
            where = settings.scheduler or "a local cluster"
            raise EngineError(f"cannot reach the Dask scheduler at {where}: {error}") from None
        try:
            self.workers_info = self._check_workers()
        except EngineError:
            self.close(abandon=False)
            raise
        self.workers = max(1, sum(w["nthreads"] for w in self.workers_info.values()))
        self.executor = self.client.get_executor(pure=False)

    def _check_workers(self) -> dict:
        from ..run import versions

        info = self.client.scheduler_info(n_workers=-1)["workers"]
        if not info:
            raise EngineError(f"the Dask scheduler at {self.settings.scheduler} has no workers")
        threaded = sorted(a for a, w in info.items() if w["nthreads"] > 1)
        if threaded:
            raise EngineError(
                f"Dask workers {', '.join(threaded)} run more than one thread; resizer needs "
                "one thread per worker (dask worker --nthreads 1), because the per-image "
                "--timeout ends a hung decoder by ending its worker process"
            )
        mine = versions()
        theirs = self.client.run(worker_versions)
        described = {}
        for address, found in sorted(theirs.items()):
            differ = [
                f"{n} {found.get(n)} (here {mine.get(n)})"
                for n in PINNED
                if found.get(n) != mine.get(n)
            ]
            if differ:
                raise EngineError(
                    f"Dask worker {address} has other versions than this machine: "
                    f"{', '.join(differ)}; they decide the output bytes, so install the same"
                )
            described[address] = {"nthreads": info[address]["nthreads"], "versions": found}
        return described

    def submit(self, batch: list[Job]) -> Future:
        return self.executor.submit(run_batch, [absolute_job(job) for job in batch], self.settings)

    def is_death(self, error: BaseException) -> bool:
        from distributed.scheduler import KilledWorker

        return isinstance(error, KilledWorker)

    def recover(self) -> None:
        """Nothing to rebuild: the cluster replaces dead workers itself."""

    def run_alone(self, job: Job, stop=None) -> Result | None:
        future = self.executor.submit(judge, absolute_job(job), self.settings)
        while True:
            try:
                return future.result(timeout=0.1)
            except TimeoutError:
                if stop is not None and stop.hard:
                    future.cancel()
                    return None

    def close(self, abandon: bool) -> None:
        """Idempotent; `abandon` cancels the tasks in flight instead of waiting for them."""
        if self.closed:
            return
        self.closed = True
        try:
            executor = getattr(self, "executor", None)
            if executor is not None:
                executor.shutdown(wait=not abandon)  # abandon: cancel what is in flight
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()

    def describe(self) -> dict:
        return {
            "engine": "dask",
            "scheduler": self.settings.scheduler or "local cluster",
            "workers": self.workers_info,
        }
