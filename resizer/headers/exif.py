"""EXIF orientation from raw metadata bytes, by the rules Pillow applies, without Pillow.

`resizer resize` takes an image's orientation from Pillow's `getexif()`, and the upright size (so
every predicted crop and pad) depends on it, so `resizer scan` must find the same value in the
same bytes. These functions follow Pillow's `Exif.load` and `ImageFileDirectory_v2.load` (13.x)
rule for rule: which duplicate wins, which types yield an integer, what makes an entry skipped
and what makes the whole block unreadable, and the XMP `tiff:Orientation` fallback.
tests/test_exif.py checks them against Pillow itself on generated blocks.
"""

from __future__ import annotations

import re
import struct

ORIENTATION_TAG = 0x0112
# TIFF field type -> bytes per value, as Pillow loads them; other types are skipped.
UNIT_SIZES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
    16: 8,
}
# Types Pillow returns as integers (BYTE and UNDEFINED come back as bytes, ASCII as str).
INTEGER_FORMATS = {3: "H", 4: "L", 6: "b", 8: "h", 9: "l", 13: "L", 16: "Q"}
TIFF_PREFIXES = (
    b"MM\x00\x2a",
    b"II\x2a\x00",
    b"MM\x2a\x00",
    b"II\x00\x2a",
    b"MM\x00\x2b",
    b"II\x2b\x00",
)
EXIF_HEADER = re.compile(rb"^(Exif\x00\x00){1,2}")
XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')


class BadExif(Exception):
    """The block is not readable at all: Pillow raises, and resize falls back to 1."""


def ifd0(data: bytes) -> dict[int, tuple[int, bytes]]:
    """The first IFD of a TIFF-structured block: tag -> (type, value bytes), as Pillow keeps it.

    Entries of unknown type, empty, or whose data would run past the block are skipped; a
    directory cut short keeps the entries read so far.
    """
    head = data[:8]
    if not head.startswith(TIFF_PREFIXES):
        raise BadExif("not a TIFF header")
    if head[2] == 43 or len(head) < 8:  # Pillow cannot read a BigTIFF header from 8 bytes
        raise BadExif("truncated header")
    endian = ">" if head[:2] == b"MM" else "<"
    (offset,) = struct.unpack(endian + "L", head[4:8])
    entries: dict[int, tuple[int, bytes]] = {}
    if offset + 2 > len(data):
        return entries
    (count,) = struct.unpack_from(endian + "H", data, offset)
    position = offset + 2
    total = 0
    for _ in range(count):
        if position + 12 > len(data):
            break
        tag, kind, number = struct.unpack_from(endian + "HHL", data, position)
        inline = data[position + 8 : position + 12]
        position += 12
        if tag in entries or kind not in UNIT_SIZES:
            continue
        size = number * UNIT_SIZES[kind]
        if size > 4:
            (where,) = struct.unpack(endian + "L", inline)
            total += size
            if total > len(data):
                continue
            if where + size > len(data):
                break  # Pillow's read raises here, which ends the directory
            value = bytes(data[where : where + size])
        else:
            value = bytes(inline[:size])
        if value:
            entries[tag] = (kind, value)
    return entries


def integer_value(entries: dict[int, tuple[int, bytes]], tag: int, endian: str) -> int | None:
    """The tag's first value when Pillow would return it as an int, else None."""
    kind, value = entries[tag]
    code = INTEGER_FORMATS.get(kind)
    if code is None:
        return None
    return struct.unpack_from(endian + code, value)[0]


def orientation(exif: bytes | None, xmp: bytes | str | None) -> int:
    """The orientation resize applies (1-8; 1 for anything invalid), from an EXIF block (with or
    without its "Exif\\0\\0" header) and the XMP packet Pillow would consult when EXIF has none."""
    value: int | None = None
    present = False
    if exif:
        data = EXIF_HEADER.sub(b"", bytes(exif))
        if data:
            try:
                entries = ifd0(data)
            except (BadExif, struct.error):
                return 1
            if ORIENTATION_TAG in entries:
                present = True
                endian = ">" if data[:2] == b"MM" else "<"
                value = integer_value(entries, ORIENTATION_TAG, endian)
    if not present and xmp:
        text = xmp.encode("utf-8", "replace") if isinstance(xmp, str) else bytes(xmp)
        match = XMP_ORIENTATION.search(text)
        if match:
            value = int(match[2])
    return value if value is not None and 1 <= value <= 8 else 1


def raw_profile(text: str) -> bytes | None:
    """ImageMagick's "Raw profile type exif" PNG text: hex after three header lines."""
    try:
        return bytes.fromhex("".join(text.split("\n")[3:]))
    except ValueError:
        raise BadExif("bad hex in raw profile") from None


def mpo_frames(mpf: bytes) -> int:
    """Number of images in a JPEG's MPF (APP2) index, as Pillow counts them; 1 if unreadable."""
    try:
        entries = ifd0(mpf)
        endian = ">" if mpf[:2] == b"MM" else "<"
        count = integer_value(entries, 0xB001, endian) if 0xB001 in entries else None
        if count is None or count < 2 or 0xB002 not in entries:
            return 1
        table = entries[0xB002][1]
        for index in range(count):  # Pillow reads only JPEG entries
            (attribute,) = struct.unpack_from(endian + "L", table, index * 16)
            if (attribute >> 24) & 7:
                return 1
    except (BadExif, struct.error):
        return 1
    return count
