"""Reading parts of a file by offset, and the completeness checks of TIFF, BMP and GIF.

A small file is read whole in one call (most dataset images are); from a large one only the
parts asked for are read, so walking a 100 MB PNG reads its chunk headers, not its image data.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

HEAD = 1 << 16  # read at once: the whole of a small file, the header region of a large one


class Reader:
    """Bytes of one open file by offset; reads never run past the end, however large a length
    a corrupt header asks for (the caller sees a short result instead)."""

    def __init__(self, descriptor: int, size: int):
        self.descriptor = descriptor
        self.size = size
        self.head = os.pread(descriptor, min(size, HEAD), 0)

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length <= 0:
            return b""
        end = offset + length
        if end <= len(self.head) or len(self.head) >= self.size:
            return self.head[offset:end]
        length = min(length, self.size - offset)
        return os.pread(self.descriptor, length, offset) if length > 0 else b""


def riff_chunks(reader: Reader, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(name, data offset, data length) of each chunk of a RIFF body, up to `end`."""
    position = start
    while position + 8 <= end:
        name, length = struct.unpack("<4sI", reader.read(position, 8))
        yield name, position + 8, length
        position += 8 + length + (length & 1)


def tiff_complete(reader: Reader, image) -> bool:
    """Whether every strip (or tile) of the first page lies inside the file."""
    tags = image.tag_v2
    offsets = tags.get(273) or tags.get(324)
    counts = tags.get(279) or tags.get(325)
    if not offsets or not counts:
        return True
    offsets = offsets if isinstance(offsets, tuple) else (offsets,)
    counts = counts if isinstance(counts, tuple) else (counts,)
    return max(start + count for start, count in zip(offsets, counts, strict=False)) <= reader.size


def bmp_complete(reader: Reader, image) -> bool:
    """Whether an uncompressed bitmap's rows all lie inside the file (RLE cannot be told)."""
    head = reader.head
    (offset,) = struct.unpack_from("<I", head, 10)
    (header_size,) = struct.unpack_from("<I", head, 14)
    if header_size == 12:
        width, height, _, bits = struct.unpack_from("<HHHH", head, 18)
        compression = 0
    else:
        width, height, _, bits, compression = struct.unpack_from("<iiHHI", head, 18)
    if compression not in (0, 3):
        return True
    stride = (abs(width) * bits + 31) // 32 * 4
    return offset + stride * abs(height) <= reader.size


def gif_complete(reader: Reader, image) -> bool:
    """Whether the first frame's data sub-blocks reach their terminator inside the file."""
    if not image.tile:
        return True
    position = image.tile[0].offset
    while True:
        block = reader.read(position, 1)
        if not block:
            return False
        if block[0] == 0:
            return True
        position += 1 + block[0]


COMPLETE = {"TIFF": tiff_complete, "BMP": bmp_complete, "GIF": gif_complete}
