"""What a file says about itself before its pixels are decoded: format, size, orientation,
colour mode, frame count; and the JPEG shrink-on-load request that must precede decoding."""

from __future__ import annotations

import io
import math
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .pixels import ImageError

ORIENTATION_TAG = 0x0112
BITS_PER_SAMPLE_TAG = 258
SAMPLE_FORMAT_TAG = 339
# Shrink-on-load keeps the decoded JPEG at least this many times the resize target (see
# `shrink_on_load` for why 3).
SHRINK_BOUND = 3.0
# Errors Pillow's decoders raise for a damaged or unsupported file.
DECODER_ERRORS = (OSError, SyntaxError, ValueError, struct.error, EOFError, IndexError)
# Pillow reports some decoder failures only by number ("decoder error -2").
DECODER_CODES = {
    "-1": "the image data overruns its buffer",
    "-2": "damaged image data, or a compression this build cannot read",
    "-8": "the file's layout is not supported",
    "-9": "out of memory",
}


@dataclass
class Header:
    """What the file says about itself before any pixel is decoded."""

    image: Image.Image  # opened lazily; decoding happens in `decode`
    format: str  # Pillow's name: JPEG, PNG, ...
    stored_size: tuple[int, int]
    orientation: int
    deep_colour: bool  # more than 8 bits per colour sample, which Pillow would truncate
    mode: str  # the source's own mode; 16-bit colour as RGB;16, RGBA;16 or LA;16
    frames: int = 1  # frames (animation) or pages (TIFF) in the file; only the first is used
    rawmode: str = ""  # how the decoder unpacks the samples (kept: loading clears it)
    data: bytes | None = None  # the whole file, when it was given as bytes (an object's)

    @property
    def decoder_orients(self) -> bool:
        """Pillow's TIFF reader makes the image upright as it loads (and drops the tag)."""
        return self.format == "TIFF"

    @property
    def decodes_upright(self) -> bool:
        """True when `decode` returns upright pixels even with orient=False."""
        return self.decoder_orients or self.deep_colour

    @property
    def decode_scale(self) -> int:
        """The DCT scale the decoder was asked for by `shrink_on_load` (1 = full size)."""
        return max(1, round(self.stored_size[0] / self.image.size[0]))

    @property
    def upright_size(self) -> tuple[int, int]:
        width, height = self.stored_size
        return (height, width) if self.orientation in (5, 6, 7, 8) else (width, height)


def decoder_error(error: Exception) -> Exception:
    """The ImageError for a decoder's exception; an OSError with an errno (a failed read, not
    bad data) is returned as it is, for the caller to describe as a file error."""
    if isinstance(error, OSError) and error.errno is not None:
        return error
    text = str(error).strip() or type(error).__name__
    code = text.removeprefix("decoder error ")
    if code in DECODER_CODES:
        text = f"{DECODER_CODES[code]} ({text})"
    return ImageError(f"cannot decode: {text}")


def probe(source: Path | bytes, max_pixels: int | None) -> Header:
    """Open a file (by path) or a whole file's bytes (an object read from a store) and read its
    header: format, size, orientation. Rejects bombs before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    except Image.UnidentifiedImageError:
        raise ImageError("not an image, or a format this tool cannot read") from None
    except DECODER_ERRORS as error:  # e.g. "Unsupported BMP bitfields layout"
        raise decoder_error(error) from None
    try:
        header = _read_header(image, max_pixels)
    except BaseException:
        image.close()
        raise
    if isinstance(source, bytes):
        header.data = source
    return header


def _read_header(image: Image.Image, max_pixels: int | None) -> Header:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"image has no pixels ({width}x{height})")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageError(
            f"decompression bomb: {width}x{height} = {width * height} pixels is over the "
            f"limit of {max_pixels} (--max-pixels)"
        )
    frames = count_frames(image)  # before decoding: counting may seek through the file
    mode, deep_colour = source_mode(image)
    rawmode = rawmode_of(image)
    if image.format == "PNG" and not deep_colour:
        # Pillow may find a PNG's EXIF only after the image data: decode first, and let a
        # decoding error surface here rather than be swallowed inside getexif().
        load(image)
    orientation = exif_orientation(image)
    stored_size = (width, height)
    if image.format == "TIFF":
        # Pillow's TIFF reader applies the orientation itself when it loads, and (since
        # Pillow 11) reports the upright size already: the stored size is in the tags.
        tags = image.tag_v2
        stored_size = (tags.get(256, width), tags.get(257, height))
    return Header(
        image, image.format or "", stored_size, orientation, deep_colour, mode, frames, rawmode
    )


def count_frames(image: Image.Image) -> int:
    """Frames of an animation (GIF, WebP, APNG, MPO) or pages of a TIFF; 1 for a still image."""
    try:
        return max(1, int(getattr(image, "n_frames", 1)))
    except DECODER_ERRORS as error:
        raise decoder_error(error) from None


def source_mode(image: Image.Image) -> tuple[str, bool]:
    """The mode as the manifest names it, and whether it is deep colour.

    Deep colour is decided by the real bits per sample (PNG's bit depth, TIFF's BitsPerSample),
    not by the raw mode's name: an RGB565 BMP unpacks with Pillow's raw mode "BGR;16" but holds
    5 and 6 bits per sample, which Pillow expands exactly.
    """
    if image.mode not in ("RGB", "RGBA", "LA") or _bits_per_sample(image) <= 8:
        return image.mode, False
    # Pillow opens 16-bit grey+alpha PNGs as RGBA; their raw mode says LA;16B.
    base = rawmode_of(image).split(";")[0] if image.format == "PNG" else image.mode
    return f"{base};16", True


def _bits_per_sample(image: Image.Image) -> int:
    if image.format == "PNG":
        return 16 if rawmode_of(image).endswith(";16B") else 8
    if image.format == "TIFF":
        tags = image.tag_v2
        bits = tags.get(BITS_PER_SAMPLE_TAG, 1)
        kinds = tags.get(SAMPLE_FORMAT_TAG, 1)
        if any(kind != 1 for kind in (kinds if isinstance(kinds, tuple) else (kinds,))):
            return 8  # signed or float colour: Pillow opens none of it as RGB
        return max(bits) if isinstance(bits, tuple) else int(bits)
    return 8


def rawmode_of(image: Image.Image) -> str:
    if not image.tile:
        return ""
    args = image.tile[0].args
    rawmode = args[0] if isinstance(args, tuple) and args else args
    return rawmode if isinstance(rawmode, str) else ""


def exif_orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # a malformed EXIF block is no reason to lose the image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def load(image: Image.Image) -> None:
    """Decode the pixels; a decoder's complaint becomes an ImageError naming it."""
    try:
        image.load()
    except DECODER_ERRORS as error:
        raise decoder_error(error) from None


def shrink_on_load(header: Header, resize_to: tuple[int, int]) -> bool:
    """Ask the JPEG decoder for a DCT-scaled image that stays >= SHRINK_BOUND x the target.

    libjpeg's scaled decode keeps only the low DCT coefficients of each 8x8 block: a block-wise
    filter that folds fine periodic detail (stripes, fabric) into low-frequency moiré that the
    resize after it cannot remove. The larger the factor left to the real kernel, the more of
    that moiré falls outside the output's band. Measured against --exact on zone-plate and
    stripe JPEGs from 1.5x to 16x (bench/shrink.py): a bound of 2 went down to 34 dB, 3 keeps
    >= 41 dB, at ~15-25% more CPU per image on photographs (bench/RESULTS.md has the table).
    The bound is computed in stored orientation because the decoder works before the EXIF
    turn. Returns whether it will scale.
    """
    if header.format not in ("JPEG", "MPO"):
        return False
    width, height = resize_to
    if header.orientation in (5, 6, 7, 8):
        width, height = height, width
    stored_w, stored_h = header.stored_size
    least = (math.ceil(SHRINK_BOUND * width), math.ceil(SHRINK_BOUND * height))
    if stored_w < 2 * least[0] or stored_h < 2 * least[1]:
        return False  # even a 1/2 scale would fall below the bound
    header.image.draft(header.image.mode, least)
    return header.image.size != header.stored_size
