"""The manifest: one record per source image, as JSON Lines (default) or CSV.

Only the parent process writes it. While a run goes on, each result is appended to a journal
(OUT/.resizer/journal.jsonl) and flushed, so a killed run's finished work is known to the next
run; at the end the journal is compacted into the manifest, written atomically, and removed.
The run itself (options, versions, times, counts) is recorded beside the manifest in
`<manifest name>.run.json`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path

from .files import write_atomic
from .records import RECORD_FIELDS

FIELDS = RECORD_FIELDS
INTEGER_FIELDS = {
    "src_width", "src_height", "orientation", "width", "height", "bytes",
    "decode_scale", "src_bytes", "src_mtime_ns",
}  # fmt: skip
LIST_FIELDS = {"resize", "crop_box", "pad_offset"}


def run_record_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name.rsplit(".", 1)[0] + ".run.json")


def is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def write_manifest(path: Path, records: Iterable[dict]) -> None:
    """Write all records at once, atomically: readers see the old manifest or the new one."""
    buffer = io.StringIO(newline="")
    if is_csv(path):
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({key: _csv_value(record.get(key)) for key in FIELDS})
    else:
        for record in records:
            buffer.write(json.dumps(record, ensure_ascii=False) + "\n")
    write_atomic(path, buffer.getvalue().encode("utf-8"), fsync=True)


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return value


def read_manifest(path: Path) -> dict[str, dict]:
    """Records by source from a manifest or journal; a torn last line (a kill) is ignored."""
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as handle:
        if is_csv(path):
            rows = [_from_csv(row) for row in csv.DictReader(handle)]
        else:
            rows = []
            for line in handle:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return {row["source"]: row for row in rows if isinstance(row, dict) and "source" in row}


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
            record[key] = text
    return record


class Journal:
    """Append-only record of finished images; each line is flushed to the OS as it comes."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (lives with the run)

    def append(self, record: dict) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self, remove: bool) -> None:
        if self._handle.closed:
            return
        os.fsync(self._handle.fileno())
        self._handle.close()
        if remove:
            self.path.unlink(missing_ok=True)


def write_run_record(manifest: Path, record: dict) -> None:
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    write_atomic(run_record_path(manifest), text.encode("utf-8"))
