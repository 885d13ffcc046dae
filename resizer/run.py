"""Run a whole job: lock OUT, plan, dispatch images to worker processes, record every result.

Workers are plain processes from concurrent.futures rather than a joblib Parallel: a run must
know exactly which images were in flight when a decoder crashed or hung a worker, so that it
can fail those images alone (each retried in a process of its own) and carry on with the rest.
"""

from __future__ import annotations

import json
import multiprocessing
import secrets
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import faults
from .files import remove_stale_temps
from .manifest import Journal, read_records_as_json, to_json, write_manifest, write_run_record
from .plan import Plan, make_plan
from .prune import remove_stale_outputs
from .records import Job, Result
from .report import Report, SafeStream, say
from .settings import Settings
from .state import BusyError, journal_path, legacy_journal_path, locked, remove_legacy_state

__all__ = ["BusyError", "Outcome", "dispatch", "resize", "run_isolated"]

BATCH_LIMIT = 4  # images per task: amortises dispatch for tiny images, keeps the tail short


@dataclass
class Outcome:
    report: Report
    plan: Plan
    run_record: dict = field(default_factory=dict)


def default_jobs() -> int:
    """All usable cores, as joblib counts them (it honours CPU affinity and cgroup quotas)."""
    from joblib import cpu_count

    return max(1, cpu_count())


def versions() -> dict:
    """Versions of what made the pixels, without importing the heavy modules."""
    found = {}
    for name, package in (
        ("resizer", "resizer"),
        ("pillow", "pillow"),
        ("opencv", "opencv-python-headless"),
        ("numpy", "numpy"),
    ):
        try:
            found[name] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[name] = None
    found["python"] = sys.version.split()[0]
    return found


def resize(settings: Settings, report: Report | None = None) -> Outcome:
    """The library call behind `resizer resize`. Raises PlanError/BusyError/OutError for usage
    errors."""
    report = report or Report(verbosity=settings.verbosity)
    # Planned before anything is written, so usage errors leave no trace.
    previous = _previous(settings)
    plan = make_plan(settings, previous)
    report.found, report.ignored = plan.total, plan.ignored
    faults.check_out(settings)
    if settings.dry_run:
        report.finish()
        return Outcome(report, plan)

    out = settings.out
    with locked(out, settings.wait) as waited:
        if waited:  # the run we queued behind has changed OUT
            previous = _previous(settings)
            plan = make_plan(settings, previous)
            report.found, report.ignored = plan.total, plan.ignored
        if journal_path(out).exists() or legacy_journal_path(out).exists():
            remove_stale_temps(out)  # the last run was killed: clear its half-written files
            if settings.masks is not None:
                remove_stale_temps(settings.masks_out)
        run_id = new_run_id(report.started)
        # Every record is kept as its JSON text until the manifest is written: compact
        # enough for trees of 100,000 images, and the journal's line for free.
        records: dict[str, str] = dict(plan.skipped)
        for source in plan.skipped:
            report.add_skipped(source)
        for result in plan.failed:
            result.run = run_id
            records[result.source] = to_json(result.record())
            report.add(result)
        journal = Journal(journal_path(out))
        try:
            _dispatch_all(plan, settings, report, journal, records, run_id)
        finally:
            report.finish()
            _record_pending(plan, records, previous, report.stopped_by, settings, run_id)
            report.removed = remove_stale_outputs(out, previous, records)
            try:
                changed = write_manifest(
                    settings.manifest_path, (records[name] for name in sorted(records))
                )
            except OSError as error:  # a full disk: say so, and keep the journal for next time
                changed = False
                report.save_failed(
                    f"cannot write the manifest {str(settings.manifest_path)!r}: "
                    f"{faults.cause(error)}; the finished work is kept in "
                    f"{str(journal_path(out))!r} for the next run"
                )
            _close_journal(journal, remove=not report.save_error)
            remove_legacy_state(out)
        run_record = {
            "run": run_id,
            "versions": versions(),
            "started": _iso(report.started),
            "finished": _iso(report.finished),
            "fingerprint": settings.fingerprint,
            "settings": settings.as_record(),
            "summary": report.summary(),
        }
        if changed:  # a no-op re-run leaves both manifest files as they were
            try:
                write_run_record(settings.manifest_path, run_record)
            except OSError as error:
                report.save_failed(
                    f"cannot write the run record beside {str(settings.manifest_path)!r}: "
                    f"{faults.cause(error)}"
                )
                run_record["summary"] = report.summary()  # for --json: the exit code changed
    return Outcome(report, plan, run_record)


def new_run_id(started: float) -> str:
    """Sortable and unique enough to tell the runs on one OUT apart: UTC start and 4 hex digits."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-" + secrets.token_hex(2)


def _close_journal(journal: Journal, remove: bool) -> None:
    try:
        journal.close(remove=remove)
    except OSError:  # its last lines could not be flushed (a full disk): keep what is there
        if remove:
            journal.path.unlink(missing_ok=True)


def _previous(settings: Settings) -> dict[str, str]:
    """What earlier runs finished: the manifest, updated by a killed run's journal."""
    previous = read_records_as_json(settings.manifest_path)
    previous.update(read_records_as_json(legacy_journal_path(settings.out)))
    previous.update(read_records_as_json(journal_path(settings.out)))
    return previous


def _record_pending(
    plan: Plan,
    records: dict[str, str],
    previous: dict[str, str],
    stopped_by: str | None,
    settings: Settings,
    run_id: str,
) -> None:
    """Give every found source a record: those a stopped run never reached become `pending`,
    describing the earlier output still in OUT, if there is one."""
    why = f"not processed: the run stopped early ({stopped_by}); run again to finish"
    for job in plan.jobs:
        if job.name in records:
            continue
        record = Result(source=job.name, status="pending").record()
        earlier = previous.get(job.name)
        if earlier is not None:
            earlier_record = json.loads(earlier)
            output = earlier_record.get("output")
            if isinstance(output, str) and (settings.out / output).is_file():
                record.update(earlier_record)
        record.update(status="pending", error=why, run=run_id)
        records[job.name] = to_json(record)


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(timestamp))


class _Stop:
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


def _dispatch_all(
    plan: Plan, settings: Settings, report: Report, journal: Journal, records: dict, run_id: str
) -> None:
    stop = _Stop()
    bar = _progress_bar(settings, plan)
    if bar is not None:
        bar.update(len(plan.skipped) + len(plan.failed))
        # tqdm.write prints to stdout unless told otherwise; stdout is for --json only.
        report.write = lambda text: bar.write(text, file=bar.fp)
    journaling = True
    try:
        with _signals_stop(stop, report):
            for result in dispatch(plan.jobs, settings, stop):
                result.run = run_id
                record = to_json(result.record())
                records[result.source] = record
                if journaling:
                    try:
                        journal.append(record)
                    except OSError as error:  # OUT filled up under the parent's own feet
                        journaling = False
                        _stop_for_out(report, stop, error)
                report.add(result)
                if bar is not None:
                    bar.update(1)
                if result.write_fault is not None and not stop.is_set():
                    _probe_root(result.write_fault, settings, report, stop)
                if settings.fail_fast and result.status == "failed" and not stop.is_set():
                    report.stopped_by = "fail-fast"
                    stop.set()
    finally:
        if bar is not None:
            bar.close()
            report.write = None


def _probe_root(fault: tuple[str, int], settings: Settings, report: Report, stop: _Stop) -> None:
    """A write failed: a fault of the output root itself (stop the run), or only of that
    output's folder? A probe at the root as large as the failed write decides."""
    root, size = Path(fault[0]), fault[1]
    error = faults.probe(root, max(faults.PROBE_BYTES, size))
    if error is not None:
        _stop_for_out(report, stop, error, "OUT" if root == settings.out else "the masks folder")


def _stop_for_out(report: Report, stop: _Stop, error: OSError, root: str = "OUT") -> None:
    if not stop.is_set():
        report.stopped_by = f"{root} cannot take writes: {faults.cause(error)}"
        stop.set()


def _progress_bar(settings: Settings, plan: Plan):
    stream = SafeStream(sys.stderr)
    show = settings.progress
    if show is None:
        show = stream.isatty()
    if not show or settings.verbosity < 0 or plan.total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=plan.total, unit="img", file=stream, dynamic_ncols=True)


@contextmanager
def _signals_stop(stop: _Stop, report: Report):
    """SIGINT/SIGTERM: stop dispatching and finish the images in flight; a second one abandons."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(number, _frame):
        if report.stopped_by is None or report.stopped_by not in ("SIGINT", "SIGTERM"):
            report.stopped_by = signal.Signals(number).name
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def dispatch(jobs: list[Job], settings: Settings, stop: _Stop | None = None) -> Iterator[Result]:
    """Results for `jobs` in completion order: in this process with --jobs 1, else in workers."""
    stop = stop or _Stop()
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
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["resizer.process"])
    return context


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
    pool: ProcessPoolExecutor, jobs: list[Job], settings: Settings, workers: int, stop: _Stop
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
    job: Job, settings: Settings, context=None, stop: _Stop | None = None
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
