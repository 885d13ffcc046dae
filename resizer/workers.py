"""Worker processes: dispatch jobs in batches, judge a crashed batch image by image.

Workers are plain processes from concurrent.futures rather than a joblib Parallel: a run must
know exactly which images were in flight when a decoder crashed or hung a worker, so that it
can fail those images alone (each retried in a process of its own) and carry on with the rest.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from . import processes
from .files import remove_stale_temps
from .records import Job, Result
from .report import say
from .settings import Settings

BATCH_LIMIT = 4  # images per task: amortises dispatch for tiny images, keeps the tail short


def default_jobs() -> int:
    """All usable cores, as joblib counts them (it honours CPU affinity and cgroup quotas)."""
    from joblib import cpu_count

    return max(1, cpu_count())


class Stop:
    """Set by a signal, --fail-fast or a fatal OUT error; the dispatcher stops feeding work."""

    def __init__(self):
        self.event = threading.Event()
        self.hard = False

    def set(self):
        if self.event.is_set():
            self.hard = True
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


def dispatch(jobs: list[Job], settings: Settings, stop: Stop | None = None) -> Iterator[Result]:
    """Results for `jobs` in completion order: in this process with --jobs 1, else in workers."""
    stop = stop or Stop()
    workers = settings.jobs or default_jobs()
    if workers > 1 and len(jobs) > 1:
        try:
            pool = _new_pool(min(workers, len(jobs)))
        except (OSError, NotImplementedError, ImportError) as error:
            # No process pool here (e.g. no POSIX semaphores in some sandboxes): go on in this
            # process, without crash isolation or timeouts, rather than not at all.
            say(f"no worker processes ({error}); working in one process")
        else:
            yield from _dispatch_to_pool(pool, jobs, settings, min(workers, len(jobs)), stop)
            return
    for job in jobs:
        if stop.is_set():
            return
        yield _process_image(job, settings)


def _process_image(job: Job, settings: Settings) -> Result:
    # Imported on first use: a run with nothing to do never loads the image libraries.
    from .process import process_image

    return process_image(job, settings)


def _context():
    # Workers that never re-run the caller's main script (see processes.py).
    return processes.context()


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group; only the parent decides what to do about it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_batch(batch: list[Job], settings: Settings) -> list[Result]:
    """In a worker: each image under a kernel timer whose default action ends a hung worker."""
    results = []
    for job in batch:
        signal.setitimer(signal.ITIMER_REAL, settings.timeout)
        try:
            results.append(_process_image(job, settings))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return results


def _batches(jobs: list[Job], workers: int) -> deque[list[Job]]:
    size = max(1, min(BATCH_LIMIT, len(jobs) // (workers * 16)))
    return deque(jobs[start : start + size] for start in range(0, len(jobs), size))


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=_context(), initializer=_worker_init)


def _dispatch_to_pool(
    pool: ProcessPoolExecutor, jobs: list[Job], settings: Settings, workers: int, stop: Stop
) -> Iterator[Result]:
    context = _context()
    batches = _batches(jobs, workers)
    in_flight: dict[Future, list[Job]] = {}
    try:
        while batches or in_flight:
            if stop.hard:
                break
            while batches and len(in_flight) < 2 * workers and not stop.is_set():
                batch = batches.popleft()
                in_flight[pool.submit(_run_batch, batch, settings)] = batch
            if not in_flight:
                break
            done, _ = wait(in_flight, timeout=0.25, return_when=FIRST_COMPLETED)
            suspects: list[Job] = []
            for future in done:
                batch = in_flight.pop(future)
                try:
                    yield from future.result()
                except BrokenProcessPool:
                    suspects.extend(batch)
            if suspects:
                # One worker died; every batch still in flight fails with it. Keep what did
                # finish, then retry each unfinished image alone to find the one that kills.
                for future, batch in in_flight.items():
                    try:
                        yield from future.result()
                    except BrokenProcessPool:
                        suspects.extend(batch)
                in_flight.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                for job in suspects:
                    if stop.is_set():
                        break
                    result = run_isolated(job, settings, context, stop)
                    if result is None:  # abandoned by a second signal
                        break
                    yield result
                if stop.is_set():
                    break
                pool = _new_pool(workers)
    finally:
        if stop.hard:
            for child in multiprocessing.active_children():
                child.terminate()
            remove_stale_temps(settings.out)
            if settings.masks is not None:
                remove_stale_temps(settings.masks_out)
        pool.shutdown(wait=True, cancel_futures=True)


def _isolated_main(job: Job, settings: Settings, connection) -> None:
    _worker_init()
    connection.send(_run_batch([job], settings)[0])
    connection.close()


def run_isolated(
    job: Job, settings: Settings, context=None, stop: Stop | None = None
) -> Result | None:
    """Process one image in a process of its own; a crash or hang fails only this image.

    Waits in short steps so that a second signal (`stop.hard`) abandons the image at once,
    killing its process: then None.
    """
    context = context or _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_isolated_main, args=(job, settings, sender), daemon=True)
    process.start()
    sender.close()
    result = None
    deadline = time.monotonic() + settings.timeout + 30
    abandoned = False
    try:
        while not receiver.poll(0.1):
            if stop is not None and stop.hard:
                abandoned = True
                break
            if time.monotonic() > deadline:
                break
        else:
            result = receiver.recv()
    except (EOFError, OSError):
        result = None
    finally:
        receiver.close()
    process.join(0 if abandoned else 5)
    if process.is_alive():
        process.kill()
        process.join()
    if abandoned:
        return None
    if result is not None:
        return result
    failed = Result(source=job.name, fingerprint=settings.fingerprint)
    failed.error = _death_message(process.exitcode, settings.timeout)
    return failed


def _death_message(exitcode: int | None, timeout: float) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        if -exitcode == signal.SIGALRM:
            return f"timed out after {timeout:g} s (--timeout)"
        if -exitcode == signal.SIGKILL:
            return "worker process was killed (SIGKILL; out of memory?) while decoding this file"
        return f"worker process crashed ({name}) while decoding this file"
    return f"worker process exited unexpectedly (exit code {exitcode}) on this file"
