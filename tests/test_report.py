"""The Report: counters, messages, summary and exit codes."""

from __future__ import annotations

import json
import os

import pytest

from resizer.process import Result
from resizer.report import Report, SafeStream, json_blocks


def result(status: str, error: str | None = None) -> Result:
    return Result(source="cats/a.jpg", output="cats/a.jpg", status=status, error=error)


def test_counts_and_exit_codes():
    report = Report()
    report.add(result("ok"))
    report.add(result("skipped"))
    assert report.exit_code == 0
    report.add(result("failed", "cannot decode: truncated"))
    report.finish()
    assert (report.ok, report.skipped, report.failed) == (1, 1, 1)
    assert report.exit_code == 1
    assert report.summary()["exit_code"] == 1


def test_signals_map_to_shell_exit_codes():
    for name, code in (("SIGINT", 130), ("SIGTERM", 143)):
        report = Report()
        report.stopped_by = name
        assert report.exit_code == code


def test_a_stop_for_a_fatal_out_error_is_a_failure():
    report = Report()
    report.stopped_by = "OUT is unusable (No space left on device)"
    assert report.exit_code == 1
    assert "stopped early" in report.summary_line()


def test_failures_are_printed_with_their_cause_and_summary_line(capsys):
    report = Report()
    report.add(result("failed", "empty file"))
    report.add(result("ok"))
    report.finish()
    report.print_summary()
    err = capsys.readouterr().err
    assert "resizer: failed: cats/a.jpg: empty file" in err
    assert "1 ok, 0 skipped, 1 failed" in err
    assert "images/s" in err


def test_quiet_prints_nothing_and_verbose_prints_each_image(capsys):
    quiet = Report(verbosity=-1)
    quiet.add(result("failed", "empty file"))
    quiet.print_summary()
    assert capsys.readouterr().err == ""
    verbose = Report(verbosity=1)
    verbose.add(result("ok"))
    assert "ok: cats/a.jpg -> cats/a.jpg" in capsys.readouterr().err


def test_messages_go_through_the_progress_bar_writer_when_set():
    lines = []
    report = Report(write=lines.append)
    report.add(result("failed", "empty file"))
    assert lines == ["resizer: failed: cats/a.jpg: empty file"]


def test_a_record_that_could_not_be_saved_is_said_even_when_quiet_and_fails_the_run(capsys):
    report = Report(verbosity=-1)
    report.add(result("ok"))
    report.save_failed("cannot write the manifest 'out/manifest.jsonl': the disk is full")
    assert capsys.readouterr().err == (
        "resizer: cannot write the manifest 'out/manifest.jsonl': the disk is full\n"
    )
    assert report.exit_code == 1
    assert report.summary()["manifest_error"].startswith("cannot write the manifest")


def test_a_safe_stream_drops_writes_once_its_reader_has_gone():
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as pipe:
        stream = SafeStream(pipe)
        stream.write("first line\n")
        stream.flush()  # EPIPE: the descriptor now points at /dev/null
        assert stream.gone
        stream.write("more\n")
        stream.flush()
    missing = SafeStream(None)
    assert missing.write("nothing") == len("nothing")
    assert not missing.isatty()


@pytest.mark.parametrize(
    "document",
    [
        {"to_do": [], "up_to_date": [], "unreadable": [], "ignored_files": 0},
        {"to_do": [{"source": "a.jpg", "output": "a.png"}], "up_to_date": ["b"], "n": None},
        {
            "to_do": [{"source": os.fsdecode(b"caf\xe9.jpg"), "output": 'q"\n.png'}] * 3,
            "up_to_date": ["x", "\U0001f600"],
            "unreadable": [{"source": "dir/", "error": "cannot list folder: Permission denied"}],
            "ignored_files": 7,
            "nested": {"a": [1, {"b": []}]},
        },
        {"items": [{"k": 'a"\\b\u00e9', "n": None}, {"k": "x", "n": 2}, [1, 2], {}, 3.5, None]},
    ],
)
def test_json_blocks_join_into_exactly_the_json_document(document):
    """Lists given as iterators are streamed item by item into the text json.dumps makes."""
    streamed = {
        name: iter(value) if isinstance(value, list) else value for name, value in document.items()
    }
    assert "\n".join(json_blocks(streamed)) == json.dumps(document, indent=2)
