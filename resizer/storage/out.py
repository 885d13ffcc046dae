"""OUT, its state and its manifest on an object store: what the run, the planner and the workers
do there instead of stat, rename, flock and append.

- Before any work, OUT is listed once, streamed into the run's store (store.py) rather than held:
  a missing bucket or a denied listing stops the run with a usage error naming OUT and the
  cause; the same listing gives every output's size for the up-to-date check and the journal
  chunks a killed run left.
- The lock object is OUT's first write, so a bucket that refuses writes stops the run there,
  before any image is processed.
- Outputs, the manifest and the run record are whole-object writes; the manifest is written
  last (after a local temporary copy is compared with the object, so a no-op re-run writes
  nothing) and is what makes a run complete.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import IO

from ..faults import OutError
from . import base_name, cause, parent
from .fsspec import Entry, open_store
from .journal import ObjectJournal, is_chunk, read_chunks
from .lock import object_lock

Options = tuple[tuple[str, str], ...]
PROBE_PREFIX = ".resizer-probe-"


def list_out(url: str, options: Options, name: str = "OUT") -> Iterator[Entry]:
    """Every object under OUT, streamed from one listing; OutError naming OUT and the cause if
    it cannot be listed (a missing bucket, access denied). Writing is checked by the lock
    object, OUT's first write."""
    store = open_store(url, options)
    entries = store.iter_entries()
    while True:
        try:
            entry = next(entries)
        except StopIteration:
            return
        except OSError as error:
            raise OutError(f"cannot use {name} {store.shown!r}: {cause(error)}") from None
        yield entry


def check_listable(url: str, options: Options, name: str) -> None:
    """OutError unless the folder `url` can be listed (its first page is enough)."""
    store = open_store(url, options)
    try:
        next(iter(store.iter_entries(".resizer-")), None)
    except OSError as error:
        raise OutError(f"cannot use {name} {store.shown!r}: {cause(error)}") from None


@contextmanager
def locked(url: str, options: Options, wait: bool, warn: Callable[[str], None]) -> Iterator[bool]:
    """OUT's lock object; a store that refuses the write is a usage error (OutError)."""
    with object_lock(open_store(url, options), wait, warn) as waited:
        yield waited


def read_journal(url: str, options: Options, names: Iterable[str]) -> Iterator[str]:
    """The lines of the journal chunks `names` (from OUT's listing), oldest first."""
    chunks = sorted(name for name in names if is_chunk(name))
    return read_chunks(open_store(url, options), chunks)


def open_journal(url: str, options: Options, run_id: str, inherited: list[str]) -> ObjectJournal:
    store = open_store(url, options)
    return ObjectJournal(store, run_id, sorted(name for name in inherited if is_chunk(name)))


@contextmanager
def open_text(url: str, options: Options) -> Iterator[IO[str] | None]:
    """A small or huge text object (the manifest) as a stream of lines, or None if there is
    none; OutError if it cannot be read."""
    store = open_store(parent(url), options)
    try:
        handle = store.open_read(base_name(url))
    except FileNotFoundError:
        yield None
        return
    except OSError as error:
        raise OutError(f"cannot read the manifest {store.shown!r}: {cause(error)}") from None
    with handle, io.TextIOWrapper(handle, encoding="utf-8", newline="") as text:
        yield text


def write_text(url: str, options: Options, write: Callable) -> bool:
    """Text streamed by `write(handle)` as one object, unless it holds those bytes already."""
    store = open_store(parent(url), options)
    return store.write_text_if_changed(base_name(url), write)


def write_object(url: str, options: Options, relative: str, data: bytes) -> None:
    """One output as one whole-object write under OUT (no temporary object, no rename)."""
    open_store(url, options).write(relative, data)


def probe(url: str, options: Options, size: int) -> OSError | None:
    """Write `size` bytes to a hidden object in OUT and remove it: the error if OUT cannot
    take them (after a failed output: a fault of OUT itself, or of that one object?)."""
    store = open_store(url, options)
    name = f"{PROBE_PREFIX}{secrets.token_hex(8)}"
    try:
        store.write(name, bytes(min(size, 1 << 20)))
    except OSError as error:
        return error
    with suppress(OSError):
        store.remove(name)
    return None


def is_what_was_written(url: str, options: Options, output: str, record: dict) -> bool:
    """Whether the object `output` is still byte for byte what the record says resizer wrote
    (its size was checked against OUT's listing by the caller): SHA-256 of the object read."""
    store = open_store(url, options)
    digest = hashlib.sha256()
    try:
        with store.open_read(output) as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError:
        return False
    return digest.hexdigest() == record.get("sha256")


def remove_object(url: str, options: Options, relative: str) -> bool:
    try:
        open_store(url, options).remove(relative)
    except OSError:
        return False
    return True
