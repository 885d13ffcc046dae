"""Label images (segmentation masks) through an image's geometry: EXIF turn, resize, crop, pad.

A mask holds class indices, not colours, so it is resampled by nearest neighbour (or a vote
among the source pixels an output pixel covers) and never gets a value the input did not have.
Used for paired mask files (`resize --masks`) and for COCO RLE masks (`labels coco`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .codecs import UPRIGHT

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
    import cv2

    values = _as_array(mask)
    labels = np.unique(values)
    best = np.full((size[1], size[0]), -1.0, dtype=np.float32)
    result = np.zeros((size[1], size[0]), dtype=values.dtype)
    for label in labels:
        share = cv2.resize((values == label).astype(np.float32), size, interpolation=cv2.INTER_AREA)
        better = share > best
        best[better] = share[better]
        result[better] = label
    return _like(mask, result)


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
