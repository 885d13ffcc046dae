"""Label images (segmentation masks) through an image's geometry: EXIF turn, resize, crop, pad.

A mask holds class indices, not colours, so it is resampled by nearest neighbour (or a vote
among the source pixels an output pixel covers) and never gets a value the input did not have.
Used for paired mask files (`resize --masks`) and for COCO RLE masks (`labels coco`).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .codecs import UPRIGHT
from .plan import mask_name

RESAMPLINGS = ("nearest", "majority")


def transform_mask(
    mask: Image.Image,
    orientation: int,
    resize: tuple[int, int],
    window: tuple[int, int, int, int],
    fill: int = 0,
    resampling: str = "nearest",
) -> Image.Image:
    """`mask` (stored as the image is) turned upright, resized to `resize`, and cut to `window`
    (in resized coordinates; padded with `fill` where it reaches outside). Mode and palette are
    kept."""
    if orientation in UPRIGHT:
        mask = mask.transpose(UPRIGHT[orientation])
    if mask.size != resize:
        if resampling == "majority" and (resize[0] < mask.size[0] or resize[1] < mask.size[1]):
            mask = _majority(mask, resize)
        else:
            mask = mask.resize(resize, Image.Resampling.NEAREST)
    return _window(mask, window, fill)


def _window(mask: Image.Image, window: tuple[int, int, int, int], fill: int) -> Image.Image:
    left, top, right, bottom = window
    if window == (0, 0, *mask.size):
        return mask
    width, height = mask.size
    kept = (max(left, 0), max(top, 0), min(right, width), min(bottom, height))
    if kept == window:
        return mask.crop(window)
    canvas = Image.new(mask.mode, (right - left, bottom - top), fill)
    if mask.mode in ("P", "PA"):
        canvas.putpalette(mask.getpalette(rawmode=mask.palette.mode), rawmode=mask.palette.mode)
    canvas.info = dict(mask.info)
    if kept[2] > kept[0] and kept[3] > kept[1]:
        canvas.paste(mask.crop(kept), (kept[0] - left, kept[1] - top))
    return canvas


def _majority(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Each output pixel takes the label covering most of its footprint in the source
    (area-weighted; ties go to the smaller label), so thin classes are not decided by one
    sample. Only labels present in the input can win."""
    values = _as_array(mask)
    if values.ndim == 3:  # colour-coded classes: vote on whole colours
        packed = np.zeros(values.shape[:2], dtype=np.int64)
        for channel in range(values.shape[2]):
            packed = packed * 65536 + values[..., channel]
        voted = _vote(packed, size)
        channels = [(voted // 65536**c) % 65536 for c in reversed(range(values.shape[2]))]
        return _like(mask, np.stack(channels, axis=2).astype(values.dtype))
    return _like(mask, _vote(values, size))


def _vote(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    labels = np.unique(values)
    best = np.full((size[1], size[0]), -1.0, dtype=np.float32)
    result = np.zeros((size[1], size[0]), dtype=values.dtype)
    for label in labels:
        share = cv2.resize((values == label).astype(np.float32), size, interpolation=cv2.INTER_AREA)
        better = share > best
        best[better] = share[better]
        result[better] = label
    return result


def _as_array(mask: Image.Image) -> np.ndarray:
    if mask.mode == "1":
        return np.asarray(mask.convert("L"))
    return np.asarray(mask)


def _like(mask: Image.Image, array: np.ndarray) -> Image.Image:
    """An image of `array` in the mode (and palette, and info) of `mask`."""
    if mask.mode == "I;16":
        image = Image.fromarray(np.ascontiguousarray(array, dtype="<u2"))
        image = image if image.mode == "I;16" else image.convert("I;16")
    elif mask.mode == "1":
        image = Image.fromarray(array.astype(np.uint8)).convert("1", dither=Image.Dither.NONE)
    else:
        image = Image.fromarray(np.ascontiguousarray(array), mask.mode)
    if mask.mode in ("P", "PA"):
        image.putpalette(mask.getpalette(rawmode=mask.palette.mode), rawmode=mask.palette.mode)
    image.info = dict(mask.info)
    return image


# ---- paired mask files (`resizer resize --masks DIR`) -------------------------------------


class MaskError(Exception):
    """A mask that cannot go with its image; the pair fails, the run goes on."""


def read_mask(path: Path) -> tuple[Image.Image, int]:
    """The mask image (loaded) and its PNG bit depth, which the output keeps."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise MaskError(f"mask {path} is missing") from None
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise MaskError(f"mask {path} is not a PNG file")
    bits, colour_type = data[24], data[25]
    if colour_type == 0 and bits in (2, 4):
        raise MaskError(f"mask {path}: {bits}-bit grey PNGs are not supported (use 8 bits)")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise MaskError(f"mask {path} cannot be decoded: {error}") from None
    return image, bits


def mask_turn(mask_size: tuple[int, int], stored: tuple[int, int], orientation: int) -> int:
    """The EXIF turn a mask needs: the image's own when the mask has the stored size, none when
    it already has the upright size (an upright-drawn mask of a turned image)."""
    upright = (stored[1], stored[0]) if orientation in (5, 6, 7, 8) else stored
    if mask_size == stored:
        return orientation
    if mask_size == upright:
        return 1
    raise MaskError(
        f"mask is {mask_size[0]}x{mask_size[1]}, but its image is {stored[0]}x{stored[1]} as "
        f"stored ({upright[0]}x{upright[1]} upright)"
    )


def pad_value(mask: Image.Image, value: int):
    """The fill for padding in the mask's mode; a value the mask cannot hold is an error."""
    limit = {"1": 1, "I;16": 65535, "I": 2**31 - 1}.get(mask.mode, 255)
    if value > limit:
        raise MaskError(f"--mask-pad {value} does not fit a {mask.mode} mask (at most {limit})")
    if mask.mode in ("P", "PA"):
        colours = len(mask.getpalette(rawmode="RGB") or []) // 3
        if value >= colours:
            raise MaskError(f"--mask-pad {value} is not in the mask's palette of {colours} colours")
    bands = len(mask.getbands())
    return value if bands == 1 else (value,) * bands


def encode_mask(mask: Image.Image, bits: int) -> bytes:
    """PNG bytes with the palette (and transparency) and bit depth of the input."""
    options: dict = {"compress_level": 4}
    if mask.mode == "P":
        options["bits"] = bits
    for key in ("transparency", "dpi"):
        if key in mask.info:
            options[key] = mask.info[key]
    buffer = io.BytesIO()
    mask.save(buffer, "PNG", **options)
    return buffer.getvalue()


@dataclass
class PairedMask:
    """An image's mask, opened and checked before the image is decoded."""

    source: str  # relative to the masks folder
    image: Image.Image
    bits: int
    size_bytes: int
    mtime_ns: int
    turn: int  # EXIF orientation still to apply


def open_paired(name: str, folder: Path, stored: tuple[int, int], orientation: int) -> PairedMask:
    """The mask of source `name` (MaskError when missing or of another size)."""
    source = mask_name(name)
    path = folder / source
    try:
        before = os.stat(path)
    except FileNotFoundError:
        raise MaskError(f"mask {source} is missing from {folder}") from None
    image, bits = read_mask(path)
    try:
        turn = mask_turn(image.size, stored, orientation)
    except MaskError as error:
        raise MaskError(f"mask {source}: {error}") from None
    return PairedMask(source, image, bits, before.st_size, before.st_mtime_ns, turn)


def render(
    paired: PairedMask,
    resized: tuple[int, int],
    window: tuple[int, int, int, int],
    pad: int,
    resampling: str,
) -> bytes:
    """The mask with its image's geometry, as PNG bytes."""
    fill = 0
    if window[0] < 0 or window[1] < 0 or window[2] > resized[0] or window[3] > resized[1]:
        try:  # checked only where padding happens: an unused value does no harm
            fill = pad_value(paired.image, pad)
        except MaskError as error:
            raise MaskError(f"mask {paired.source}: {error}") from None
    mask = transform_mask(paired.image, paired.turn, resized, window, fill, resampling)
    return encode_mask(mask, paired.bits)
