"""`resizer compare`'s worker processes: each call under `resize --timeout`'s timer, in resize's
own pool (engines/local.py), and a call whose process dies is run again alone.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool

from .engines import death_message, time_limit
from .engines.local import Died, call_isolated, new_pool
from .report import say


def _timed(function: Callable, timeout: float, *args):
    """In a worker: function(*args) under the kernel timer of `resize --timeout`."""
    with time_limit(timeout):
        return function(*args)


def restart_timer(timeout: float) -> None:
    """Give the next configuration its own `timeout`, as `resize` gives each image: an image
    runs through 20 pipelines here, the time of one is what --timeout bounds. Outside a
    worker (no timer running) nothing is armed."""
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        signal.setitimer(signal.ITIMER_REAL, timeout)


def map_calls(function: Callable, calls: list[tuple], jobs: int, timeout: float) -> list:
    """function(*call) for each call, in order, in `jobs` worker processes of `resize`'s
    (engines/local.py), each call under its `--timeout` timer.

    A call whose process dies (a decoder's crash, a hang past the timeout, the OOM killer)
    takes the others in flight with it: each of those is run again alone, where a death fails
    only the call that causes it; that call's result is then the cause in words (a str).
    """
    if not calls:
        return []
    try:
        pool = new_pool(max(1, min(jobs, len(calls))))
    except (OSError, NotImplementedError) as error:
        say(f"no worker processes ({error}); measuring in one process, without --timeout")
        return [function(*call) for call in calls]
    results: list = [None] * len(calls)
    again: list[int] = []
    with pool:
        try:
            futures = [pool.submit(_timed, function, timeout, *call) for call in calls]
            for index, future in enumerate(futures):
                try:
                    results[index] = future.result()
                except BrokenProcessPool:
                    again.append(index)
        except BaseException:  # Ctrl-C: workers ignore it (worker_init), so end them here
            _end_workers()
            raise
    for index in again:
        try:
            outcome = call_isolated(_timed, (function, timeout, *calls[index]), timeout)
        except BaseException:
            _end_workers()
            raise
        results[index] = (
            death_message(outcome.exitcode, timeout) if isinstance(outcome, Died) else outcome
        )
    return results


def _end_workers() -> None:
    for child in multiprocessing.active_children():
        child.kill()
