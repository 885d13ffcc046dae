"""Where images are processed: one small interface over worker pools, so that `run.py` keeps one
dispatch loop whatever runs the work (local processes today, a Dask cluster, Ray tomorrow).

An engine runs batches of images and tells a worker's death from an ordinary error. A death is
a suspicion, not a verdict: a crashing decoder takes innocent images of its own and other batches
with it, so the run judges every image of a batch that died alone, where a crash fails only it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Protocol

from ..records import Job, Result
from ..settings import Settings


class EngineError(Exception):
    """The engine cannot be used (unreachable scheduler, mismatched workers): a usage error."""


class Engine(Protocol):
    """`run_alone` returns None when a second signal (`stop.hard`) abandons the image."""

    workers: int  # batches kept in flight per worker: 2
    batch_limit: int  # images per task: larger where a task costs more to dispatch
    death_fails_all: bool  # a death fails every batch in flight (a process pool breaks whole)

    def submit(self, batch: list[Job]) -> Future: ...

    def is_death(self, error: BaseException) -> bool: ...

    def recover(self) -> None: ...

    def run_alone(self, job: Job, stop) -> Result | None: ...

    def close(self, abandon: bool) -> None: ...

    def describe(self) -> dict: ...


def run_batch(batch: list[Job], settings: Settings) -> list[Result]:
    """In a worker: each image under a kernel timer whose default action ends a hung worker."""
    from ..process import process_image  # the image libraries load in workers only

    results = []
    for job in batch:
        with time_limit(settings.timeout):
            results.append(process_image(job, settings))
    return results


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """In a worker: SIGALRM after `seconds`, whose default action ends the process (a hung C
    decoder never returns to Python, so only the kernel can end it); its parent then fails
    the work with death_message."""
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def death_message(exitcode: int | None, timeout: float) -> str:
    """Why a process that ran one image alone gave no result, from how it ended."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        if -exitcode == signal.SIGALRM:
            return f"timed out after {timeout:g} s (--timeout)"
        if -exitcode == signal.SIGKILL:
            return "worker process was killed (SIGKILL; out of memory?) while decoding this file"
        return f"worker process crashed ({name}) while decoding this file"
    return f"worker process exited unexpectedly (exit code {exitcode}) on this file"


def make_engine(settings: Settings, workers: int) -> Engine:
    """The engine the settings ask for; EngineError if it cannot be had."""
    if settings.engine == "dask":
        from .dask import DaskEngine

        return DaskEngine(settings, workers)
    from .local import LocalEngine

    return LocalEngine(settings, workers)
