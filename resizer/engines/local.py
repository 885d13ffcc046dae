"""Worker processes on this machine (concurrent.futures), one per core.

Processes rather than threads or a joblib Parallel: a run must know exactly which images were in
flight when a decoder crashed or hung a worker, so that it can fail those images alone.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import NamedTuple

from .. import processes
from ..records import Job, Result
from ..settings import Settings
from ..storage import drivers
from . import death_message, run_batch

BATCH_LIMIT = 4  # images per task: amortises dispatch for tiny images, keeps the tail short


def _context(settings: Settings | None = None):
    # Workers that never re-run the caller's main script (see processes.py), with the object
    # store's client imported once in the fork server (0.8 s of imports per worker otherwise).
    return processes.context(drivers(settings) if settings is not None else ())


def worker_init(environment: dict[str, str] | None = None) -> None:
    # The fork server keeps the environment this process had when it started (an earlier run
    # in the same script, say): workers take the one of now, with the object store's
    # credentials a script may have set since. They travel through the pipe, never to disk.
    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    # Ctrl-C reaches the whole process group; only the parent decides what to do about it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def new_pool(workers: int) -> ProcessPoolExecutor:
    """Raises OSError/NotImplementedError where no pool can be made (no POSIX semaphores)."""
    return ProcessPoolExecutor(
        workers, mp_context=_context(), initializer=worker_init, initargs=(dict(os.environ),)
    )


class LocalEngine:
    batch_limit = BATCH_LIMIT
    death_fails_all = True  # a dead worker breaks the whole pool

    def __init__(self, settings: Settings, workers: int):
        self.settings = settings
        self.workers = workers
        self.context = _context(settings)  # before the pool: its server starts with the pool
        self.pool = new_pool(workers)

    def submit(self, batch: list[Job]) -> Future:
        return self.pool.submit(run_batch, batch, self.settings)

    def is_death(self, error: BaseException) -> bool:
        return isinstance(error, BrokenProcessPool)

    def recover(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = new_pool(self.workers)

    def run_alone(self, job: Job, stop=None) -> Result | None:
        return run_isolated(job, self.settings, self.context, stop)

    def close(self, abandon: bool) -> None:
        """Idempotent; `abandon` ends the images in flight instead of waiting for them."""
        if abandon:
            for child in multiprocessing.active_children():
                child.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def describe(self) -> dict:
        return {"engine": "local", "workers": self.workers}


class Died(NamedTuple):
    """A process that ran a call alone gave no value: its exit code says why (death_message)."""

    exitcode: int | None


def _isolated_main(function: Callable, args: tuple, connection, environment: dict) -> None:
    worker_init(environment)
    connection.send(function(*args))
    connection.close()


def _one_image(job: Job, settings: Settings) -> Result:
    return run_batch([job], settings)[0]


def run_isolated(job: Job, settings: Settings, context=None, stop=None) -> Result | None:
    """Process one image in a process of its own; a crash or hang fails only this image.
    None when a second signal (`stop.hard`) abandoned it."""
    outcome = call_isolated(_one_image, (job, settings), settings.timeout, context, stop)
    if not isinstance(outcome, Died):
        return outcome
    error = death_message(outcome.exitcode, settings.timeout)
    return Result(source=job.name, fingerprint=settings.fingerprint, error=error)


def call_isolated(function: Callable, args: tuple, timeout: float, context=None, stop=None):
    """function(*args) in a process of its own, where a crash or hang ends only that process:
    its value, Died(exit code) when it gave none, or None when abandoned.

    `function` keeps its own time_limit; `timeout` + 30 s here is the last resort. Waits in
    short steps so that a second signal (`stop.hard`) abandons the call at once, killing its
    process.
    """
    context = context or _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_isolated_main, args=(function, args, sender, dict(os.environ)), daemon=True
    )
    process.start()
    sender.close()
    result, received = None, False
    deadline = time.monotonic() + timeout + 30
    abandoned = False
    try:
        while not receiver.poll(0.1):
            if stop is not None and stop.hard:
                abandoned = True
                break
            if time.monotonic() > deadline:
                break
        else:
            result, received = receiver.recv(), True
    except (EOFError, OSError):
        received = False
    finally:
        receiver.close()
    process.join(0 if abandoned else 5)
    if process.is_alive():
        process.kill()
        process.join()
    if abandoned:
        return None
    return result if received else Died(process.exitcode)
