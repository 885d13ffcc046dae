"""What a run keeps in OUT while it works: a lock and a journal, as hidden files in OUT's root.

Files, not a folder: dataset loaders such as torchvision's `ImageFolder` take every sub-folder of
the root for a class (dot-folders included), so a state folder would become class 0 and shift
every real label by one. Both files are removed when a run finishes; a killed run leaves its
journal for the next run to finish the job.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

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


def is_state_name(name: str) -> bool:
    """Names in OUT's root that belong to resizer, not to the dataset."""
    return name in (LOCK_NAME, JOURNAL_NAME)


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


def remove_legacy_state(out: Path) -> None:
    """Remove the state folder of older versions (it would be taken for a class), if it holds
    nothing but their lock and journal."""
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
