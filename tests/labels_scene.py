"""A labelled scene for the label tests: coloured rectangles on grey, stored under any EXIF
orientation, and a way to find each rectangle again in a resized output by its colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

ORIENTATION_TAG = 0x0112
# The transpose that turns upright pixels into those stored under each EXIF orientation.
STORED = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
BACKGROUND = (128, 128, 128)
UPRIGHT_SIZE = (240, 160)
# Upright boxes (left, top, right, bottom) in continuous pixel coordinates, with their colours;
# 16+ pixels apart so the resampling kernels of two boxes never overlap at the sizes tested.
BOXES = {
    (220, 40, 40): (12, 10, 70, 60),
    (40, 190, 40): (100, 8, 150, 70),
    (40, 40, 220): (180, 20, 234, 100),
    (220, 220, 40): (20, 90, 90, 150),
    (200, 50, 200): (110, 100, 160, 156),
}


def upright_scene() -> Image.Image:
    array = np.empty((UPRIGHT_SIZE[1], UPRIGHT_SIZE[0], 3), dtype=np.uint8)
    array[:] = BACKGROUND
    for colour, (left, top, right, bottom) in BOXES.items():
        array[top:bottom, left:right] = colour
    return Image.fromarray(array)


def stored_scene(orientation: int) -> Image.Image:
    scene = upright_scene()
    return scene if orientation == 1 else scene.transpose(STORED[orientation])


def save_scene(path: Path, orientation: int) -> Path:
    """A JPEG (q95, no chroma subsampling) whose EXIF orientation makes it the upright scene."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    stored_scene(orientation).save(path, quality=95, subsampling=0, exif=exif)
    return path


def stored_boxes(orientation: int) -> dict[tuple, tuple[int, int, int, int]]:
    """Each colour's box in the stored pixels, found by looking at them (not by arithmetic)."""
    array = np.asarray(stored_scene(orientation))
    boxes = {}
    for colour in BOXES:
        ys, xs = np.nonzero(np.all(array == colour, axis=2))
        boxes[colour] = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return boxes


def coverage(image: np.ndarray, colour: tuple) -> np.ndarray:
    """How much of each pixel is `colour` rather than background (0..1, unclipped)."""
    direction = np.subtract(colour, BACKGROUND).astype(np.float64)
    offset = image[..., :3].astype(np.float64) - BACKGROUND
    return offset @ direction / (direction @ direction)


def locate(image: np.ndarray, colour: tuple, near: tuple[float, float, float, float]):
    """The edges (left, top, right, bottom) of the `colour` rectangle in a resized image.

    Along each axis the coverage profile (averaged over the middle of the box) is a blurred
    step; its sum from background to the box middle is the distance from the edge to the
    middle, a sub-pixel estimate the kernel's symmetric blur and ringing do not move. `near`
    is the expected box: it picks the rows and columns to look at.
    """
    height, width = image.shape[:2]
    cover = coverage(image, colour)
    left, top, right, bottom = near
    middle_x, middle_y = (left + right) / 2, (top + bottom) / 2
    # Rows/columns well inside the box, for the profiles across the other axis.
    rows = slice(
        int(np.ceil(top + (bottom - top) * 0.3)), int(np.floor(bottom - (bottom - top) * 0.3))
    )
    cols = slice(
        int(np.ceil(left + (right - left) * 0.3)), int(np.floor(right - (right - left) * 0.3))
    )
    across_x = cover[rows].mean(axis=0)
    across_y = cover[:, cols].mean(axis=1)
    reach = 6  # output pixels of background looked at beyond an edge
    mid_x, mid_y = round(middle_x), round(middle_y)
    start = max(0, int(np.floor(left)) - reach)
    found_left = mid_x - across_x[start:mid_x].sum()
    end = min(width, int(np.ceil(right)) + reach)
    found_right = mid_x + across_x[mid_x:end].sum()
    start = max(0, int(np.floor(top)) - reach)
    found_top = mid_y - across_y[start:mid_y].sum()
    end = min(height, int(np.ceil(bottom)) + reach)
    found_bottom = mid_y + across_y[mid_y:end].sum()
    return found_left, found_top, found_right, found_bottom
