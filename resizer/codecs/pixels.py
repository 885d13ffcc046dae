"""The two kinds of pixels the pipeline carries, and what every codec module needs about them.

8-bit images and 16-bit grey travel as PIL images; 16-bit colour (with or without alpha) as a
uint16 numpy array in RGB(A) order, because Pillow has no 16-bit colour mode.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

Pixels = Image.Image | np.ndarray

# EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageError(Exception):
    """A problem with one input image; becomes a failed manifest record, never a crash."""


def orient_image(pixels: Pixels, orientation: int) -> Pixels:
    """Turn stored pixels upright for an EXIF orientation, whichever kind they are."""
    if orientation not in UPRIGHT:
        return pixels
    if isinstance(pixels, np.ndarray):
        return np.ascontiguousarray(orient_array(pixels, orientation))
    return pixels.transpose(UPRIGHT[orientation])


def orient_array(array: np.ndarray, orientation: int) -> np.ndarray:
    """The numpy twin of UPRIGHT (rows are y, columns are x)."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return array.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(array, 1)
    return array


def mode_of(pixels: Pixels) -> str:
    """Mode name for either kind of pixels; 16-bit colour is RGB;16 / RGBA;16."""
    if isinstance(pixels, Image.Image):
        return pixels.mode
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    name = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    if pixels.dtype == np.uint16:
        return "I;16" if channels == 1 else f"{name};16"
    return name


def grey16_image(array: np.ndarray) -> Image.Image:
    """A 2-D uint16 array as an I;16 image (Pillow 13 rejects fromarray(..., "I;16"))."""
    image = Image.fromarray(np.ascontiguousarray(array, dtype="<u2"))
    return image if image.mode == "I;16" else image.convert("I;16")


def size_of(pixels: Pixels) -> tuple[int, int]:
    if isinstance(pixels, Image.Image):
        return pixels.size
    return pixels.shape[1], pixels.shape[0]


def to_8bit(array: np.ndarray) -> np.ndarray:
    """16-bit samples rounded to the nearest 8-bit value."""
    return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
