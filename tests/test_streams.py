"""stdout carries only what was asked for, and no output stream can lose a run.

Real processes with real descriptors: stderr on a pseudo-terminal (so the progress bar is on),
stdout a pipe, a pipe whose reader has gone (`| head`), or closed altogether (`>&-`).
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest
from conftest import read_records, save_photo


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """Five good images and one that fails."""
    root = tmp_path / "src"
    for index in range(5):
        save_photo(root / f"good{index}.jpg", 64, 48, seed=index)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    return root


def run(args: list, stdout, stderr, preexec_fn=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "resizer", *map(str, args)],
        stdout=stdout,
        stderr=stderr,
        preexec_fn=preexec_fn,
    )


class Terminal:
    """A pseudo-terminal for the child's stderr; everything written to it is collected."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: every writer has closed the slave side
                return
            if not chunk:
                return
            self.chunks.append(chunk)

    def text(self) -> str:
        """Once the child has exited: all it wrote."""
        os.close(self.slave)
        self.reader.join(timeout=30)
        os.close(self.master)
        return b"".join(self.chunks).decode(errors="replace")


def gone_reader() -> int:
    """The write end of a pipe whose reader has already left, as after `| head -c 10`."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


def test_on_a_terminal_the_bar_and_every_message_go_to_stderr_and_stdout_is_the_json(src, tmp_path):
    terminal = Terminal()
    out = tmp_path / "out"
    process = run(
        ["resize", src, "-o", out, "--size", "32", "--json", "-v"], subprocess.PIPE, terminal.slave
    )
    stdout, _ = process.communicate(timeout=120)
    stderr = terminal.text()
    assert process.returncode == 1, stderr
    document = json.loads(stdout)  # the whole of stdout is the document, nothing else
    assert document["summary"]["failed"] == 1
    assert "resizer: failed: broken.jpg: " in stderr
    assert "resizer: ok: good0.jpg -> good0.jpg" in stderr
    assert "6/6" in stderr and "img/s" in stderr  # tqdm's bar
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    "options",
    [
        ["--json"],  # resizer resize ... --json | head -c 10
        ["-v"],  # resizer resize ... -v | head -3, with the bar on the terminal
    ],
)
def test_a_stdout_reader_that_has_gone_does_not_lose_the_run(src, tmp_path, options):
    terminal, stdout = Terminal(), gone_reader()
    out = tmp_path / "out"
    process = run(["resize", src, "-o", out, "--size", "32", *options], stdout, terminal.slave)
    os.close(stdout)
    process.wait(timeout=120)
    stderr = terminal.text()
    assert process.returncode == 1, stderr  # the run's own code: one image failed
    assert "Traceback" not in stderr and "Exception" not in stderr
    assert "resizer: 5 ok, 0 skipped, 1 failed" in stderr
    records = read_records(out / "manifest.jsonl")
    assert [r["status"] for r in records].count("ok") == 5
    assert all((out / r["output"]).is_file() for r in records if r["status"] == "ok")


@pytest.mark.parametrize("options", [[], ["--json"]])
def test_a_dry_run_whose_reader_has_gone_exits_quietly(src, tmp_path, options):
    stdout = gone_reader()
    process = run(
        ["resize", src, "-o", tmp_path / "out", "--size", "32", "--dry-run", *options],
        stdout,
        subprocess.PIPE,
    )
    os.close(stdout)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert b"Traceback" not in stderr and b"Exception" not in stderr
    assert not (tmp_path / "out").exists()


def test_a_run_with_stdout_closed_still_writes_everything(src, tmp_path):
    out = tmp_path / "out"
    process = run(
        ["resize", src, "-o", out, "--size", "32", "--json"],
        None,
        subprocess.PIPE,
        preexec_fn=lambda: os.close(1),  # resizer ... >&-
    )
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    assert stderr.decode().endswith("images/s)\n")  # the summary line, nothing else went wrong
    assert len(read_records(out / "manifest.jsonl")) == 6
    assert json.loads((out / "manifest.run.json").read_text())["summary"]["ok"] == 5


def test_with_stderr_closed_stdout_is_still_only_the_json(src, tmp_path):
    out = tmp_path / "out"
    process = run(
        ["resize", src, "-o", out, "--size", "32", "--json", "-v"],
        subprocess.PIPE,
        None,
        preexec_fn=lambda: os.close(2),  # resizer ... 2>&-
    )
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 1
    assert json.loads(stdout)["summary"]["ok"] == 5
    assert len(read_records(out / "manifest.jsonl")) == 6


def test_a_stderr_reader_that_has_gone_does_not_lose_the_run(src, tmp_path):
    out, stderr = tmp_path / "out", gone_reader()  # resizer ... -v 2>&1 | head -1
    process = run(
        ["resize", src, "-o", out, "--size", "32", "-v", "--progress"], subprocess.PIPE, stderr
    )
    os.close(stderr)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 1
    assert stdout == b""
    records = read_records(out / "manifest.jsonl")
    assert [r["status"] for r in records].count("ok") == 5
