"""Dispatch jobs to an engine's workers in batches; judge a batch that died image by image.

One loop for every engine (engines/: local processes, a Dask cluster): keep two batches per
worker in flight, and when a worker dies, retry each image it may have taken with it alone,
where a crash or hang fails only the image that causes it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait

from .engines import Engine, EngineError, make_engine
from .files import remove_stale_temps
from .records import Job, Result
from .report import say
from .settings import Settings
from .storage import is_url

__all__ = ["EngineError", "Stop", "default_jobs", "dispatch", "start_engine"]


def default_jobs() -> int:
    """All usable cores, as joblib counts them (it honours CPU affinity and cgroup quotas)."""
    from joblib import cpu_count

    return max(1, cpu_count())


class Stop:
    """Set by a signal, --fail-fast or a fatal OUT error; the dispatcher stops feeding work.
    A second one is `hard`: images in flight are abandoned."""

    def __init__(self):
        self.event = threading.Event()
        self.hard = False

    def set(self):
        if self.event.is_set():
            self.hard = True
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


def start_engine(settings: Settings, jobs: int) -> Engine | None:
    """The workers for `jobs` images, or None to work in this process (--jobs 1, one image, or
    no process pool possible here). Raises EngineError before anything is written."""
    if jobs == 0:
        return None  # nothing to do: no cluster is contacted, no process started
    workers = settings.jobs or default_jobs()
    if settings.engine != "dask" and (workers == 1 or jobs < 2):
        return None
    try:
        return make_engine(settings, max(1, min(workers, jobs)))
    except (OSError, NotImplementedError, ImportError) as error:
        if settings.engine == "dask":
            raise EngineError(f"cannot start the Dask engine: {error}") from None
        # No process pool here (e.g. no POSIX semaphores in some sandboxes): go on in this
        # process, without crash isolation or timeouts, rather than not at all.
        say(f"no worker processes ({error}); working in one process")
        return None


def dispatch(
    jobs: Iterable[Job],
    settings: Settings,
    stop: Stop | None = None,
    engine: Engine | None = None,
    count: int | None = None,
) -> Iterator[Result]:
    """Results for `jobs` in completion order, from the engine's workers or in this process.
    `jobs` may be an iterator (read as work is handed out) if `count` says how many it holds."""
    stop = stop or Stop()
    if engine is not None:
        count = len(jobs) if count is None else count  # type: ignore[arg-type]
        yield from _dispatch_to_engine(engine, jobs, count, settings, stop)
        return
    process_image = None
    for job in jobs:
        if stop.is_set():
            return
        if process_image is None:  # a run with nothing to do never loads image libraries
            from .process import process_image
        yield process_image(job, settings)


def _batches(jobs: Iterable[Job], count: int, workers: int, limit: int) -> Iterator[list[Job]]:
    """`jobs` in lists of a size that spreads `count` jobs over the workers, made as needed."""
    size = max(1, min(limit, count // (workers * 16)))
    remaining = iter(jobs)
    while batch := list(itertools.islice(remaining, size)):
        yield batch


def _dispatch_to_engine(
    engine: Engine, jobs: Iterable[Job], count: int, settings: Settings, stop: Stop
) -> Iterator[Result]:
    batches = _batches(jobs, count, engine.workers, engine.batch_limit)
    ready = next(batches, None)  # the next batch to hand out
    in_flight: dict[Future, list[Job]] = {}
    died = False  # a worker that dies mid-write leaves its temporary file behind
    try:
        while ready is not None or in_flight:
            if stop.hard:
                break
            while ready is not None and len(in_flight) < 2 * engine.workers and not stop.is_set():
                in_flight[engine.submit(ready)] = ready
                ready = next(batches, None)
            if not in_flight:
                break
            done, _ = wait(in_flight, timeout=0.25, return_when=FIRST_COMPLETED)
            suspects: list[Job] = []
            for future in done:
                yield from _results_or_suspects(engine, future, in_flight.pop(future), suspects)
            died = died or bool(suspects)
            if suspects and engine.death_fails_all:
                # The whole pool broke with one worker: keep what did finish.
                for future, batch in in_flight.items():
                    yield from _results_or_suspects(engine, future, batch, suspects)
                in_flight.clear()
                engine.recover()
            for job in suspects:
                if stop.is_set():
                    break
                result = engine.run_alone(job, stop)
                if result is None:  # abandoned by a second signal
                    break
                yield result
    finally:
        if stop.hard:
            engine.close(abandon=True)
        if stop.hard or died:  # no worker is writing any more: clear what the dead left
            if not is_url(settings.out):  # objects are written whole: nothing half-written
                remove_stale_temps(settings.out)
            if settings.masks is not None:
                remove_stale_temps(settings.masks_out)


def _results_or_suspects(
    engine: Engine, future: Future, batch: list[Job], suspects: list[Job]
) -> Iterator[Result]:
    try:
        results = future.result()
    except Exception as error:
        if not engine.is_death(error):
            raise
        suspects.extend(batch)
        return
    yield from results
