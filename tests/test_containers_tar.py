"""Shards as tar archives: fixed member metadata, sizes known before writing, a fast index that
agrees with `tarfile` and refuses what is not a whole archive."""

from __future__ import annotations

import io
import tarfile

import pytest

from resizer.containers.tar import (
    BLOCK,
    RECORD,
    ShardError,
    ShardWriter,
    archive_size,
    header,
    header_size,
    member_info,
    padded,
    read_index,
)

NAMES = [
    "cats/a.jpg",
    "cats/a.json",
    "x" * 99 + ".png",  # longer than ustar's 100-byte name field
    "dogs/ünïcødé ✓.jpg",
    "deep/" * 30 + "k.jpg",
    "empty.json",
]


def write(path, members: list[tuple[str, bytes]]) -> None:
    with open(path, "wb") as handle:
        writer = ShardWriter(handle)
        for index, (name, data) in enumerate(members):
            if index % 2:
                writer.add_bytes(name, data)
            else:
                writer.add(name, len(data), io.BytesIO(data))
        writer.close()


def members_of(names: list[str]) -> list[tuple[str, bytes]]:
    return [(name, bytes([index]) * (index * 700)) for index, name in enumerate(names)]


def test_members_have_fixed_metadata_and_their_bytes(tmp_path):
    path = tmp_path / "s.tar"
    members = members_of(NAMES)
    write(path, members)
    with tarfile.open(path) as archive:
        infos = archive.getmembers()
        assert [info.name for info in infos] == NAMES
        for info, (_, data) in zip(infos, members, strict=True):
            assert archive.extractfile(info).read() == data
            assert info.isreg() and info.mode == 0o644 and info.mtime == 0
            assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")


def test_the_file_size_is_known_from_names_and_sizes_alone(tmp_path):
    path = tmp_path / "s.tar"
    members = members_of(NAMES)
    write(path, members)
    expected = archive_size(sum(header_size(n) + padded(len(d)) for n, d in members))
    assert path.stat().st_size == expected and expected % RECORD == 0
    assert header_size("cats/a.jpg") == BLOCK
    assert header_size("dogs/ünïcødé ✓.jpg") > BLOCK  # a pax header carries the name


def test_the_same_members_give_the_same_bytes(tmp_path):
    write(tmp_path / "one.tar", members_of(NAMES))
    write(tmp_path / "two.tar", members_of(NAMES))
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()


def test_the_index_agrees_with_tarfile(tmp_path):
    path = tmp_path / "s.tar"
    write(path, members_of(NAMES))
    with tarfile.open(path) as archive:
        expected = {info.name: (info.offset_data, info.size) for info in archive}
    index = read_index(path)
    assert index == expected
    assert list(index) == NAMES  # in archive order


def test_the_index_reads_archives_tarfile_wrote(tmp_path):
    path = tmp_path / "other.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members_of(NAMES):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with tarfile.open(path) as archive:
        expected = {info.name: (info.offset_data, info.size) for info in archive}
    assert read_index(path) == expected


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda data: data[: len(data) // 2], "truncated"),
        (lambda data: data[:700], "truncated"),
        (lambda data: b"", "truncated"),
        (lambda data: b"not a tar file at all" * 100, "no tar header"),
        (lambda data: data[:124] + b"zzzzzzzzzzz\0" + data[136:], "damaged header"),
    ],
)
def test_the_index_refuses_a_damaged_or_foreign_file(tmp_path, damage, words):
    path = tmp_path / "s.tar"
    write(path, members_of(NAMES))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ShardError, match=words):
        read_index(path)


def test_a_source_shorter_than_its_size_is_an_error_not_a_short_member(tmp_path):
    with open(tmp_path / "s.tar", "wb") as handle, pytest.raises(OSError, match="ended 10 bytes"):
        ShardWriter(handle).add("a.jpg", 20, io.BytesIO(b"0123456789"))


@pytest.mark.parametrize("name", [*NAMES, "a", "x" * 100, "sp ace/%25.json"])
@pytest.mark.parametrize("size", [0, 1, 511, 512, 1234567, 8**11 - 1, 8**11])
def test_headers_are_the_bytes_tarfile_writes(name, size):
    """Short ASCII names get a ustar header built directly; it must be tarfile's, byte for byte."""
    expected = member_info(name, size).tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    assert header(name, size) == expected
