"""WebP headers: the RIFF chunks, with libwebp's rules for size, alpha and kept metadata."""

from __future__ import annotations

import struct

from . import exif
from .common import FileInfo, Unreadable
from .files import Reader, riff_chunks


def accepts(head: bytes) -> bool:
    return (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] in (b"VP8 ", b"VP8L", b"VP8X")
    )


def read(reader: Reader, info: FileInfo) -> None:
    """The RIFF chunks, with libwebp's rules for size, alpha and which metadata it keeps."""
    declared = 8 + struct.unpack("<I", reader.head[4:8])[0]
    flags = 0
    canvas = bitstream = None
    lossless_alpha = None
    alpha_chunk = False
    found: dict[bytes, bytes] = {}
    frames = 0
    for name, offset, length in riff_chunks(reader, 12, min(declared, reader.size)):
        if name == b"VP8X":
            data = reader.read(offset, 10)
            flags = data[0]
            canvas = (
                1 + int.from_bytes(data[4:7], "little"),
                1 + int.from_bytes(data[7:10], "little"),
            )
        elif name == b"VP8 " and bitstream is None:
            data = reader.read(offset, 10)
            if data[3:6] != b"\x9d\x01\x2a":
                raise Unreadable("broken WebP: bad VP8 frame header")
            width, height = struct.unpack("<HH", data[6:10])
            bitstream = (width & 0x3FFF, height & 0x3FFF)
        elif name == b"VP8L" and bitstream is None:
            data = reader.read(offset, 5)
            if data[:1] != b"\x2f":
                raise Unreadable("broken WebP: bad VP8L signature")
            (bits,) = struct.unpack("<I", data[1:5])
            bitstream = ((bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1)
            lossless_alpha = bool(bits >> 28 & 1)
        elif name == b"ALPH":
            alpha_chunk = True
        elif name == b"ANMF":
            frames += 1
        elif name in (b"ICCP", b"EXIF", b"XMP ") and name not in found:
            found[name] = reader.read(offset, length)
    animated = bool(flags & 0x02) and canvas is not None
    size = canvas if canvas is not None else bitstream
    if size is None or (not animated and bitstream is None):
        raise Unreadable("broken WebP: no image in the file")
    if canvas is not None and not animated and canvas != bitstream:
        raise Unreadable("broken WebP: canvas and image sizes differ")
    if animated:
        alpha = bool(flags & 0x10)
    elif lossless_alpha is not None:
        alpha = lossless_alpha or alpha_chunk
    else:
        alpha = bool(flags & 0x10) or alpha_chunk
    # libwebp's demuxer keeps metadata chunks only when the VP8X flags announce them.
    exif_block = found.get(b"EXIF") if flags & 0x08 else None
    xmp = found.get(b"XMP ") if flags & 0x04 else None
    info.format, info.mode, info.bits = "WEBP", "RGBA" if alpha else "RGB", 8
    info.alpha = alpha
    info.icc = bool(flags & 0x20 and found.get(b"ICCP"))
    info.frames = frames if animated else 1
    info.orient(size, exif.orientation(exif_block, xmp))
    if declared > reader.size:
        info.suspect(f"truncated: the WebP says {declared} bytes, the file has {reader.size}")
