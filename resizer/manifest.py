"""The manifest: one record per source image, as JSON Lines (default) or CSV.

Only the parent process writes it. While a run goes on, each result is appended to a journal
(OUT/.resizer-journal.jsonl) and flushed, so a killed run's finished work is known to the next
run; at the end the journal is compacted into the manifest, written atomically, and removed.
The run itself (options, versions, times, counts) is recorded beside the manifest in
`<manifest name>.run.json`.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from .files import atomic_writer, write_atomic
from .names import escape, json_text, unescape
from .records import RECORD_FIELDS
from .storage import Location, base_name, is_url, parent

Options = tuple[tuple[str, str], ...]  # storage options, for a manifest on an object store

FIELDS = RECORD_FIELDS
# src_etag (an object's ETag) is text, like the other fields not listed here.
INTEGER_FIELDS = {
    "src_width", "src_height", "src_frames", "orientation", "width", "height", "bytes",
    "decode_scale", "src_bytes", "src_mtime_ns", "mask_bytes", "mask_src_bytes",
    "mask_src_mtime_ns",
}  # fmt: skip
LIST_FIELDS = {"resize", "crop_box", "pad_offset", "pixel_sum", "pixel_sumsq"}


def run_record_path(manifest: Location) -> Location:
    name = base_name(manifest).rsplit(".", 1)[0] + ".run.json"
    if is_url(manifest):
        return f"{parent(manifest)}/{name}"
    return manifest.with_name(name)


def is_csv(path: Location) -> bool:
    return base_name(path).lower().endswith(".csv")


def write_manifest(path: Location, records: Iterable[dict | str], options: Options = ()) -> bool:
    """Write all records (dicts, or records already as JSON text), atomically and streaming:
    readers see the old manifest or the new one, and the whole is never held as one text.
    An identical manifest is left untouched; returns whether the file changed. On an object
    store it is one whole-object write (see storage/out.py)."""
    if is_url(path):
        from .storage.out import write_text

        return write_text(path, options, lambda handle: _write_records(handle, path, records))
    before = _identity(path)
    with atomic_writer(path, keep_same=True) as handle:
        _write_records(handle, path, records)
    return before is None or before != _identity(path)


def _write_records(handle: IO[str], path: Location, records: Iterable[dict | str]) -> None:
    if is_csv(path):
        writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            if isinstance(record, str):
                record = json.loads(record)
            writer.writerow({key: _csv_value(record.get(key)) for key in FIELDS})
    else:
        for record in records:
            if not isinstance(record, str):
                record = to_json(record)
            handle.write(record + "\n")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def to_json(record: dict) -> str:
    """One record as one line of JSON (newlines in names stay escaped; bytes of a name that
    are not UTF-8 become `\\udcXX` escapes, see names.py)."""
    return json_text(record)


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if isinstance(value, str):
        return escape(value)  # undecodable name bytes as the text \udcXX
    return value


def read_manifest(path: Location, options: Options = ()) -> dict[str, dict]:
    """Records by source from a manifest or journal; a torn last line (a kill) is ignored."""
    return {source: json.loads(text) for source, text in iter_records(path, options)}


def iter_records(path: Location, options: Options = ()) -> Iterator[tuple[str, str]]:
    """(source, record as JSON text) of each record of a manifest or journal, in file
    order, one at a time: a manifest of millions of records is never held whole (on an object
    store it is read as a stream too). A torn last line (a kill) is ignored; a missing file
    has no records."""
    if is_url(path):
        from .storage.out import open_text

        with open_text(path, options) as handle:
            if handle is not None:
                yield from records_from(handle, is_csv(path))
        return
    if not path.is_file():
        return
    with open(path, encoding="utf-8", newline="") as handle:
        yield from records_from(handle, is_csv(path))


def records_from(lines: Iterable[str], csv_rows: bool = False) -> Iterator[tuple[str, str]]:
    """(source, JSON text) of the records of JSON lines (or CSV rows); lines that are not a
    whole record (a torn last line) are ignored."""
    if csv_rows:
        for row in csv.DictReader(lines):
            record = _from_csv(row)
            if record.get("source"):
                yield record["source"], to_json(record)
        return
    for line in lines:
        source = _source_of(line)
        if source is not None:
            yield source, line.rstrip("\n")


def _source_of(line: str) -> str | None:
    """The source of a JSON record line, or None for a line that is not a whole record."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    source = record.get("source") if isinstance(record, dict) else None
    return source if isinstance(source, str) else None


def _from_csv(row: dict) -> dict:
    record: dict = {}
    for key, text in row.items():
        if text == "" or text is None:
            record[key] = None
        elif key in INTEGER_FIELDS:
            record[key] = int(text)
        elif key in LIST_FIELDS:
            record[key] = [int(part) for part in text.split()]
        elif key == "seconds":
            record[key] = float(text)
        else:
            record[key] = unescape(text)
    return record


class Journal:
    """Append-only record of finished images; each line is flushed to the OS as it comes."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (lives with the run)

    def append(self, record: dict | str) -> None:
        if not isinstance(record, str):
            record = to_json(record)
        self._handle.write(record + "\n")
        self._handle.flush()

    def close(self, remove: bool) -> None:
        if self._handle.closed:
            return
        os.fsync(self._handle.fileno())
        self._handle.close()
        if remove:
            self.path.unlink(missing_ok=True)


def write_run_record(manifest: Location, record: dict, options: Options = ()) -> None:
    text = json_text(record, indent=2) + "\n"
    path = run_record_path(manifest)
    if is_url(path):
        from .storage.out import write_text

        write_text(path, options, lambda handle: handle.write(text))
        return
    write_atomic(path, text.encode("utf-8"))
