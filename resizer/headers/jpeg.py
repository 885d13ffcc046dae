"""JPEG headers: Pillow's marker loop up to the first scan, and the end-of-image check."""

from __future__ import annotations

import re
import struct

from . import exif
from .common import FileInfo, Unreadable
from .files import HEAD, Reader

SOF = {*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC} | {0xDE}
# Markers Pillow reads a length for and skips (or reads) before the scan.
SEGMENTS = SOF | {0xC4, 0xCC, 0xDA, 0xDB, 0xDC, 0xDD, 0xDF, 0xFE, *range(0xE0, 0xF0)}
MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
SCAN_BLOCK = 1 << 20
# Segments whose content Pillow looks at; the others are only skipped.
READ = SOF | {0xDB, 0xE0, 0xE1, 0xE2, 0xEE}


def read(reader: Reader, info: FileInfo) -> None:
    """Pillow's marker loop up to the first scan, then a look for the end-of-image marker."""
    exif_block: bytes | None = None
    xmp: bytes | None = None
    icc_parts: list[bytes] = []  # (sequence number, count) of each ICC segment not yet seen
    icc = False
    mpf: bytes | None = None
    ultra_hdr = False
    frame = None
    size = reader.size
    data, base = reader.head, 0  # `data` holds the file from offset `base`
    available = len(data)
    position = 2  # Pillow checks FF D8 FF, then reads markers from that last FF
    while True:
        at = position - base
        if at + 4 > available and base + available < size:
            data, base, at = reader.read(position, HEAD), position, 0
            available = len(data)
        if at + 1 >= available:
            raise Unreadable("truncated JPEG: the file ends before the image data")
        if data[at] != 0xFF:
            # Junk between markers, skipped as Pillow does.
            found = data.find(b"\xff", at)
            position = base + (found if found >= 0 else available)
            continue
        marker = data[at + 1]
        if marker not in SEGMENTS:
            if marker == 0xFF or marker == 0x00:
                position += 1 if marker == 0xFF else 2
            elif marker < 0xC0:
                raise Unreadable("not a JPEG: no marker where one must be")
            else:
                position += 2  # a marker without a segment (RSTn, SOI, EOI, JPGn)
            continue
        if at + 4 > available:
            raise Unreadable("truncated JPEG: the file ends inside a header segment")
        length = (data[at + 2] << 8 | data[at + 3]) - 2
        if length < 0:
            length = 0
        start, position = position + 4, position + 4 + length
        if position > size:
            raise Unreadable("truncated JPEG: the file ends inside a header segment")
        if marker not in READ:
            if marker == 0xDA:
                break
            continue
        if position - base <= available:
            segment = data[start - base : position - base]
        else:
            segment = reader.read(start, length)
        if marker in SOF:
            frame = _frame(segment)
            if icc_parts:  # Pillow assembles the profile at each frame header
                if min(len(part) for part in icc_parts) < 2:
                    raise Unreadable("broken JPEG: truncated ICC profile segment")
                icc = sorted(icc_parts)[0][1] == len(icc_parts)
                icc_parts = []
        elif marker == 0xDB:
            _quantisation(segment)
        elif marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            exif_block = segment if exif_block is None else exif_block + segment[6:]
        elif marker == 0xE1 and segment.startswith(XMP_APP1):
            xmp = segment.split(b"\x00", 1)[1]
        elif marker == 0xE2 and segment.startswith(b"ICC_PROFILE\x00"):
            icc_parts.append(segment[12:14])
        elif marker == 0xE2 and segment.startswith(b"MPF\x00"):
            mpf = segment[4:]
        elif (marker, segment[:4]) in ((0xE0, b"JFIF"), (0xEE, b"Adob")) and len(segment) < 7:
            raise Unreadable("broken JPEG: truncated JFIF or Adobe segment")
        if marker == 0xE1 and b' hdrgm:Version="' in segment:
            ultra_hdr = True
    if frame is None:
        raise Unreadable("not a JPEG: no frame header before the image data")
    width, height, mode = frame
    frames = exif.mpo_frames(mpf) if mpf is not None and not ultra_hdr else 1
    info.format = "MPO" if frames > 1 else "JPEG"
    info.mode, info.bits, info.alpha, info.icc = mode, 8, False, icc
    info.frames = frames
    info.orient((width, height), exif.orientation(exif_block, xmp))
    if not _ends(reader, position):
        info.suspect("truncated: the JPEG has no end-of-image marker (resize will fail it)")


def _frame(segment: bytes) -> tuple[int, int, str]:
    precision, height, width, layers = struct.unpack_from(">BHHB", segment)
    if precision != 8:
        raise Unreadable(f"{precision}-bit JPEG: Pillow reads only 8-bit JPEGs")
    mode = {1: "L", 3: "RGB", 4: "CMYK"}.get(layers)
    if mode is None:
        raise Unreadable(f"JPEG with {layers} colour components: Pillow cannot read it")
    return width, height, mode


def _quantisation(segment: bytes) -> None:
    while segment:
        length = 1 + (64 if segment[0] // 16 == 0 else 128)
        if len(segment) < length:
            raise Unreadable("broken JPEG: bad quantization table")
        segment = segment[length:]


def _ends(reader: Reader, start: int) -> bool:
    """Whether an end-of-image marker follows the scans: at the very end (the usual case, one
    small read), or anywhere after the first scan (data appended after the image: motion
    photos, padding). Segments between progressive scans are skipped, not searched."""
    tail = reader.read(max(start, reader.size - 64), 64)
    if tail.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return True
    position = start
    while position < reader.size:
        block = reader.read(position, SCAN_BLOCK)
        match = MARKER.search(block)
        if match is None:
            if len(block) < 2:
                return False
            position += len(block) - 1  # a last FF may start a marker
            continue
        at = position + match.start()
        marker = block[match.start() + 1]
        if marker == 0xD9:
            return True
        if marker in SEGMENTS:
            length = reader.read(at + 2, 2)
            if len(length) < 2:
                return False
            position = at + 2 + struct.unpack(">H", length)[0]
        else:
            position = at + 2
    return False
