"""Atomic writes: a reader sees the old file or the whole new one, and no temp file survives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from conftest import read_records, save_photo

from resizer.files import is_temp_name, remove_stale_temps, temp_name, write_atomic

# The longest names ext4, tmpfs and most file systems allow: 255 bytes.
LONGEST_NAMES = ["x" * 251 + ".jpg", "\u732b" * 83 + "ab.jpg"]  # ASCII; 3-byte UTF-8 characters
longest_names = pytest.mark.parametrize("name", LONGEST_NAMES, ids=["ascii", "utf8"])


def test_write_atomic_creates_folders_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "out.jpg"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["out.jpg"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.jpg"
    target.write_bytes(b"old")

    def broken_replace(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.jpg"]


def test_temp_names_are_hidden_and_recognised(tmp_path):
    temp = temp_name(tmp_path / "cat.jpg")
    assert temp.parent == tmp_path
    assert temp.name.startswith(".resizer-tmp-")
    assert temp != temp_name(tmp_path / "cat.jpg")
    assert is_temp_name(temp.name)
    assert is_temp_name(".cat.jpg.resizer-tmp-deadbeef")  # what earlier releases left
    for users_own in [
        "cat.jpg",
        ".hidden.jpg",
        ".resizer-tmp-notes.txt",
        ".resizer-tmp-0123456789abcdef.bak",
        "resizer-tmp-0123456789abcdef",
        ".my.resizer-tmp-draft.jpg",
        ".resizer.lock",
    ]:
        assert not is_temp_name(users_own), users_own


@longest_names
def test_a_255_byte_name_can_be_written_atomically(tmp_path, name):
    assert len(name.encode()) == 255
    write_atomic(tmp_path / name, b"data")
    assert os.listdir(tmp_path) == [name]


def test_remove_stale_temps_only_removes_temps(tmp_path):
    (tmp_path / "sub").mkdir()
    keep = tmp_path / "sub" / "cat.jpg"
    keep.write_bytes(b"x")
    stale = temp_name(keep)
    stale.write_bytes(b"half")
    assert remove_stale_temps(tmp_path) == 1
    assert sorted(os.listdir(tmp_path / "sub")) == ["cat.jpg"]


KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
from resizer.files import atomic_writer
with atomic_writer(Path(sys.argv[1]), binary=True) as handle:
    handle.write(b"half an image")
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


@longest_names
def test_a_killed_writes_temp_beside_a_255_byte_name_is_cleaned(tmp_path, name):
    folder = tmp_path / "out" / "sub"
    folder.mkdir(parents=True)
    mine = [".resizer-tmp-notes.txt", ".hidden.jpg", "a.jpg"]
    for own in mine:
        (folder / own).write_bytes(b"the user's")
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(folder / name)], check=False)
    assert killed.returncode == -signal.SIGKILL
    [temp] = [left for left in os.listdir(folder) if left not in mine]  # the half-written file
    assert is_temp_name(temp)
    assert remove_stale_temps(tmp_path / "out") == 1
    assert sorted(os.listdir(folder)) == sorted(mine)


@longest_names
def test_255_byte_names_end_to_end(tmp_path, run_cli, name):
    src, out = tmp_path / "src", tmp_path / "out"
    save_photo(src / "deep" / name, 60, 40)
    save_photo(src / name.replace(".jpg", ".png"), 40, 60)
    result = run_cli("resize", src, "-o", out, "--size", "20x20", "--jobs", "2")
    assert result.exit_code == 0, result.output
    records = read_records(out / "manifest.jsonl")
    assert sorted(r["output"] for r in records) == sorted(
        ["deep/" + name, name.replace(".jpg", ".png")]
    )
    for record in records:
        assert (out / record["output"]).stat().st_size == record["bytes"]
