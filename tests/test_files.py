"""Atomic writes: a reader sees the old file or the whole new one, and no temp file survives."""

from __future__ import annotations

import os

import pytest

from resizer.files import is_temp_name, remove_stale_temps, temp_name, write_atomic


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
    assert temp.name.startswith(".cat.jpg")
    assert is_temp_name(temp.name)
    assert not is_temp_name("cat.jpg")
    assert not is_temp_name(".hidden.jpg")


def test_remove_stale_temps_only_removes_temps(tmp_path):
    (tmp_path / "sub").mkdir()
    keep = tmp_path / "sub" / "cat.jpg"
    keep.write_bytes(b"x")
    stale = temp_name(keep)
    stale.write_bytes(b"half")
    assert remove_stale_temps(tmp_path) == 1
    assert sorted(os.listdir(tmp_path / "sub")) == ["cat.jpg"]
