"""OpenCV backend.

`cv2.resize` does not widen its kernels when downscaling: at 8x, INTER_LANCZOS4 is close to point
sampling and aliases. Unless --exact asks for exactly that, a downscale here first reduces by an
integer factor with INTER_AREA (a true average) while at least 4x remains, then low-pass filters
each axis with the kernel stretched by the remaining factor and samples it with INTER_LINEAR.
Alpha is premultiplied in float so invisible pixels' colours do not bleed into visible ones.
Nearest samples pixel centres (INTER_NEAREST_EXACT, as Pillow) unless --exact asks for
INTER_NEAREST itself.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..codecs import Pixels

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
    "area": cv2.INTER_AREA,
}

# Integer INTER_AREA pre-reduction only while >= this factor remains for the real kernel: a
# box average aliases (moiré on fine stripes), and the kernel over >= 4x hides what it lets
# through. Measured on zone-plate and stripe JPEGs against an exact Lanczos4: a gap of 2 gave
# 31 dB at 4x, a gap of 4 keeps >= 44 dB (bench/RESULTS.md).
AREA_GAP = 4
# Worker processes run one image each on every core: OpenCV's own threads would only compete.
cv2.setNumThreads(1)


class OpenCVBackend:
    name = "opencv"
    # cv2.resize has no source box: a part resized alone would not match a crop of the whole.
    resizes_kept_part = False

    def resize(
        self,
        pixels: Pixels,
        size: tuple[int, int],
        interpolation: str,
        exact: bool,
        extent: tuple[float, float] | None = None,
        keep: tuple[int, int, int, int] | None = None,
    ) -> Pixels:
        array = to_array(pixels)
        height, width = array.shape[:2]
        box = (0.0, 0.0, *(extent or (width, height)))
        if (width, height) != size or box != (0, 0, width, height):
            channels = 1 if array.ndim == 2 else array.shape[2]
            if channels in (2, 4):
                array = _resize_premultiplied(array, size, interpolation, exact, box)
            else:
                array = _resize(array, size, interpolation, exact, box)
        if keep is None or keep == (0, 0, *size):
            return array
        left, top, right, bottom = keep
        return np.ascontiguousarray(array[top:bottom, left:right])

    def window(
        self, pixels: Pixels, box: tuple[int, int, int, int], fill: tuple[int, ...]
    ) -> Pixels:
        return window_array(to_array(pixels), box, fill)


def to_array(pixels: Pixels) -> np.ndarray:
    if isinstance(pixels, np.ndarray):
        return pixels
    if pixels.mode == "I;16":
        return np.asarray(pixels, dtype=np.uint16)
    return np.asarray(pixels)


def window_array(
    array: np.ndarray, box: tuple[int, int, int, int], fill: tuple[int, ...]
) -> np.ndarray:
    left, top, right, bottom = box
    height, width = array.shape[:2]
    if box == (0, 0, width, height):
        return array
    kept = (max(left, 0), max(top, 0), min(right, width), min(bottom, height))
    part = array[kept[1] : kept[3], kept[0] : kept[2]]
    if kept == box:
        return np.ascontiguousarray(part)
    shape = (bottom - top, right - left, *array.shape[2:])
    canvas = np.empty(shape, dtype=array.dtype)
    canvas[...] = fill if array.ndim == 3 else fill[0]
    x, y = kept[0] - left, kept[1] - top
    canvas[y : y + part.shape[0], x : x + part.shape[1]] = part
    return canvas


def _resize(array: np.ndarray, size, interpolation: str, exact: bool, box) -> np.ndarray:
    if exact:
        return cv2.resize(array, size, interpolation=INTERPOLATIONS[interpolation])
    width, height = size
    in_height, in_width = array.shape[:2]
    whole = tuple(box) == (0, 0, in_width, in_height)
    if interpolation == "nearest":
        # NEAREST_EXACT picks the pixel under each output pixel's centre, as Pillow does
        # (INTER_NEAREST picks the top-left one and shifts the image). Nearest never has a
        # partial extent: shrink-on-load is off for it.
        return cv2.resize(array, size, interpolation=cv2.INTER_NEAREST_EXACT)
    if whole and (interpolation == "area" or (width >= in_width and height >= in_height)):
        # Area averages properly by itself; an upscale needs no antialiasing.
        return cv2.resize(array, size, interpolation=INTERPOLATIONS[interpolation])
    factor = int(min((box[2] - box[0]) / width, (box[3] - box[1]) / height) // AREA_GAP)
    if factor >= 2:
        # A true average by an integer factor first, while >= AREA_GAP remains for the kernel.
        reduced = (math.ceil(in_width / factor), math.ceil(in_height / factor))
        array = cv2.resize(array, reduced, interpolation=cv2.INTER_AREA)
        sx, sy = reduced[0] / in_width, reduced[1] / in_height
        box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    array = _resample_axis(array, width, box[0], box[2], 1, interpolation)
    return _resample_axis(array, height, box[1], box[3], 0, interpolation)


def _resample_axis(
    array: np.ndarray, length: int, start: float, end: float, axis: int, interpolation: str
) -> np.ndarray:
    """Resample [start, end) of one axis to `length` pixels.

    Downscaling low-passes with the kernel stretched by the scale, then samples linearly at
    the output pixel centres; upscaling samples with OpenCV's own kernel.
    """
    scale = (end - start) / length
    current = array.shape[axis]
    if start == 0 and end == current and length == current:
        return array
    if scale > 1:
        taps = _kernel(interpolation, scale)
        one = np.ones(1, dtype=np.float32)
        kernel_x, kernel_y = (taps, one) if axis == 1 else (one, taps)
        array = cv2.sepFilter2D(array, -1, kernel_x, kernel_y, borderType=cv2.BORDER_REFLECT_101)
        flag = cv2.INTER_LINEAR
    else:
        flag = cv2.INTER_LINEAR if interpolation == "area" else INTERPOLATIONS[interpolation]
    size = (length, array.shape[0]) if axis == 1 else (array.shape[1], length)
    if start == 0 and end == current:
        return cv2.resize(array, size, interpolation=flag)
    # cv2.resize has no source box: the same mapping, src = start + (dst + 0.5) * scale - 0.5.
    offset = start + 0.5 * scale - 0.5
    matrix = [[scale, 0, offset], [0, 1, 0]] if axis == 1 else [[1, 0, 0], [0, scale, offset]]
    return cv2.warpAffine(
        array,
        np.array(matrix, dtype=np.float64),
        size,
        flags=flag | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _kernel(interpolation: str, scale: float) -> np.ndarray:
    support, function = KERNELS[interpolation]
    radius = math.floor(support * scale)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64) / scale
    weights = function(offsets)
    return (weights / weights.sum()).astype(np.float32)


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - np.abs(x), 0.0, None)


def _cubic(x: np.ndarray, a: float = -0.75) -> np.ndarray:
    """Keys' cubic with OpenCV's a = -0.75."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _lanczos4(x: np.ndarray) -> np.ndarray:
    """OpenCV's INTER_LANCZOS4 is the 4-lobe Lanczos window."""
    return np.where(np.abs(x) < 4, np.sinc(x) * np.sinc(x / 4), 0.0)


def _box(x: np.ndarray) -> np.ndarray:
    return (np.abs(x) <= 0.5).astype(np.float64)


KERNELS = {
    "bilinear": (1.0, _triangle),
    "bicubic": (2.0, _cubic),
    "lanczos": (4.0, _lanczos4),
    "area": (0.5, _box),
}


def _resize_premultiplied(array, size, interpolation, exact, box) -> np.ndarray:
    peak = 65535.0 if array.dtype == np.uint16 else 255.0
    data = array.astype(np.float32)
    data[..., :-1] *= data[..., -1:] / peak
    result = _resize(data, size, interpolation, exact, box)
    alpha = np.clip(result[..., -1:], 0, peak)
    visible = alpha > 0
    result[..., :-1] = np.where(visible, result[..., :-1] * peak / np.maximum(alpha, 1e-6), 0)
    return np.clip(np.rint(result), 0, peak).astype(array.dtype)
