"""Run a whole job: lock OUT, plan, dispatch images to an engine's workers (workers.py,
engines/), record every result, and stop early on a signal, --fail-fast or a fault of OUT itself.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import signal
import sqlite3
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import faults, preview
from .engines import Engine
from .manifest import Journal, iter_records, to_json, write_manifest, write_run_record
from .pixelstats import pixel_statistics
from .plan import Plan, make_plan
from .prune import remove_stale_outputs
from .records import Result, tree_output
from .report import Report, SafeStream
from .settings import Settings
from .state import (
    BusyError,
    clear_killed_run,
    journal_path,
    journal_shown,
    lock_out,
    open_journal,
    read_journal,
    remove_legacy_state,
)
from .storage import is_url, shown
from .store import Store, StoreError, store_error
from .store_views import PreviousTexts, RecordTexts
from .workers import EngineError, Stop, default_jobs, dispatch, start_engine

__all__ = [
    "BusyError",
    "EngineError",
    "Outcome",
    "StoreError",
    "default_jobs",
    "dispatch",
    "resize",
]


@dataclass
class Outcome:
    report: Report
    plan: Plan
    run_record: dict = field(default_factory=dict)


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
    if found["resizer"] is None:  # run from a checkout, not installed
        from . import __version__

        found["resizer"] = __version__
    found["resizer_code"] = code_digest()
    found["python"] = sys.version.split()[0]
    return found


@functools.cache
def code_digest() -> str:
    """SHA-256 (first 16 hex digits) of resizer's own source files. Two builds that both say
    0.1.0 (a checkout, an editable install on a cluster) can differ, and the code decides the
    output bytes as much as Pillow's version does."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def resize(settings: Settings, report: Report | None = None) -> Outcome:
    """The library call behind `resizer resize`. Raises PlanError/BusyError/OutError for usage
    errors, StoreError when the temporary folder cannot hold the run's records."""
    try:
        return _resize(settings, report)
    except sqlite3.Error as error:
        failed = store_error(error)
        if not is_url(settings.out) and journal_path(settings.out).is_file():
            failed.args = (
                f"{failed}; the finished work is kept in {str(journal_path(settings.out))!r}",
            )
        raise failed from None


def _resize(settings: Settings, report: Report | None) -> Outcome:
    report = report or Report(verbosity=settings.verbosity)
    preview.check(settings)
    # Planned before anything is written, so usage errors leave no trace.
    previous = _previous(settings)
    plan = make_plan(settings, previous)
    report.found, report.ignored = plan.total, plan.ignored
    faults.check_out(settings, create=False)
    if settings.dry_run:
        report.finish()
        return Outcome(report, plan)
    engine = start_engine(settings, plan.to_do)
    try:
        faults.check_out(settings, create=True)
        return _run(settings, report, plan, engine)
    finally:
        if engine is not None:
            engine.close(abandon=False)


def _run(settings: Settings, report: Report, plan: Plan, engine: Engine | None) -> Outcome:
    with lock_out(settings, report.warn) as waited:
        if waited:  # the run we queued behind has changed OUT
            plan.store.close()
            plan = make_plan(settings, _previous(settings))
            report.found, report.ignored = plan.total, plan.ignored
        try:
            run_record = _run_locked(settings, report, plan, engine)
        finally:
            plan.store.close()  # its file goes with it; the Outcome keeps only the counts
    return Outcome(report, plan, run_record)


def _run_locked(settings: Settings, report: Report, plan: Plan, engine: Engine | None) -> dict:
    out, store = settings.out, plan.store
    # This run's records and the earlier ones by source, as JSON text: dicts over the store.
    records, previous = RecordTexts(store), PreviousTexts(store)
    clear_killed_run(settings)  # the last run was killed: clear its half-written files
    run_id = new_run_id(report.started)
    # Records live in the store (on disk) until the manifest is written from it, sorted.
    if report.verbosity >= 2:  # each up-to-date image named: read back only for that
        for source in plan.skipped:
            report.add_skipped(source)
    else:
        report.skipped += plan.up_to_date
    for result in plan.failed:
        result.run = run_id
        fields = result.record()
        store.add_record(result.source, tree_output(fields), to_json(fields))
        report.add(result)
    journal = open_journal(settings, run_id, store)
    try:
        _dispatch_all(plan, settings, report, journal, run_id, engine)
    finally:
        _record_pending(plan, report.stopped_by, run_id)
        plan.container.finish(records, previous, report)  # e.g. write the shards
        report.finish()
        if settings.output_name is None:
            # With OUT naming one file, its folder is shared with other files and other
            # runs (a killed one's journal included): nothing else there is this run's.
            report.removed = remove_stale_outputs(out, store, settings.storage_options)
        try:
            changed = write_manifest(
                settings.manifest_path, store.manifest_texts(), settings.storage_options
            )
        except OSError as error:  # a full disk: say so, and keep the journal for next time
            changed = False
            report.save_failed(
                f"cannot write the manifest {shown(settings.manifest_path)!r}: "
                f"{faults.cause(error)}; the finished work is kept in "
                f"{journal_shown(settings)!r} for the next run"
            )
        _close_journal(journal, remove=not report.save_error)
        if not report.save_error:  # else the journal refers to the staged images
            plan.container.cleanup()
        remove_legacy_state(out)
    run_record = {
        "run": run_id,
        "versions": versions(),
        "started": _iso(report.started),
        "finished": _iso(report.finished),
        "fingerprint": settings.fingerprint,
        "engine": engine.describe() if engine is not None else {"engine": "in-process"},
        "settings": settings.as_record(),
        "summary": report.summary(),
        "pixel_statistics": pixel_statistics(
            settings.manifest_path, records, unchanged=not changed and not report.save_error
        ),
    }
    if changed:  # a no-op re-run leaves both manifest files as they were
        try:
            write_run_record(settings.manifest_path, run_record, settings.storage_options)
        except OSError as error:
            report.save_failed(
                f"cannot write the run record beside {shown(settings.manifest_path)!r}: "
                f"{faults.cause(error)}"
            )
            run_record["summary"] = report.summary()  # for --json: the exit code changed
    if settings.preview is not None:
        preview.write_preview(settings, records)
    return run_record


def new_run_id(started: float) -> str:
    """Sortable and unique enough to tell the runs on one OUT apart: UTC start and 4 hex digits."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-" + secrets.token_hex(2)


def _close_journal(journal, remove: bool) -> None:
    try:
        journal.close(remove=remove)
    except OSError:  # its last lines could not be flushed (a full disk): keep what is there
        if remove and isinstance(journal, Journal):
            journal.path.unlink(missing_ok=True)


def _previous(settings: Settings) -> Store:
    """What earlier runs finished, in a new store: the manifest, updated by a killed run's
    journal. On an object store, OUT is listed first, once, into the store (a missing bucket
    or a denied listing is a usage error here, before anything else)."""
    store = Store()
    if is_url(settings.out):
        from .storage.out import list_out

        store.add_out_objects(list_out(settings.out, settings.storage_options))
    store.add_previous(iter_records(settings.manifest_path, settings.storage_options))
    store.add_previous(read_journal(settings, store))
    return store


def _record_pending(plan: Plan, stopped_by: str | None, run_id: str) -> None:
    """Give every found source a record: those a stopped run never reached become `pending`,
    describing the earlier output still in OUT, if there is one."""
    why = f"not processed: the run stopped early ({stopped_by}); run again to finish"
    for job, earlier in plan.store.unfinished():
        record = Result(source=job.name, status="pending").record()
        if earlier is not None:
            earlier_record = json.loads(earlier)
            if plan.container.stored_size(earlier_record) is not None:
                record.update(earlier_record)
        record.update(status="pending", error=why, run=run_id)
        plan.store.add_record(job.name, tree_output(record), to_json(record))


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(timestamp))


def _dispatch_all(
    plan: Plan,
    settings: Settings,
    report: Report,
    journal,
    run_id: str,
    engine: Engine | None,
) -> None:
    stop = Stop()
    bar = _progress_bar(settings, plan)
    if bar is not None:
        bar.update(plan.up_to_date + plan.unusable)
        # tqdm.write prints to stdout unless told otherwise; stdout is for --json only.
        report.write = lambda text: bar.write(text, file=bar.fp)
    journaling = True
    try:
        with _signals_stop(stop, report):
            for result in dispatch(plan.jobs, settings, stop, engine, plan.to_do):
                # The parent's own: a cluster's workers get the settings with absolute paths.
                result.run, result.fingerprint = run_id, settings.fingerprint
                fields = result.record()
                record = to_json(fields)
                plan.store.add_record(result.source, tree_output(fields), record)
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


def _probe_root(fault: tuple[str, int], settings: Settings, report: Report, stop: Stop) -> None:
    """A write failed: a fault of the output root itself (stop the run), or only of that
    output's folder? A probe at the root as large as the failed write decides."""
    root, size = fault
    error = faults.probe_root(root, max(faults.PROBE_BYTES, size), settings)
    if error is not None:
        if is_url(root):
            is_out = root == settings.out
        else:
            is_out = not is_url(settings.out) and Path(root).absolute() == settings.out.absolute()
        _stop_for_out(report, stop, error, "OUT" if is_out else "the masks folder")


def _stop_for_out(report: Report, stop: Stop, error: OSError, root: str = "OUT") -> None:
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
def _signals_stop(stop: Stop, report: Report):
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
