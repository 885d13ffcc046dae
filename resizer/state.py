"""What a run keeps in OUT while it works: a lock and a journal, as hidden files in OUT's root.

Files, not a folder: dataset loaders such as torchvision's `ImageFolder` take every sub-folder of
the root for a class (dot-folders included), so a state folder would become class 0 and shift
every real label by one. Both files are removed when a run finishes; a killed run leaves its
journal for the next run to finish the job. On an object store the lock is an object created
only if absent and the journal a series of hidden chunk objects (storage/lock.py, journal.py);
the functions taking Settings choose.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import Settings
    from .store import Store

LOCK_NAME = ".resizer.lock"
JOURNAL_NAME = ".resizer-journal.jsonl"
# Where versions before 0.2 kept their state; read once for a killed run's journal, then removed.
LEGACY_DIR = ".resizer"
LEGACY_FILES = {"lock", "journal.jsonl"}


class BusyError(Exception):
    """Another run holds OUT's lock (a usage error, exit 2)."""


def journal_path(out: Path) -> Path:
    return out / JOURNAL_NAME


def legacy_journal_path(out: Path) -> Path:
    return out / LEGACY_DIR / "journal.jsonl"


@contextmanager
def locked(out: Path, wait: bool) -> Iterator[bool]:
    """Hold an OS lock on OUT for the block; yields whether we had to wait for another run.

    The kernel releases the lock if the holder dies, so a killed run never blocks the next one.
    The holder deletes the lock file before releasing it, so a waiter can be left holding a lock
    on a deleted file: it then checks that its file is still the one at the path, else retries.
    """
    path = out / LOCK_NAME
    waited = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            if not wait:
                os.close(fd)
                raise BusyError(
                    f"another resizer run ({holder}) is writing to {out}; "
                    "wait for it, or pass --wait to queue behind it"
                ) from None
            fcntl.flock(fd, fcntl.LOCK_EX)
            waited = True
        if _still_at(fd, path):
            break
        os.close(fd)  # the file we locked was removed by the run we waited for: lock anew
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield waited
    finally:
        try:
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def _still_at(fd: int, path: Path) -> bool:
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def remove_legacy_state(out: Path | str) -> None:
    """Remove the state folder of older versions (it would be taken for a class), if it holds
    nothing but their lock and journal."""
    if isinstance(out, str):
        return  # an object store's OUT: no version before 0.2 wrote one
    folder = out / LEGACY_DIR
    try:
        names = set(os.listdir(folder))
    except OSError:
        return
    if not names <= LEGACY_FILES:
        return
    for name in names:
        (folder / name).unlink(missing_ok=True)
    with suppress(OSError):
        folder.rmdir()


def lock_out(settings: Settings, warn: Callable[[str], None]):
    """OUT's lock for the block (a context yielding whether we waited), for either kind of OUT."""
    from .storage import is_url

    if is_url(settings.out):
        from .storage.out import locked as object_locked

        return object_locked(settings.out, settings.storage_options, settings.wait, warn)
    return locked(settings.out, settings.wait)


def read_journal(settings: Settings, store: Store) -> Iterator[tuple[str, str]]:
    """(source, JSON text) of the records a killed run journaled in OUT (older versions'
    journal first); on an object store, its chunks are found in OUT's listing in `store`."""
    from .manifest import iter_records, records_from
    from .storage import is_url

    if is_url(settings.out):
        from .storage.journal import PREFIX
        from .storage.out import read_journal as read_object_journal

        names = store.out_names(PREFIX)
        yield from records_from(read_object_journal(settings.out, settings.storage_options, names))
        return
    yield from iter_records(legacy_journal_path(settings.out))
    yield from iter_records(journal_path(settings.out))


def open_journal(settings: Settings, run_id: str, store: Store):
    """This run's journal: appended to as images finish, removed once the manifest is written
    (`close(remove=...)`); on an object store it also removes the chunks a killed run left."""
    from .manifest import Journal
    from .storage import is_url

    if is_url(settings.out):
        from .storage.journal import PREFIX
        from .storage.out import open_journal as open_object_journal

        inherited = store.out_names(PREFIX)
        return open_object_journal(settings.out, settings.storage_options, run_id, inherited)
    return Journal(journal_path(settings.out))


def journal_shown(settings: Settings) -> str:
    """Where the journal is, for messages."""
    from .storage import is_url, shown

    if is_url(settings.out):
        from .storage.journal import PREFIX

        return f"{shown(settings.out)}/{PREFIX}*.jsonl"
    return str(journal_path(settings.out))


def clear_killed_run(settings: Settings) -> None:
    """A killed run's half-written temporary files (local OUT only: objects are written whole)."""
    from .files import remove_stale_temps
    from .storage import is_url

    out = settings.out
    if is_url(out):
        return
    if journal_path(out).exists() or legacy_journal_path(out).exists():
        remove_stale_temps(out)
        if settings.masks is not None:
            remove_stale_temps(settings.masks_out)
