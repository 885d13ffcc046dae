"""16-bit colour decoding, which Pillow would truncate to 8 bits.

PNG goes through OpenCV (libpng reads every PNG layout exactly), after the animation chunks are
removed: `cv2.imdecode` returns an APNG's first *animation* frame, which is not the default
image when that is not part of the animation; every other reader (and Pillow's frame 0) shows the
default image.

TIFF does not go through OpenCV: it returns noise for planar configuration 2 (each channel in
its own strips) and premultiplied values for associated alpha. Instead, each file's samples are
re-described, in an extra IFD appended in memory, as one 16-bit grey image (chunky: W x samples
wide; planar: one grey page per channel) that Pillow's own TIFF reader (libtiff for compressed
data) decodes exactly, whatever the compression, byte order or tiling.
"""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from .pixels import ImageError, orient_array
from .probe import DECODER_ERRORS, Header, decoder_error

APNG_CHUNKS = (b"acTL", b"fcTL", b"fdAT")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# TIFF tags used to re-describe the samples.
WIDTH, HEIGHT, BITS, COMPRESSION, PHOTOMETRIC = 256, 257, 258, 259, 262
STRIP_OFFSETS, SAMPLES, ROWS_PER_STRIP, STRIP_COUNTS, PLANAR = 273, 277, 278, 279, 284
PREDICTOR, TILE_WIDTH, TILE_LENGTH, TILE_OFFSETS, TILE_COUNTS = 317, 322, 323, 324, 325
EXTRA_SAMPLES, SAMPLE_FORMAT = 338, 339
SHORT, LONG = 3, 4
ASSOCIATED_ALPHA = 1
# Compressions whose libtiff codec applies the Predictor tag (LZW, deflate, LZMA, Zstandard);
# with the others it is ignored.
PREDICTED = {5, 8, 32946, 34925, 50000}


def decode_deep_colour(header: Header) -> np.ndarray:
    """The first frame as uint16 RGB(A), upright. 16-bit grey+alpha comes out as RGBA (grey
    repeated): no library here writes 16-bit grey+alpha, and the manifest says RGBA;16."""
    filename = getattr(header.image, "filename", "")
    header.image.close()
    data = header.data
    if data is None:
        with open(filename, "rb") as handle:
            data = handle.read()
    array = _decode_tiff(data) if header.format == "TIFF" else _decode_png(data)
    return np.ascontiguousarray(orient_array(array, header.orientation))


def _decode_png(data: bytes) -> np.ndarray:
    import cv2

    if data.startswith(PNG_SIGNATURE):
        data = _without_animation(data)
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16 or array.ndim != 3:
        raise ImageError("cannot decode 16-bit colour image: the file is truncated or corrupt")
    order = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
    array = cv2.cvtColor(array, order)
    _check_high_bytes(array, data)
    return array


def _check_high_bytes(array: np.ndarray, data: bytes) -> None:
    """OpenCV's decode must agree with Pillow's 8-bit decode of the same file, which keeps each
    sample's high byte: if the two readers disagree, the image fails rather than come out with
    wrong pixels."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            preview = np.asarray(image)
    except DECODER_ERRORS as error:
        raise decoder_error(error) from None
    channels = min(preview.shape[2], array.shape[2]) if preview.ndim == 3 else 0
    if preview.shape[:2] != array.shape[:2] or not channels:
        raise ImageError("16-bit colour decoders disagree on this file's layout")
    high = (array[..., :channels] >> 8).astype(np.uint8)
    if not np.array_equal(high, preview[..., :channels]):
        raise ImageError("16-bit colour decoders disagree on this file's pixels")


def _without_animation(png: bytes) -> bytes:
    """The PNG with its APNG chunks dropped: what a still-image reader sees."""
    parts, at = [png[:8]], 8
    while at + 8 <= len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        end = at + 12 + length
        if png[at + 4 : at + 8] not in APNG_CHUNKS:
            parts.append(png[at:end])
        at = end
    parts.append(png[at:])  # a truncated tail stays, for the decoder to reject
    return b"".join(parts)


def _decode_tiff(data: bytes) -> np.ndarray:
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        raise ImageError("cannot decode 16-bit colour BigTIFF")
    order = "<" if data[:2] == b"II" else ">"
    try:
        with Image.open(io.BytesIO(data)) as image:
            tags = dict(image.tag_v2)
    except DECODER_ERRORS as error:
        raise decoder_error(error) from None
    samples = int(tags.get(SAMPLES, 1))
    bits = _values(tags.get(BITS, 1))
    if set(bits) != {16}:
        raise ImageError(f"cannot decode a TIFF with {bits} bits per sample (16 expected)")
    planar = tags.get(PLANAR, 1) == 2
    pages = _grey_pages(tags, samples, planar)
    described = _append_ifds(data, order, pages)
    try:
        with Image.open(io.BytesIO(described)) as grey:
            planes = []
            for number in range(len(pages)):
                grey.seek(number)
                grey.load()
                planes.append(np.asarray(grey).astype(np.uint16))
    except DECODER_ERRORS as error:
        raise decoder_error(error) from None
    width, height = int(tags[WIDTH]), int(tags[HEIGHT])
    if planar:
        array = np.stack(planes, axis=2)
    else:
        array = planes[0].reshape(height, width, samples)
        if tags.get(PREDICTOR, 1) == 2 and tags.get(COMPRESSION, 1) in PREDICTED:
            array = _undo_horizontal_differencing(array, tags)
    return _colour_channels(array, tags)


def _grey_pages(tags: dict, samples: int, planar: bool) -> list[list[tuple]]:
    """IFD entries (tag, type, values) for the grey image(s) that hold the same samples."""
    width, height = int(tags[WIDTH]), int(tags[HEIGHT])
    tiled = TILE_OFFSETS in tags
    offsets = _values(tags[TILE_OFFSETS if tiled else STRIP_OFFSETS])
    counts = _values(tags[TILE_COUNTS if tiled else STRIP_COUNTS])
    pages = []
    for plane in range(samples if planar else 1):
        per_plane = len(offsets) // samples if planar else len(offsets)
        chunk = slice(plane * per_plane, (plane + 1) * per_plane)
        across = 1 if planar else samples
        entries = [
            (WIDTH, LONG, [width * across]),
            (HEIGHT, LONG, [height]),
            (BITS, SHORT, [16]),
            (COMPRESSION, SHORT, [int(tags.get(COMPRESSION, 1))]),
            (PHOTOMETRIC, SHORT, [1]),
            (SAMPLES, SHORT, [1]),
            (PLANAR, SHORT, [1]),
            (SAMPLE_FORMAT, SHORT, [1]),
        ]
        # Chunky data was differenced per sample, so that is undone afterwards with numpy.
        predictor = int(tags.get(PREDICTOR, 1)) if planar else 1
        entries.append((PREDICTOR, SHORT, [predictor]))
        if tiled:
            entries += [
                (TILE_WIDTH, LONG, [int(tags[TILE_WIDTH]) * across]),
                (TILE_LENGTH, LONG, [int(tags[TILE_LENGTH])]),
                (TILE_OFFSETS, LONG, list(offsets[chunk])),
                (TILE_COUNTS, LONG, list(counts[chunk])),
            ]
        else:
            entries += [
                (ROWS_PER_STRIP, LONG, [min(int(tags.get(ROWS_PER_STRIP, height)), height)]),
                (STRIP_OFFSETS, LONG, list(offsets[chunk])),
                (STRIP_COUNTS, LONG, list(counts[chunk])),
            ]
        pages.append(sorted(entries))
    return pages


def _append_ifds(data: bytes, order: str, pages: list[list[tuple]]) -> bytes:
    """The file with `pages` appended as a new chain of IFDs, which becomes the first."""
    out = bytearray(data)
    link = 4  # where the offset of the first IFD is kept
    for entries in pages:
        if len(out) % 2:
            out += b"\0"
        at = len(out)
        struct.pack_into(order + "I", out, link, at)
        size = 2 + 12 * len(entries) + 4
        head, tail = struct.pack(order + "H", len(entries)), b""
        for tag, kind, values in entries:
            packed = struct.pack(order + ("H" if kind == SHORT else "I") * len(values), *values)
            head += struct.pack(order + "HHI", tag, kind, len(values))
            if len(packed) <= 4:
                head += packed.ljust(4, b"\0")
            else:
                head += struct.pack(order + "I", at + size + len(tail))
                tail += packed
        out += head + b"\0\0\0\0" + tail
        link = at + size - 4
    return bytes(out)


def _undo_horizontal_differencing(array: np.ndarray, tags: dict) -> np.ndarray:
    """TIFF predictor 2: each sample was stored as the difference to its left neighbour of the
    same channel, restarting at every row of every strip or tile."""
    height, width, samples = array.shape
    span = int(tags.get(TILE_WIDTH, width))
    columns = -(-width // span) * span
    padded = np.zeros((height, columns, samples), dtype=np.uint16)
    padded[:, :width] = array
    runs = padded.reshape(height, columns // span, span, samples)
    summed = np.cumsum(runs, axis=2, dtype=np.uint16)  # wraps modulo 2**16, as the encoder did
    return summed.reshape(height, columns, samples)[:, :width]


def _colour_channels(array: np.ndarray, tags: dict) -> np.ndarray:
    """RGB or RGBA (alpha straight, not premultiplied); grey+alpha as RGBA."""
    extra = _values(tags.get(EXTRA_SAMPLES, ()))
    colours = array.shape[2] - len(extra)
    alpha = None
    if extra and extra[0] in (1, 2):  # associated or unassociated alpha
        alpha = array[..., colours]
        if extra[0] == ASSOCIATED_ALPHA:
            array = _unpremultiply(array[..., :colours], alpha)
    colour = array[..., :colours]
    if colours == 1:
        colour = np.repeat(colour, 3, axis=2)
    elif colours != 3:
        raise ImageError(f"cannot decode a 16-bit TIFF with {colours} colour samples")
    if alpha is None:
        return np.ascontiguousarray(colour)
    return np.dstack([colour, alpha])


def _unpremultiply(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    scaled = colour.astype(np.float64) * 65535.0 / np.maximum(alpha[..., None], 1)
    scaled[alpha == 0] = 0
    return np.clip(np.rint(scaled), 0, 65535).astype(np.uint16)


def _values(value) -> tuple:
    """A TIFF tag's value as a tuple (Pillow gives one value bare)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)
