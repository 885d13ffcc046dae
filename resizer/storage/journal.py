"""The journal of finished images on an object store, where nothing can be appended to.

Finished records are gathered and written as hidden chunk objects,
`OUT/.resizer-journal-<run>-<n>.jsonl`, each time FLUSH_RECORDS have gathered or FLUSH_SECONDS
have passed since the oldest unwritten one. A killed run leaves its chunks; the next run reads
them all (in run and chunk order) as it reads the manifest, and deletes them once its own
manifest is written. A kill loses at most the records of the last FLUSH_SECONDS: those images
are simply done again (their outputs are rewritten whole, with the same bytes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from .fsspec import ObjectStore

PREFIX = ".resizer-journal-"
FLUSH_RECORDS = 64
FLUSH_SECONDS = 2.0


def chunk_names(store: ObjectStore) -> list[str]:
    """The journal chunks in OUT's root, oldest first (run ids sort by start time), from a
    listing of their prefix alone."""
    return [name for name in store.entries(PREFIX) if is_chunk(name)]


def is_chunk(name: str) -> bool:
    return "/" not in name and name.startswith(PREFIX) and name.endswith(".jsonl")


def read_chunks(store: ObjectStore, names: list[str]) -> Iterator[str]:
    """The lines of the chunks, in order, one chunk read at a time; a chunk deleted meanwhile
    is skipped."""
    for name in names:
        try:
            data = store.read(name)
        except FileNotFoundError:
            continue
        yield from data.decode("utf-8").splitlines()


class ObjectJournal:
    """Appends go to memory; a background thread and the appends themselves write chunks."""

    def __init__(self, store: ObjectStore, run_id: str, inherited: list[str]):
        self.store, self.run_id = store, run_id
        self.inherited = list(inherited)  # chunks of killed runs, read into this run
        self.written: list[str] = []
        self.pending: list[str] = []
        self.oldest: float | None = None
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.error: OSError | None = None
        self.thread = threading.Thread(target=self._timer, daemon=True, name="resizer-journal")
        self.thread.start()

    @property
    def path(self) -> str:
        return f"{self.store.shown}/{PREFIX}{self.run_id}-*.jsonl"

    def append(self, record: str) -> None:
        with self.lock:
            if self.error is not None:  # the timer's last write failed: the caller decides
                error, self.error = self.error, None
                raise error
            self.pending.append(record)
            if self.oldest is None:
                self.oldest = time.monotonic()
            if len(self.pending) >= FLUSH_RECORDS:
                self._flush()

    def _timer(self) -> None:
        while not self.closed.wait(FLUSH_SECONDS / 4):
            with self.lock:
                if self.oldest is not None and time.monotonic() - self.oldest >= FLUSH_SECONDS:
                    try:
                        self._flush()
                    except OSError as error:  # kept for the next append or close to raise
                        self.error = error

    def _flush(self) -> None:
        if not self.pending:
            return
        name = f"{PREFIX}{self.run_id}-{len(self.written):06d}.jsonl"
        self.store.write(name, ("\n".join(self.pending) + "\n").encode("utf-8"))
        self.written.append(name)
        self.pending, self.oldest = [], None

    def close(self, remove: bool) -> None:
        """Stop the timer; with `remove` (the manifest is written) delete every chunk this run
        read or wrote, else write what is pending so that the next run has it."""
        if self.closed.is_set():
            return
        self.closed.set()
        self.thread.join()
        with self.lock:
            if not remove:
                self._flush()
                return
            for name in self.inherited + self.written:
                self.store.remove(name)
            self.pending = []
