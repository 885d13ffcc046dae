"""OUT's lock on an object store: an object created only if absent, refreshed while held.

An object store has no kernel to release a lock when its holder dies, so the lock object says
who holds it and when it last said so, and a lock is taken over when it is stale:
- its holder ran on this host and its process is gone, or
- it has not been refreshed for STALE_AFTER seconds (the holder refreshes it every
  REFRESH_EVERY seconds; hosts' clocks must agree to within a few minutes).
A takeover replaces exactly the stale version (S3's If-Match), so two runs cannot both take it.

Creation uses S3's If-None-Match: the store refuses a second create of the same name. A store
that ignores the condition (some S3-compatible servers) would let two runs in at once; each
lock is checked by a second create, which must fail, and a store that lets it through gets a
warning instead of a silent race.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from ..faults import OutError
from ..state import LOCK_NAME, BusyError
from . import cause
from .fsspec import Entry, ObjectStore

STALE_AFTER = 600.0  # seconds without a refresh after which a lock is taken over
REFRESH_EVERY = 60.0
POLL_EVERY = 2.0  # --wait: how often a waiting run looks at the lock again


def describe(holder: dict) -> str:
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"


def stale_because(holder: dict, entry: Entry | None, now: float) -> str | None:
    """Why a lock held by `holder` may be taken over, or None while it is live."""
    host, pid = holder.get("host"), holder.get("pid")
    if host == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
        return f"its process ({describe(holder)}) is gone"
    refreshed = holder.get("refreshed")
    if not isinstance(refreshed, int | float):
        refreshed = entry.mtime if entry is not None and entry.mtime is not None else now
    if now - refreshed > STALE_AFTER:
        return f"it was last refreshed {now - refreshed:.0f} s ago"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Held:
    def __init__(self, store: ObjectStore, warn: Callable[[str], None]):
        self.store, self.warn = store, warn
        self.holder = {"host": socket.gethostname(), "pid": os.getpid()}
        self.holder["token"] = secrets.token_hex(8)
        self.etag: str | None = None
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def body(self) -> bytes:
        self.holder["refreshed"] = time.time()
        return json.dumps(self.holder).encode()

    def read(self) -> tuple[dict, Entry | None]:
        entry = self.store.info(LOCK_NAME)
        try:
            holder = json.loads(self.store.read(LOCK_NAME))
        except FileNotFoundError:
            return {}, None
        except ValueError:
            holder = {}
        return holder if isinstance(holder, dict) else {}, entry

    def try_take(self) -> tuple[bool, dict]:
        """(taken, the holder found)."""
        try:
            created = self.store.create(LOCK_NAME, self.body())
        except NotImplementedError:
            self.warn(
                f"{self.store.shown} cannot create an object only if it is absent: two runs "
                "on this OUT at the same time are not prevented"
            )
            self.store.write(LOCK_NAME, self.body())
            self._note_etag()
            return True, {}
        if created:
            self._check_condition_honoured()
            self._note_etag()
            return True, {}
        holder, entry = self.read()
        if entry is None:
            return False, holder  # released meanwhile: try again at once
        holder = holder or {"host": "?", "pid": "?"}  # a lock we cannot read is still a lock
        why = stale_because(holder, entry, time.time())
        if why is None:
            return False, holder
        try:
            taken = entry.etag is not None and self.store.replace(
                LOCK_NAME, self.body(), entry.etag
            )
        except NotImplementedError:
            self.store.remove(LOCK_NAME)
            return False, holder
        if taken:
            self.warn(f"took over a stale lock on {self.store.shown}: {why}")
            self._note_etag()
        return taken, holder

    def _check_condition_honoured(self) -> None:
        try:
            again = self.store.create(LOCK_NAME, self.body())
        except OSError:
            return
        if again:
            self.warn(
                f"{self.store.shown} ignores create-if-absent writes (If-None-Match): two "
                "runs on this OUT at the same time are not prevented"
            )

    def _note_etag(self) -> None:
        entry = self.store.info(LOCK_NAME)
        self.etag = entry.etag if entry is not None else None

    def start_refreshing(self) -> None:
        self.thread = threading.Thread(target=self._refresh, daemon=True, name="resizer-lock")
        self.thread.start()

    def _refresh(self) -> None:
        while not self.stopped.wait(REFRESH_EVERY):
            try:
                if self.etag is not None and not self.store.replace(
                    LOCK_NAME, self.body(), self.etag
                ):
                    self.warn(f"another run took over the lock on {self.store.shown}")
                    return
                self._note_etag()
            except NotImplementedError:
                self.store.write(LOCK_NAME, self.body())
            except OSError:
                continue  # a passing fault: the next refresh tries again

    def release(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()
        with suppress(OSError):
            holder, _ = self.read()
            if not holder or holder.get("token") == self.holder["token"]:
                self.store.remove(LOCK_NAME)


@contextmanager
def object_lock(store: ObjectStore, wait: bool, warn: Callable[[str], None]) -> Iterator[bool]:
    """Hold OUT's lock object for the block; yields whether we waited for another run."""
    held = _Held(store, warn)
    waited = False
    while True:
        try:
            taken, holder = held.try_take()
        except OSError as error:  # the lock is OUT's first write
            raise OutError(f"cannot write to OUT {store.shown!r}: {cause(error)}") from None
        if taken:
            break
        if holder and not wait:
            raise BusyError(
                f"another resizer run ({describe(holder)}) is writing to {store.shown}; "
                "wait for it, or pass --wait to queue behind it"
            )
        if holder:
            waited = True
            time.sleep(POLL_EVERY)
    held.start_refreshing()
    try:
        yield waited
    finally:
        held.release()
