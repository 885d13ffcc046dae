"""PNG headers: chunk by chunk, reading the metadata chunks and only the headers of image data."""

from __future__ import annotations

import re
import struct
import zlib

from . import exif
from .common import ALPHA_MODES, FileInfo, Unreadable
from .files import Reader

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# (bit depth, colour type) -> Pillow's mode for a PNG; 16-bit colour is resize's RGB;16 etc.
MODES = {
    (1, 0): "1",
    (2, 0): "L",
    (4, 0): "L",
    (8, 0): "L",
    (16, 0): "I;16",
    (8, 2): "RGB",
    (16, 2): "RGB;16",
    (1, 3): "P",
    (2, 3): "P",
    (4, 3): "P",
    (8, 3): "P",
    (8, 4): "LA",
    (16, 4): "LA;16",
    (8, 6): "RGBA",
    (16, 6): "RGBA;16",
}
CHUNK_NAME = re.compile(rb"\w\w\w\w")
TEXT = (b"eXIf", b"tEXt", b"zTXt", b"iTXt")
DEEP_MODES = ("RGB;16", "RGBA;16", "LA;16")
TRANSPARENCY_MODES = ("P", "1", "L", "I;16", "RGB", "RGB;16")  # where Pillow reads a tRNS


def read(reader: Reader, info: FileInfo) -> None:
    """Chunk by chunk, reading the small metadata chunks and only the headers of image data.

    `before` and `after` collect the keys of Pillow's `info` that getexif() consults, from the
    chunks before and after the image data; Pillow reads the latter only when it decodes.
    """
    position = 8
    header = None
    before: dict = {}
    after: dict = {}
    frames = None  # from acTL, as Pillow counts them
    frame_control = False
    seen_data = False
    collecting = True
    while True:
        chunk = reader.read(position, 8)
        name = chunk[4:]
        if len(chunk) < 8 or not CHUNK_NAME.fullmatch(name):
            if not seen_data:
                raise Unreadable("truncated PNG: the file ends before the image data")
            if len(chunk) < 8:
                info.suspect("truncated: the PNG ends without its IEND chunk")
            else:
                info.suspect(f"broken PNG: bad chunk name {name!r} after the image data")
            break
        (length,) = struct.unpack(">I", chunk[:4])
        end = position + 12 + length
        if end > reader.size:
            where = f"inside its {name.decode()} chunk"
            if not seen_data and name != b"IDAT":
                raise Unreadable(f"truncated PNG: the file ends {where}")
            seen_data = True
            info.suspect(f"truncated: the PNG ends {where}")
            break
        if name == b"IEND":
            break
        if name == b"IDAT" and not seen_data:
            if header is None:
                raise Unreadable("broken PNG: image data before the IHDR header")
            seen_data = True
            if frames is not None and not frame_control:
                frames += 1  # the IDAT image is a default image, not the first frame
        elif not seen_data:
            data = reader.read(position + 8, length)
            (checksum,) = struct.unpack(">I", reader.read(position + 8 + length, 4))
            if zlib.crc32(data, zlib.crc32(name)) != checksum:
                raise Unreadable(f"broken PNG: bad checksum in its {name.decode()} chunk")
            if name == b"IHDR":
                header = _header(data)
            elif name == b"tRNS" and header and header[3] in TRANSPARENCY_MODES:
                before["alpha"] = True
            elif name == b"iCCP":
                before["icc"] = _icc(data)
            elif name == b"acTL":
                frames = _frames(data, frames)
            elif name == b"fcTL":
                frame_control = True
            else:
                _text(name, data, before)
        elif name == b"fcTL" and frames is not None and frames > 1:
            collecting = False  # Pillow stops reading at the next animation frame
        elif collecting and name in TEXT:
            _text(name, reader.read(position + 8, length), after)
        position = end
    if header is None or not seen_data:
        raise Unreadable("broken PNG: no image data")
    width, height, bits, mode = header
    metadata = dict(before)
    if not (mode in DEEP_MODES and "exif" in before):
        # resize decodes the PNG (or Pillow does, to look for EXIF), which reads what follows.
        metadata.update(after)
    info.format, info.mode, info.bits = "PNG", mode, bits
    info.alpha = mode in ALPHA_MODES or bool(before.get("alpha"))
    info.icc = bool(before.get("icc"))
    info.frames = frames or 1
    info.orient((width, height), _orientation(metadata))


def _frames(data: bytes, frames: int | None) -> int | None:
    if len(data) < 8:
        raise Unreadable("broken PNG: truncated acTL chunk")
    if frames is not None:
        return None  # a second acTL: Pillow falls back to the default image
    (count,) = struct.unpack(">I", data[:4])
    return count if 0 < count <= 0x80000000 else None


def _header(data: bytes) -> tuple[int, int, int, str]:
    if len(data) < 13:
        raise Unreadable("broken PNG: truncated IHDR chunk")
    width, height, bits, colour, _, filtering, _ = struct.unpack(">IIBBBBB", data[:13])
    if filtering:
        raise Unreadable("broken PNG: unknown filter method")
    mode = MODES.get((bits, colour))
    if mode is None:
        raise Unreadable(f"broken PNG: bit depth {bits} with colour type {colour}")
    return width, height, bits, mode


def _icc(data: bytes) -> bool:
    name_end = data.find(b"\x00")
    if data[name_end + 1] != 0:
        raise Unreadable("broken PNG: unknown compression in its iCCP chunk")
    try:
        return bool(zlib.decompress(data[name_end + 2 :]))
    except zlib.error:
        return False


def _text(name: bytes, data: bytes, metadata: dict) -> None:
    """The keys of Pillow's PNG `info` that getexif() consults, in the order Pillow sets them."""
    if name == b"eXIf":
        metadata["exif"] = b"Exif\x00\x00" + data
        return
    key, _, value = data.partition(b"\x00")
    if name == b"zTXt":
        if value[:1] not in (b"", b"\x00"):
            raise Unreadable("broken PNG: unknown compression in a zTXt chunk")
        try:
            value = zlib.decompress(value[1:]) if value else b""
        except zlib.error:
            value = b""
    elif name == b"iTXt":
        if len(value) < 2:
            return
        compressed, method, rest = value[0], value[1], value[2:]
        parts = rest.split(b"\x00", 2)
        if len(parts) < 3:
            return
        value = parts[2]
        if compressed:
            if method:
                return
            try:
                value = zlib.decompress(value)
            except zlib.error:
                return
        if key == b"XML:com.adobe.xmp":
            metadata["xmp"] = value
        try:
            parts[0].decode("utf-8"), parts[1].decode("utf-8")
            text = value.decode("utf-8")
        except UnicodeError:
            return
        metadata[key.decode("latin-1")] = text
        return
    if not key:
        return
    if name == b"tEXt" and key == b"exif":
        metadata["exif"] = value
        return
    metadata[key.decode("latin-1")] = value.decode("latin-1")


def _orientation(metadata: dict) -> int:
    block = metadata.get("exif")
    if block is None and "Raw profile type exif" in metadata:
        try:
            block = exif.raw_profile(metadata["Raw profile type exif"])
        except exif.BadExif:
            return 1
    xmp = metadata.get("XML:com.adobe.xmp") or metadata.get("xmp")
    return exif.orientation(block, xmp)
