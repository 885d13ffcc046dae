"""Where workers put encoded images until the parent packs them into shards.

Each worker process appends the images it encodes to one hidden file of its own in OUT's root,
`.resizer-stage-<pid>-<random>`, and hands back (file name, offset) with the image's record; the
parent then copies each image from there into its shard. Appending to one file instead of
writing a file per image spares every image a create, a rename and, later, an unlink: metadata
operations that dominate for small images (and stall on a busy file system).

Only complete appends are referenced: a record reaches the parent after its image was written
whole, so a worker killed mid-append leaves an unreferenced tail. The file is opened per image
rather than kept open, so that a long-lived worker (a Dask cluster's) never holds on to a
staging file the parent has removed. The parent removes every staging file after the manifest is
written. A killed run's staged images that its journal names are packed by the next run as they
are (not encoded again); that run removes the killed run's staging files with its own.

On an object store (an `s3://` OUT), workers may run on other machines and objects cannot be
appended to: each image is one whole-object write, `.resizer-stage-<SHA-256 of the image>`, at
offset 0 (the same image twice is one object). A killed run's staged images that its journal
names are used by the next run as they are; the parent removes every staging object, after one
listing of the prefix, once the manifest is written.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

MARK = ".resizer-stage-"

_current: dict[str, tuple[int, str, int]] = {}  # OUT -> (pid, file name, bytes written)
_lock = threading.Lock()


def stage(out: Path | str, data: bytes, options: tuple = ()) -> tuple[str, int]:
    """Append `data` to this process's staging file in `out`: (its name, the data's offset);
    on an object store, write it as one object of its own."""
    if isinstance(out, str):
        from ..storage.out import write_object

        name = f"{MARK}{hashlib.sha256(data).hexdigest()}"
        write_object(out, options, name, data)
        return name, 0
    key = os.fspath(out)
    with _lock:
        pid, name, size = _current.get(key, (None, "", 0))
        fd = None
        if pid == os.getpid():
            try:
                fd = os.open(out / name, os.O_WRONLY | os.O_APPEND)
            except FileNotFoundError:  # removed by the run that made it: start another
                fd = None
            if fd is not None and os.fstat(fd).st_size != size:
                os.close(fd)  # not as this process left it (a failed write): start another
                fd = None
        if fd is None:
            name, size = f"{MARK}{os.getpid()}-{secrets.token_hex(4)}", 0
            fd = os.open(out / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        _current[key] = (os.getpid(), name, size + len(data))
        return name, size


class Reader:
    """Positions staged images for reading, keeping each staging file open once opened (a run
    has one per worker process)."""

    def __init__(self, out: Path):
        self.out = out
        self._files: dict[str, BinaryIO] = {}

    def at(self, name: str, offset: int) -> BinaryIO:
        handle = self._files.get(name)
        if handle is None:
            if not name.startswith(MARK) or "/" in name:
                raise FileNotFoundError(f"{name!r} is no staging file")
            handle = self._files[name] = open(self.out / name, "rb")  # noqa: SIM115
        handle.seek(offset)
        return handle

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()


def remove_staging(out: Path | str, options: tuple = ()) -> None:
    """Remove every staging file in OUT's root: this run's, and a killed run's (on an object
    store: every object under the staging prefix, found by one listing, deleted in batches)."""
    if isinstance(out, str):
        from ..storage.fsspec import open_store

        store = open_store(out, options)
        with suppress(OSError):
            store.remove_many([entry.name for entry in store.iter_entries(MARK)])
        return
    try:
        names = [name for name in os.listdir(out) if name.startswith(MARK)]
    except OSError:
        return
    for name in names:
        (out / name).unlink(missing_ok=True)
