"""The manifest: every record round-trips through JSON Lines and CSV, whatever the file names."""

from __future__ import annotations

import json
import os

from resizer.manifest import (
    FIELDS,
    Journal,
    read_manifest,
    run_record_path,
    write_manifest,
    write_run_record,
)

UNDECODABLE = os.fsdecode(b"caf\xe9/\xff.jpg")  # legal on Linux, not UTF-8

AWKWARD_NAMES = [
    "plain/a.jpg",
    "with space/b c.jpg",
    'quote"and,comma.jpg',
    "new\nline.jpg",
    "unicodé/ñandú.jpg",
    "unicode\u0301-nfd.jpg",
    UNDECODABLE,
    "looks\\udce9escaped.jpg",  # a real backslash before escape-shaped text
]


def record(source: str) -> dict:
    return {
        "source": source,
        "output": source,
        "status": "ok",
        "error": None,
        "src_width": 400,
        "src_height": 300,
        "width": 224,
        "height": 168,
        "bytes": 1234,
        "resize": [224, 168],
        "crop_box": [0, 0, 224, 168],
        "pad_offset": [0, 0],
        "pixel_sum": [3000000, 2000000, 1000000],
        "pixel_sumsq": [1732470000123, 1000000000000, 1],
        "src_mtime_ns": 1732470000123456789,
        "seconds": 0.0123,
    }


def test_jsonl_round_trip_with_awkward_names(tmp_path):
    path = tmp_path / "manifest.jsonl"
    write_manifest(path, [record(name) for name in AWKWARD_NAMES])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(AWKWARD_NAMES)  # a newline in a name stays escaped
    back = read_manifest(path)
    assert set(back) == set(AWKWARD_NAMES)
    assert back["new\nline.jpg"]["resize"] == [224, 168]


def test_csv_round_trip_with_awkward_names(tmp_path):
    path = tmp_path / "manifest.csv"
    write_manifest(path, [record(name) for name in AWKWARD_NAMES])
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == FIELDS
    back = read_manifest(path)
    assert set(back) == set(AWKWARD_NAMES)
    row = back['quote"and,comma.jpg']
    assert row["src_mtime_ns"] == 1732470000123456789
    assert row["crop_box"] == [0, 0, 224, 168]
    assert row["pixel_sumsq"] == [1732470000123, 1000000000000, 1]
    assert row["error"] is None
    assert row["seconds"] == 0.0123


def test_undecodable_names_keep_every_record_and_the_file_valid_utf8(tmp_path):
    for name in ("manifest.jsonl", "manifest.csv", "journal.jsonl"):
        path = tmp_path / name
        records = [record(f"{index:03d}.jpg") for index in range(100)]
        records.insert(50, record(UNDECODABLE))
        if name.startswith("journal"):
            journal = Journal(path)
            for item in records:
                journal.append(item)
            journal.close(remove=False)
        else:
            write_manifest(path, records)
        text = path.read_bytes().decode("utf-8")  # strictly valid UTF-8
        assert "caf\\udce9/\\udcff.jpg" in text  # the documented escape
        back = read_manifest(path)
        assert len(back) == 101
        assert os.fsencode(back[UNDECODABLE]["output"]) == b"caf\xe9/\xff.jpg"


def test_run_record_with_an_undecodable_src_is_valid_utf8(tmp_path):
    write_run_record(tmp_path / "manifest.jsonl", {"settings": {"sources": [UNDECODABLE]}})
    text = (tmp_path / "manifest.run.json").read_bytes().decode("utf-8")
    assert json.loads(text)["settings"]["sources"] == [UNDECODABLE]


def test_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps(record("a.jpg")) + "\n" + '{"source": "b.jp', encoding="utf-8")
    assert list(read_manifest(path)) == ["a.jpg"]


def test_journal_appends_and_is_removed_when_asked(tmp_path):
    path = tmp_path / "state" / "journal.jsonl"
    journal = Journal(path)
    journal.append(record("a.jpg"))
    assert list(read_manifest(path)) == ["a.jpg"]  # readable while the run goes on
    journal.close(remove=True)
    assert not path.exists()


def test_run_record_sits_beside_the_manifest(tmp_path):
    assert run_record_path(tmp_path / "manifest.jsonl") == tmp_path / "manifest.run.json"
    assert run_record_path(tmp_path / "data.csv") == tmp_path / "data.run.json"
