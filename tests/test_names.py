"""File names that are not valid UTF-8: processed under their exact bytes, never costing a record.

Linux allows any bytes but "/" and NUL in a name. Python gives us such a name as a
surrogateescape string; the manifest writes its undecodable bytes as `\\udcXX` escapes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import read_records, save_photo
from hypothesis import given
from hypothesis import strategies as st

from resizer.manifest import read_manifest
from resizer.names import escape, json_text, unescape
from resizer.records import Result
from resizer.report import Report

CAFE = b"caf\xe9.jpg"  # Latin-1 "café.jpg": legal on Linux, not UTF-8
FOLDER = b"d\xff\xfe"  # a folder name that is no UTF-8 at all
# Characters that make escaping hard: backslashes, escape-shaped text, undecodable bytes.
TRICKY = st.text(alphabet=["\\", "u", "d", "c", "8", "e", "9", "x", "é", "\udce9", "\udc80"])


def fs(name: bytes) -> str:
    return os.fsdecode(name)


@given(st.binary(max_size=40))
def test_every_byte_name_survives_the_text_escape(raw):
    name = os.fsdecode(raw)
    text = escape(name)
    text.encode("utf-8")  # always writable as UTF-8
    assert os.fsencode(unescape(text)) == raw


@given(TRICKY)
def test_escape_is_lossless_even_for_names_that_look_escaped(name):
    assert unescape(escape(name)) == name


def test_the_text_escape_is_the_documented_one():
    assert escape(fs(CAFE)) == "caf\\udce9.jpg"
    assert escape("plain/é.jpg") == "plain/é.jpg"
    # A name that really contains the text \udce9 keeps it by doubling the backslash.
    assert escape("a\\udce9.jpg") == "a\\\\udce9.jpg"
    assert unescape("a\\\\udce9.jpg") == "a\\udce9.jpg"


@given(TRICKY)
def test_json_text_is_utf8_and_gives_back_the_exact_name(name):
    text = json_text({"source": name})
    text.encode("utf-8")
    assert json.loads(text)["source"] == name


def test_json_text_writes_undecodable_bytes_as_json_escapes():
    text = json_text({"source": fs(CAFE), "other": "ñandú"})
    assert text == '{"source": "caf\\udce9.jpg", "other": "ñandú"}'
    assert os.fsencode(json.loads(text)["source"]) == CAFE


def odd_tree(src: Path) -> None:
    """Normal names around one name and one folder that are not UTF-8."""
    save_photo(src / "a.jpg", 40, 30, seed=1)
    save_photo(src / "z.png", 30, 40, seed=2)
    save_photo(src / "ñandú.jpg", 40, 40, seed=3)
    save_photo(Path(fs(bytes(src) + b"/" + CAFE)), 60, 30, seed=4)
    save_photo(Path(fs(bytes(src) + b"/" + FOLDER + b"/b.jpg")), 30, 30, seed=5)


ODD_SOURCES = {b"a.jpg", b"z.png", "ñandú.jpg".encode(), CAFE, FOLDER + b"/b.jpg"}


def test_an_undecodable_name_is_processed_and_recorded_with_all_others(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    odd_tree(src)
    result = run_cli("resize", src, "-o", out, "--size", "20x20", "--jobs", "2")
    assert result.exit_code == 0, result.output

    raw = (out / "manifest.jsonl").read_bytes()
    raw.decode("utf-8")  # strictly valid UTF-8
    assert b"caf\\udce9.jpg" in raw
    records = read_records(out / "manifest.jsonl")
    assert {os.fsencode(r["source"]) for r in records} == ODD_SOURCES
    assert {r["status"] for r in records} == {"ok"}
    for record in records:  # the output has exactly the source's name, byte for byte
        output = bytes(out) + b"/" + os.fsencode(record["output"])
        assert os.stat(output).st_size == record["bytes"]
    assert CAFE in os.listdir(bytes(out))

    rerun = run_cli("resize", src, "-o", out, "--size", "20x20", "--jobs", "1")
    assert "0 ok, 5 skipped, 0 failed" in rerun.stderr


def test_a_csv_manifest_holds_the_escape_as_text_and_reads_back(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    odd_tree(src)
    manifest = tmp_path / "m.csv"
    args = ("resize", src, "-o", out, "--size", "20x20", "--jobs", "1", "--manifest", manifest)
    assert run_cli(*args).exit_code == 0
    text = manifest.read_bytes().decode("utf-8")
    assert "caf\\udce9.jpg,caf\\udce9.jpg,ok," in text
    assert {os.fsencode(source) for source in read_manifest(manifest)} == ODD_SOURCES
    assert "0 ok, 5 skipped" in run_cli(*args).stderr


def test_printing_such_names_never_crashes(tmp_path, run_cli):
    """CliRunner's stdout is strict UTF-8, as a terminal in a UTF-8 locale is."""
    src, out = tmp_path / "src", tmp_path / "out"
    odd_tree(src)
    plan = run_cli("resize", src, "-o", out, "--size", "20x20", "--dry-run")
    assert plan.exit_code == 0
    assert "caf\\udce9.jpg -> caf\\udce9.jpg\n" in plan.stdout
    assert "d\\udcff\\udcfe/b.jpg -> d\\udcff\\udcfe/b.jpg\n" in plan.stdout
    as_json = run_cli("resize", src, "-o", out, "--size", "20x20", "--dry-run", "--json")
    to_do = {os.fsencode(job["source"]) for job in json.loads(as_json.stdout)["to_do"]}
    assert to_do == ODD_SOURCES

    (Path(fs(bytes(src) + b"/bad\xe9.png"))).write_bytes(b"not an image")
    run = run_cli("resize", src, "-o", out, "--size", "20x20", "--jobs", "1", "-v", "--json")
    assert run.exit_code == 1
    assert json.loads(run.stdout)["summary"]["failed"] == 1
    assert "failed: bad\\udce9.png: not an image" in run.stderr
    assert "ok: caf\\udce9.jpg -> caf\\udce9.jpg" in run.stderr


def test_report_lines_are_escaped_on_a_strict_stream(capsys):
    """A library caller's stderr may be strict UTF-8 (pytest's capture is)."""
    report = Report(verbosity=1)
    report.add(Result(source=fs(CAFE), output=fs(CAFE), status="ok"))
    report.add(Result(source=fs(FOLDER + b"/x.jpg"), error="not an image"))
    assert capsys.readouterr().err.splitlines() == [
        "resizer: ok: caf\\udce9.jpg -> caf\\udce9.jpg",
        "resizer: failed: d\\udcff\\udcfe/x.jpg: not an image",
    ]


def test_an_undecodable_src_file_given_directly(tmp_path, run_cli):
    source = save_photo(Path(fs(bytes(tmp_path) + b"/" + CAFE)), 40, 20)
    out = tmp_path / "out"
    assert run_cli("resize", source, "-o", out, "--size", "20").exit_code == 0
    [record] = read_records(out / "manifest.jsonl")
    assert os.fsencode(record["source"]) == CAFE
    assert os.path.getsize(bytes(out) + b"/" + CAFE) == record["bytes"]
    run_record = (out / "manifest.run.json").read_bytes().decode("utf-8")
    assert json.loads(run_record)["settings"]["sources"] == [str(source)]
