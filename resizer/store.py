"""Where a run keeps what it knows about each image: rows of a database on disk, not objects.

A run over millions of images knows, for each, its earlier record (~560 bytes of JSON), its job,
its new record and its output name, and for a huge folder its listing. Held as Python objects
that is gigabytes in the parent (~6 GB at 10 million images); held here, the parent's memory
is SQLite's page cache (CACHE_KIB) plus one batch of rows, whatever the number of images.

The database is SQLite's private temporary one (`sqlite3.connect("")`): a file in the system's
temporary folder (SQLITE_TMPDIR, else TMPDIR, else /var/tmp or /tmp) that is unlinked as soon as
it is created, so even a killed run leaves nothing behind, and that is only written once the
cache is full, so small runs never touch the disk. Not in OUT: a dataset loader would find it
there, a dry run must write nothing there, and OUT need not be a place a database can live.

Names that rows are sorted or looked up by are stored as `name.encode("utf-8", "surrogatepass")`:
UTF-8 bytes compare in code point order, which is the order of Python's `sorted()` over str, also
for the lone surrogates that stand for undecodable bytes in a name (names.py). The manifest
streams out in that order. Names only carried along are stored as text escaped as names.py
escapes them (lone surrogates as `\\udcXX`), which SQLite takes and gives back faster.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator

from .names import escape, unescape
from .records import Job, Result, tree_output

CACHE_KIB = 32 * 1024  # SQLite's page cache: the memory the store may take, whatever its size
BATCH = 500  # rows fetched, or names looked up, per statement (SQLite allows 32766 parameters)

UP_TO_DATE, FINISHED = 1, 2  # records.state: kept from an earlier run, or made by this one

_SCHEMA = """
CREATE TABLE previous (name BLOB PRIMARY KEY, text TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE outputs (output BLOB PRIMARY KEY, path TEXT NOT NULL, seq INTEGER) WITHOUT ROWID;
CREATE TABLE clashes (seq INTEGER PRIMARY KEY, output BLOB NOT NULL, path TEXT NOT NULL);
CREATE TABLE masks (mask BLOB PRIMARY KEY, path TEXT NOT NULL, seq INTEGER) WITHOUT ROWID;
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY, name BLOB, path TEXT, output TEXT, format TEXT, size INTEGER,
    etag TEXT
);
CREATE TABLE unusable (seq INTEGER PRIMARY KEY, phase INTEGER, source TEXT, error TEXT);
CREATE TABLE records (
    name BLOB PRIMARY KEY, seq INTEGER, state INTEGER, output TEXT, text TEXT
) WITHOUT ROWID;
CREATE TABLE listing (name BLOB PRIMARY KEY, link INTEGER, folder INTEGER) WITHOUT ROWID;
CREATE TABLE stale (output TEXT PRIMARY KEY, text TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE out_objects (name BLOB PRIMARY KEY, size INTEGER) WITHOUT ROWID;
"""


class StoreError(Exception):
    """The temporary folder cannot hold the run's records (full, read-only, gone)."""


def temp_folder() -> str:
    """The folder SQLite puts its temporary files in: the first usable of these."""
    for folder in (os.environ.get("SQLITE_TMPDIR"), os.environ.get("TMPDIR"), "/var/tmp", "/tmp"):
        try:
            if folder and stat.S_ISDIR(os.stat(folder).st_mode) and os.access(folder, 3):
                return folder
        except OSError:
            continue
    return "."


def store_error(error: sqlite3.Error) -> StoreError:
    """The message for a store that failed: where it lives and how to give it room."""
    return StoreError(
        f"the temporary folder {temp_folder()!r} cannot hold this run's records ({error}); "
        "point TMPDIR at a folder with room (about 1 KB per image)"
    )


def key(name: str) -> bytes:
    """A name as stored: its bytes sort as Python sorts the str (code point order)."""
    return name.encode("utf-8", "surrogatepass")


def name_of(blob: bytes) -> str:
    return blob.decode("utf-8", "surrogatepass")


def _optional_text(name: object) -> str | None:
    return escape(name) if isinstance(name, str) else None


def _marks(count: int) -> str:
    return ",".join("?" * count)


class Store:
    """One run's tables: earlier records, the plan, this run's records. One thread at a time."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        for pragma in (
            "journal_mode=OFF",  # a scratch database: nothing to roll back or recover
            "synchronous=OFF",
            f"cache_size=-{CACHE_KIB}",
            "temp_store=FILE",  # sorts and temporary indexes spill to disk as well
        ):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript(_SCHEMA)
        self.db.execute("BEGIN")  # one transaction for the store's life: no commit per row
        self._previous = False  # any earlier records at all
        self._claims = 0

    def close(self) -> None:
        """Frees the cache and the file (also done when the store is garbage-collected)."""
        self.db.close()

    def _rows(self, query: str, start: tuple) -> Iterator[tuple]:
        """Rows in batches, re-querying after the last key seen (`start`: below the first),
        so that no statement stays open while the caller writes to the store."""
        after = start
        while True:
            rows = self.db.execute(query, (*after, BATCH)).fetchall()
            yield from rows
            if len(rows) < BATCH:
                return
            after = rows[-1][: len(start)]

    # Earlier records: the manifest, then a killed run's journal over it.

    def add_previous(self, records: Iterable[tuple[str, str]]) -> None:
        """(source, JSON text) of earlier records; a later one replaces an earlier."""
        rows = ((key(source), text) for source, text in records)
        before = self.db.total_changes
        self.db.executemany("INSERT OR REPLACE INTO previous VALUES (?, ?)", rows)
        self._previous = self._previous or self.db.total_changes > before

    def previous_texts(self, names: list[str]) -> dict[str, str]:
        """Earlier records of `names` (a few hundred: one statement), as JSON text, by name."""
        if not self._previous or not names:
            return {}
        keys = {key(name): name for name in names}
        query = f"SELECT name, text FROM previous WHERE name IN ({_marks(len(keys))})"
        return {keys[blob]: text for blob, text in self.db.execute(query, list(keys))}

    # The plan.

    def claim(self, what: str, pairs: list[tuple[str, str]]) -> list[str | None]:
        """Claim each name of `what` ("outputs" or "masks") for a source path, in order: None
        where the claim is new, else the path of the source that claimed the name first."""
        table, column = ("outputs", "output") if what == "outputs" else ("masks", "mask")
        rows = [(key(name), escape(path)) for name, path in pairs]
        first = self._claims + 1
        self._claims += len(rows)
        before = self.db.total_changes
        self.db.executemany(
            f"INSERT OR IGNORE INTO {table} ({column}, path, seq) VALUES (?, ?, ?)",
            [(blob, path, seq) for seq, (blob, path) in enumerate(rows, first)],
        )
        if self.db.total_changes - before == len(rows):
            return [None] * len(rows)  # every name was free: the common case, one statement
        unique = list(dict.fromkeys(blob for blob, _ in rows))
        query = f"SELECT {column}, path, seq FROM {table} WHERE {column} IN ({_marks(len(unique))})"
        owners = {blob: (path, seq) for blob, path, seq in self.db.execute(query, unique)}
        answers: list[str | None] = []
        for seq, (blob, _) in enumerate(rows, first):
            path, owner_seq = owners[blob]
            answers.append(None if owner_seq == seq else unescape(path))
        return answers

    def outputs(self) -> Iterator[tuple[str, str]]:
        """(output, source path) of every claimed output, in the order they were claimed. One
        sorted query: its rows are all sorted before the first is read, so the caller may
        write to the store meanwhile."""
        for output, path in self.db.execute("SELECT output, path FROM outputs ORDER BY seq"):
            yield name_of(output), unescape(path)

    def first_output_under(self, folder: str) -> str | None:
        """The first claimed output whose name starts with `folder` (ending in "/")."""
        low = key(folder)
        high = low[:-1] + bytes([low[-1] + 1])
        query = "SELECT output FROM outputs WHERE output >= ? AND output < ? ORDER BY seq LIMIT 1"
        row = self.db.execute(query, (low, high)).fetchone()
        return None if row is None else name_of(row[0])

    def add_clash(self, output: str, path: str) -> None:
        self.db.execute(
            "INSERT INTO clashes (output, path) VALUES (?, ?)", (key(output), escape(path))
        )

    def clashes(self, limit: int) -> tuple[int, list[tuple[str, list[str]]]]:
        """How many outputs clash, and the first `limit` (in the order found) with every
        source path that would write them, the first claimant first."""
        (count,) = self.db.execute("SELECT COUNT(DISTINCT output) FROM clashes").fetchone()
        query = "SELECT output FROM clashes GROUP BY output ORDER BY MIN(seq) LIMIT ?"
        shown = []
        for (output,) in self.db.execute(query, (limit,)).fetchall():
            (first,) = self.db.execute("SELECT path FROM outputs WHERE output = ?", (output,))
            others = self.db.execute(
                "SELECT path FROM clashes WHERE output = ? ORDER BY seq", (output,)
            )
            shown.append((name_of(output), [unescape(path) for (path,) in [first, *others]]))
        return count, shown

    def add_jobs(self, jobs: list[Job]) -> None:
        rows = [
            (key(j.name), escape(j.source), escape(j.output), j.format, j.src_bytes, j.src_etag)
            for j in jobs
        ]
        self.db.executemany(
            "INSERT INTO jobs (name, path, output, format, size, etag) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )

    def jobs(self) -> Iterator[Job]:
        """The images to do, in the order they were found."""
        query = f"SELECT seq, {_JOB} FROM jobs WHERE seq > ? ORDER BY seq LIMIT ?"
        for _, *row in self._rows(query, (0,)):
            yield _job(row)

    def add_up_to_date(self, rows: list[tuple[int, str, str | None, str | None]]) -> None:
        """(order found, name, its file in OUT's tree or None, record text or None for the
        earlier text unchanged)."""
        self.db.executemany(
            f"INSERT OR REPLACE INTO records VALUES (?, ?, {UP_TO_DATE}, ?, ?)",
            [(key(name), seq, _optional_text(output), text) for seq, name, output, text in rows],
        )

    def up_to_date(self) -> Iterator[str]:
        """Names of the images up to date, in the order they were found (one sorted query:
        write nothing to the store while reading these)."""
        query = f"SELECT name FROM records WHERE state = {UP_TO_DATE} ORDER BY seq"
        for (name,) in self.db.execute(query):
            yield name_of(name)

    def add_unusable(self, result: Result, phase: int) -> None:
        self.db.execute(
            "INSERT INTO unusable (phase, source, error) VALUES (?, ?, ?)",
            (phase, escape(result.source), result.error),
        )

    def unusable(self) -> Iterator[Result]:
        """What was found but cannot be an input, by phase, then in the order found."""
        query = """SELECT phase, seq, source, error FROM unusable
            WHERE (phase, seq) > (?, ?) ORDER BY phase, seq LIMIT ?"""
        for _, _, source, error in self._rows(query, (-1, 0)):
            yield Result(source=unescape(source), error=error)

    # A folder's listing, sorted on disk when it is too large to sort in memory.

    def sort_listing(self, entries: Iterable[tuple[str, bool, bool]]) -> Iterator[tuple]:
        """Stores (name, is a link, is a folder) of `entries` now, replacing the folder stored
        before (one at a time); returns them sorted by name, read as they are needed."""
        self.db.execute("DELETE FROM listing")
        rows = ((key(name), link, folder) for name, link, folder in entries)
        self.db.executemany("INSERT OR REPLACE INTO listing VALUES (?, ?, ?)", rows)
        return self._listing()

    def _listing(self) -> Iterator[tuple[str, bool, bool]]:
        query = "SELECT name, link, folder FROM listing WHERE name > ? ORDER BY name LIMIT ?"
        for name, link, folder in self._rows(query, (b"",)):
            yield name_of(name), bool(link), bool(folder)

    # OUT's objects on an object store, from the one listing of OUT a plan makes.

    def add_out_objects(self, entries: Iterable) -> None:
        """Entries (name, size) of OUT's listing, streamed in."""
        rows = ((key(entry.name), entry.size) for entry in entries)
        self.db.executemany("INSERT OR REPLACE INTO out_objects VALUES (?, ?)", rows)

    def out_size(self, name: str) -> int | None:
        """The size of the object `name` in OUT's listing, None if it was not listed."""
        row = self.db.execute("SELECT size FROM out_objects WHERE name = ?", (key(name),))
        found = row.fetchone()
        return None if found is None else found[0]

    def out_names(self, prefix: str) -> list[str]:
        """The listed objects whose names start with `prefix` (a few: journal chunks)."""
        low = key(prefix)
        high = low[:-1] + bytes([low[-1] + 1])
        query = "SELECT name FROM out_objects WHERE name >= ? AND name < ? ORDER BY name"
        return [name_of(blob) for (blob,) in self.db.execute(query, (low, high))]

    # This run's records.

    def add_record(self, name: str, output: object, text: str) -> None:
        """This run's record of `name` (as JSON text); replaces what the plan held for it."""
        self.db.execute(
            f"INSERT OR REPLACE INTO records VALUES (?, NULL, {FINISHED}, ?, ?)",
            (key(name), _optional_text(output), text),
        )

    def unfinished(self) -> Iterator[tuple[Job, str | None]]:
        """Jobs without a record (a stopped run never reached them), with their earlier record."""
        columns = ", ".join(f"j.{column}" for column in _JOB.split(", "))
        query = f"""SELECT j.seq, {columns}, p.text FROM jobs j
            LEFT JOIN previous p ON p.name = j.name
            WHERE j.seq > ? AND NOT EXISTS (SELECT 1 FROM records r WHERE r.name = j.name)
            ORDER BY j.seq LIMIT ?"""
        for _, *row, text in self._rows(query, (0,)):
            yield _job(row), text

    def manifest_texts(self) -> Iterator[str]:
        """Every record of this run, as JSON text, sorted by source as `sorted()` sorts str."""
        for _, text in self.records():
            yield text

    def records(self) -> Iterator[tuple[str, str]]:
        """(source, JSON text) of every record of this run, sorted by source."""
        query = """SELECT r.name, coalesce(r.text, p.text) FROM records r
            LEFT JOIN previous p ON p.name = r.name WHERE r.name > ? ORDER BY r.name LIMIT ?"""
        for name, text in self._rows(query, (b"",)):
            yield name_of(name), text

    def record_text(self, name: str) -> str | None:
        query = """SELECT coalesce(r.text, p.text) FROM records r
            LEFT JOIN previous p ON p.name = r.name WHERE r.name = ?"""
        row = self.db.execute(query, (key(name),)).fetchone()
        return None if row is None else row[0]

    def record_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    def stale_outputs(self) -> Iterator[tuple[str, dict]]:
        """Outputs (with their earlier record) that an earlier record names and no record of
        this run does, sorted. Only records that changed can free an output: an up-to-date
        one is the same text, so a run that changed nothing reads no record here."""
        self.db.execute("DELETE FROM stale")
        changed = self.db.execute(
            """SELECT p.text FROM previous p LEFT JOIN records r ON r.name = p.name
            WHERE r.name IS NULL OR r.text != p.text"""
        )
        outputs = ((tree_output_of(text), text) for (text,) in changed)
        self.db.executemany(
            "INSERT OR REPLACE INTO stale VALUES (?, ?)",
            ((escape(output), text) for output, text in outputs if output is not None),
        )
        if self.db.execute("SELECT 1 FROM stale LIMIT 1").fetchone() is None:
            return
        self.db.execute(
            "DELETE FROM stale WHERE output IN "
            "(SELECT output FROM records WHERE output IS NOT NULL)"
        )
        query = "SELECT output, text FROM stale WHERE output > ? ORDER BY output LIMIT ?"
        for output, text in self._rows(query, ("",)):
            yield unescape(output), json.loads(text)


_JOB = "name, path, output, format, size, etag"


def _job(row: list) -> Job:
    name, path, output, fmt, size, etag = row
    return Job(unescape(path), name_of(name), unescape(output), fmt, src_bytes=size, src_etag=etag)


def tree_output_of(text: str) -> str | None:
    """The tree output a record (JSON text) names, if any (records.tree_output)."""
    record = json.loads(text)
    return tree_output(record) if isinstance(record, dict) else None
