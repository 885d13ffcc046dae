"""Staging: each worker process appends encoded images to one hidden file of its own in OUT, and
the parent reads every image back whole, from wherever it was appended."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from resizer.containers.staging import MARK, Reader, remove_staging, stage


def staged_files(out) -> list[str]:
    return sorted(name for name in os.listdir(out) if name.startswith(MARK))


def read_back(out, name: str, offset: int, size: int) -> bytes:
    reader = Reader(out)
    try:
        return reader.at(name, offset).read(size)
    finally:
        reader.close()


def test_images_are_appended_to_one_hidden_file_per_process(tmp_path):
    images = [bytes([index]) * (100 + index) for index in range(5)]
    places = [stage(tmp_path, data) for data in images]
    [name] = staged_files(tmp_path)
    assert name.startswith(f"{MARK}{os.getpid()}-")
    assert {place[0] for place in places} == {name}
    assert [offset for _, offset in places] == [0, 100, 201, 303, 406]
    for (name, offset), data in zip(places, images, strict=True):
        assert read_back(tmp_path, name, offset, len(data)) == data


def test_another_process_appends_to_a_file_of_its_own(tmp_path):
    code = (
        "import sys; from pathlib import Path; from resizer.containers.staging import stage; "
        "print(*stage(Path(sys.argv[1]), b'other process'))"
    )
    mine = stage(tmp_path, b"this process")
    other = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                           text=True, check=True, env=os.environ).stdout.split()  # fmt: skip
    assert other[0] != mine[0] and other[1] == "0"
    assert read_back(tmp_path, other[0], 0, 13) == b"other process"
    assert read_back(tmp_path, *mine, 12) == b"this process"


def test_a_removed_or_altered_staging_file_is_replaced_not_appended_to(tmp_path):
    first = stage(tmp_path, b"one")
    remove_staging(tmp_path)  # the end of a run, in a process that lives on (a Dask worker)
    assert staged_files(tmp_path) == []
    second = stage(tmp_path, b"two")
    assert second[1] == 0 and second[0] != first[0]
    with open(tmp_path / second[0], "ab") as handle:
        handle.write(b"torn")  # as a write that failed half-way would leave it
    third = stage(tmp_path, b"three")
    assert third[1] == 0 and third[0] not in (first[0], second[0])
    assert read_back(tmp_path, *third, 5) == b"three"


def test_the_reader_opens_nothing_but_staging_files(tmp_path):
    (tmp_path / "manifest.jsonl").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no staging file"):
        Reader(tmp_path).at("manifest.jsonl", 0)
