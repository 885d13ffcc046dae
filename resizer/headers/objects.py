"""Header reads of objects on a store: ranged GETs of a few KiB, never a whole object.

The header readers (jpeg.py, png.py, webp.py, and Pillow for the other formats) ask a `Reader`
for bytes by offset. For an object, `ObjectReader` answers them with ranged reads: the first
HEAD_BYTES at once (the header of most images, and the whole of a tiny one), then blocks from
wherever a reader asks, the last block kept, each block twice as large as the one before
(BLOCK_BYTES, 128 KiB, ... up to MAX_BLOCK_BYTES): walking the chunk headers of a PNG's image
data (to find an eXIf chunk after it, as Pillow does) costs a few requests, about log2 of its
size, instead of one per chunk; a format whose header is at the start costs one request, a
JPEG one more for its last bytes (its end-of-image check). The object's size comes from the
listing, so no request asks for it.
"""

from __future__ import annotations

import io

HEAD_BYTES = 16 << 10  # first read: a JPEG's markers with a usual EXIF block, a PNG's chunks
BLOCK_BYTES = 64 << 10  # the first later read: the chunk headers after a PNG's image data, ...
MAX_BLOCK_BYTES = 8 << 20  # ... each one twice the last, up to this


class ObjectReader:
    """The `Reader` interface (head, size, read by offset) over ranged reads of one object:
    `fetch(start, end)` returns bytes start..end-1."""

    def __init__(self, fetch, size: int):
        self.fetch = fetch
        self.size = size
        self.head = fetch(0, min(size, HEAD_BYTES)) if size > 0 else b""
        self.block: tuple[int, bytes] = (0, b"")
        self.block_bytes = BLOCK_BYTES

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        end = min(offset + length, self.size)
        if end <= len(self.head):
            return self.head[offset:end]
        start, data = self.block
        if start <= offset and end <= start + len(data):
            return data[offset - start : end - start]
        data = self.fetch(offset, min(self.size, offset + max(length, self.block_bytes)))
        self.block = (offset, data)
        self.block_bytes = min(self.block_bytes * 2, MAX_BLOCK_BYTES)
        return data[: end - offset]


class ObjectFile(io.RawIOBase):
    """A seekable read-only file over an ObjectReader, for Pillow (TIFF, BMP, GIF headers)."""

    def __init__(self, reader: ObjectReader):
        self.reader = reader
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.reader.size}
        self.position = max(0, base[whence] + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        data = self.reader.read(self.position, len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def open_object(url: str, size: int | None, options: tuple[tuple[str, str], ...]) -> ObjectReader:
    """A reader of the object `url` (its size from the listing; asked for only if unknown).
    Raises OSError (FileNotFoundError, PermissionError, StoreError) when the store refuses."""
    from ..storage.fsspec import filesystem, translated

    fs = filesystem(url.split("://", 1)[0], options)
    path = fs._strip_protocol(url)

    @translated
    def fetch(start: int, end: int) -> bytes:
        return fs.cat_file(path, start=start, end=end)

    if size is None:
        size = translated(fs.size)(path)
    return ObjectReader(fetch, int(size))
