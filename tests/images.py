"""Odd but valid image files, written byte by byte where no library here writes them.

Each layout was seen in public test sets (Pillow's Tests/images, PngSuite, libtiff's pics) and
broke some decoder: big-endian and planar 16-bit TIFFs, premultiplied alpha, float and 32-bit
integer samples, RGB565 BMPs, colour-key (tRNS) transparency, 16-bit APNGs, multi-page files.
Writing them here keeps every pixel known to the test that reads them back.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

# TIFF field types.
SHORT, LONG = 3, 4
# TIFF SampleFormat values by numpy kind.
SAMPLE_FORMAT = {"u": 1, "i": 2, "f": 3}


def tiff_bytes(
    pages: list[np.ndarray],
    *,
    order: str = "<",
    planar: int = 1,
    extra_samples: int | None = None,
    compression: int = 1,
    predictor: int = 1,
    photometric: int | None = None,
    rows_per_strip: int | None = None,
    tile: tuple[int, int] | None = None,
) -> bytes:
    """A TIFF with one page (IFD) per array: (H, W) or (H, W, C) of any numeric dtype.

    `order` "<" writes II (little-endian), ">" MM. `planar` 2 stores each channel in its own
    strips or tiles. `extra_samples` (1 premultiplied, 2 straight alpha) marks the last channel
    as alpha. `compression` 1 is none, 5 LZW, 8 deflate; `predictor` 2 stores horizontal
    differences. `tile` = (width, height) writes tiles (multiples of 16) instead of strips.
    """
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    data = bytearray(magic + struct.pack(order + "I", 0))
    previous_link = 4  # where the offset of the next IFD goes
    for array in pages:
        planes = array[..., None] if array.ndim == 2 else array
        height, width, channels = planes.shape
        chunks = [
            _encode_chunk(chunk, order, compression, predictor)
            for plane in (range(channels) if planar == 2 else [None])
            for chunk in _chunks(
                planes if plane is None else planes[..., plane : plane + 1],
                rows_per_strip or height,
                tile,
            )
        ]
        offsets = []
        for chunk in chunks:
            offsets.append(len(data))
            data += chunk
            if len(data) % 2:
                data += b"\x00"
        colour = 1 if channels <= 2 else 3
        if photometric is None:
            photometric_value = 1 if channels <= 2 else 2
        else:
            photometric_value = photometric
            colour = channels if photometric == 5 else colour
        tags = [
            (256, LONG, [width]),
            (257, LONG, [height]),
            (258, SHORT, [8 * planes.dtype.itemsize] * channels),
            (259, SHORT, [compression]),
            (262, SHORT, [photometric_value]),
            (277, SHORT, [channels]),
            (284, SHORT, [planar]),
            (317, SHORT, [predictor]),
            (339, SHORT, [SAMPLE_FORMAT[planes.dtype.kind]] * channels),
        ]
        if tile:
            tags += [(322, LONG, [tile[0]]), (323, LONG, [tile[1]]), (324, LONG, offsets)]
            tags.append((325, LONG, [len(chunk) for chunk in chunks]))
        else:
            tags += [(273, LONG, offsets), (278, LONG, [rows_per_strip or height])]
            tags.append((279, LONG, [len(chunk) for chunk in chunks]))
        if channels > colour:
            tags.append((338, SHORT, [extra_samples or 0] * (channels - colour)))
        at = len(data)
        data += _ifd(tags, order, at, data, previous_link)
        previous_link = at + 2 + 12 * len(tags)
    return bytes(data)


def _chunks(planes: np.ndarray, rows: int, tile: tuple[int, int] | None) -> list[np.ndarray]:
    """Strips of `rows` rows, or tiles padded with zeros at the right and bottom edges."""
    height, width = planes.shape[:2]
    if tile is None:
        return [planes[top : top + rows] for top in range(0, height, rows)]
    tile_w, tile_h = tile
    padded = np.zeros(
        (-(-height // tile_h) * tile_h, -(-width // tile_w) * tile_w, planes.shape[2]),
        dtype=planes.dtype,
    )
    padded[:height, :width] = planes
    return [
        padded[top : top + tile_h, left : left + tile_w]
        for top in range(0, padded.shape[0], tile_h)
        for left in range(0, padded.shape[1], tile_w)
    ]


def _encode_chunk(chunk: np.ndarray, order: str, compression: int, predictor: int) -> bytes:
    if predictor == 2:  # each sample minus its left neighbour of the same channel, wrapping
        chunk = chunk.copy()
        chunk[:, 1:] = chunk[:, 1:] - chunk[:, :-1]
    raw = np.ascontiguousarray(chunk.astype(chunk.dtype.newbyteorder(order))).tobytes()
    if compression == 8:
        return zlib.compress(raw)
    if compression == 5:
        return lzw_bytes(raw)
    return raw


def lzw_bytes(raw: bytes) -> bytes:
    """TIFF LZW, kept simple: a Clear code before the table would need 10-bit codes, so every
    code is 9 bits (valid for any decoder, just larger than a real encoder's output)."""
    clear, end = 256, 257
    codes = [clear]
    table = {bytes([value]): value for value in range(256)}
    current = b""
    for value in raw:
        extended = current + bytes([value])
        if extended in table:
            current = extended
            continue
        codes.append(table[current])
        table[extended] = len(table) + 2
        current = bytes([value])
        if len(table) + 2 >= 510:
            codes.append(clear)
            table = {bytes([value]): value for value in range(256)}
    codes += [table[current], end] if current else [end]
    bits = "".join(format(code, "09b") for code in codes)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def _ifd(tags, order: str, at: int, data: bytearray, link: int) -> bytes:
    """One IFD at offset `at` (its out-of-line values after it); patches the previous link."""
    struct.pack_into(order + "I", data, link, at)
    size = 2 + 12 * len(tags) + 4
    entries, extra = b"", b""
    for tag, kind, values in sorted(tags):
        code = "H" if kind == SHORT else "I"
        packed = struct.pack(order + code * len(values), *values)
        if len(packed) <= 4:
            entries += struct.pack(order + "HHI", tag, kind, len(values)) + packed.ljust(4, b"\0")
        else:
            entries += struct.pack(order + "HHII", tag, kind, len(values), at + size + len(extra))
            extra += packed
    return struct.pack(order + "H", len(tags)) + entries + struct.pack(order + "I", 0) + extra


def write_tiff(path: Path, pages: np.ndarray | list[np.ndarray], **options) -> Path:
    path.write_bytes(tiff_bytes(pages if isinstance(pages, list) else [pages], **options))
    return path


def bmp_bytes(rgb: np.ndarray, masks: tuple[int, int, int] = (0xF800, 0x07E0, 0x001F)) -> bytes:
    """A 16-bit BI_BITFIELDS BMP: RGB565 by default (Pillow's BGR;16), bottom-up rows."""
    height, width, _ = rgb.shape
    red, green, blue = (rgb[..., c].astype(np.uint32) for c in range(3))
    value = ((red >> 3) << 11) | ((green >> 2) << 5) | (blue >> 3)
    row_bytes = (width * 2 + 3) // 4 * 4
    rows = np.zeros((height, row_bytes), dtype=np.uint8)
    rows[:, : width * 2] = value.astype("<u2").view(np.uint8).reshape(height, width * 2)
    pixels = rows[::-1].tobytes()
    header_size = 14 + 40 + 12
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 16, 3, len(pixels), 2835, 2835, 0, 0)
    info += struct.pack("<3I", *masks)
    head = b"BM" + struct.pack("<IHHI", header_size + len(pixels), 0, 0, header_size)
    return head + info + pixels


def rgb565(rgb: np.ndarray) -> np.ndarray:
    """The colours an RGB565 file holds for `rgb`, expanded to 8 bits as Pillow does
    (value * 255 // 31, and // 63 for green)."""
    red = rgb[..., 0].astype(np.uint32) >> 3
    green = rgb[..., 1].astype(np.uint32) >> 2
    blue = rgb[..., 2].astype(np.uint32) >> 3
    planes = [red * 255 // 31, green * 255 // 63, blue * 255 // 31]
    return np.stack(planes, axis=2).astype(np.uint8)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk of a PNG."""
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def png16_bytes(array: np.ndarray) -> bytes:
    """A 16-bit PNG of an RGB(A) or grey array (OpenCV writes it; Pillow cannot)."""
    if array.ndim == 3:
        order = cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR
        array = cv2.cvtColor(array, order)
    ok, data = cv2.imencode(".png", array)
    assert ok
    return data.tobytes()


def with_chunk_after_ihdr(png: bytes, kind: bytes, payload: bytes) -> bytes:
    return png[:33] + png_chunk(kind, payload) + png[33:]


def apng_bytes(frames: list[bytes], default_is_frame: bool = True) -> bytes:
    """An animated PNG from still PNGs of one size and type. The first is the default image
    (what still-image readers show); with `default_is_frame` False it is not part of the
    animation, which then starts at the second."""
    first = png_chunks(frames[0])
    ihdr = first[0][1]
    width, height = struct.unpack(">II", ihdr[:8])
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    animated = len(frames) - (0 if default_is_frame else 1)
    out += png_chunk(b"acTL", struct.pack(">II", animated, 0))
    sequence = 0
    for number, frame in enumerate(frames):
        if number > 0 or default_is_frame:
            control = struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0, 1, 10, 0, 0)
            out += png_chunk(b"fcTL", control)
            sequence += 1
        for kind, payload in png_chunks(frame):
            if kind != b"IDAT":
                continue
            if number == 0:
                out += png_chunk(b"IDAT", payload)
            else:
                out += png_chunk(b"fdAT", struct.pack(">I", sequence) + payload)
                sequence += 1
    return out + png_chunk(b"IEND", b"")


def gif_bytes(frames: list[Image.Image], **options) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], **options)
    return buffer.getvalue()


def png_bytes(array: np.ndarray, depth: int, colour_type: int, chunks=()) -> bytes:
    """A PNG written sample by sample: grey (colour type 0) at 1-16 bits, grey+alpha (4) and
    colour (2, 6) at 8 or 16 bits; `chunks` ((type, payload), ...) go before the data."""
    height, width = array.shape[:2]
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    samples = array.reshape(height, -1)
    if depth < 8:
        per_byte = 8 // depth
        padded = np.zeros((height, -(-samples.shape[1] // per_byte) * per_byte), np.uint8)
        padded[:, : samples.shape[1]] = samples
        groups = padded.reshape(height, -1, per_byte).astype(np.uint16)
        shifts = np.arange(per_byte - 1, -1, -1) * depth
        rows = (groups << shifts).sum(axis=2).astype(np.uint8)
    else:
        rows = samples.astype(">u2" if depth == 16 else np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    body = b"".join(png_chunk(kind, payload) for kind, payload in chunks)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + body
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


def grey_gif_bytes(grey: np.ndarray, transparency: int | None = None) -> bytes:
    """A GIF with no colour table at all: readers (Pillow among them) take the indices as grey
    levels, so Pillow opens it in mode L, with the transparent index as a grey key."""
    image = Image.fromarray(grey, "P")
    image.putpalette([value for level in range(256) for value in (level, level, level)])
    buffer = io.BytesIO()
    options = {} if transparency is None else {"transparency": transparency}
    image.save(buffer, "GIF", optimize=False, **options)
    data = buffer.getvalue()
    flags = data[10]
    assert flags & 0x80, "Pillow wrote no global colour table"
    table = 3 * 2 ** ((flags & 7) + 1)
    return data[:10] + bytes([flags & 0x70]) + data[11:13] + data[13 + table :]


def read_back(path: Path) -> tuple[str, np.ndarray]:
    """The mode and pixels (RGB(A) order) a reader gets from an output file: 16-bit colour
    through OpenCV, which reads it whole, everything else through Pillow."""
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array is not None and array.dtype == np.uint16 and array.ndim == 3:
        rgba = array.shape[2] == 4
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if rgba else cv2.COLOR_BGR2RGB)
        return ("RGBA;16" if rgba else "RGB;16"), array
    with Image.open(path) as image:
        return image.mode, np.asarray(image)
