"""Pillow backend: its kernels widen with the scale factor, so downscaling is antialiased."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..codecs import Pixels

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "area": Image.Resampling.BOX,
}
# Integer box reduction first, then the real kernel over the last >= 3x: PSNR stays > 45 dB on
# photographs and large downscales run several times faster. Off with --exact.
REDUCING_GAP = 3.0


class PillowBackend:
    name = "pillow"
    resizes_kept_part = True

    def resize(
        self,
        pixels: Pixels,
        size: tuple[int, int],
        interpolation: str,
        exact: bool,
        extent: tuple[float, float] | None = None,
        keep: tuple[int, int, int, int] | None = None,
    ) -> Pixels:
        # Pillow resizes a source box with the same pixel centres and kernel weights as the
        # whole image, so resizing only the kept part gives the same pixels, for less work.
        width, height = extent or _size(pixels)
        left, top, right, bottom = keep or (0, 0, *size)
        ratio_x, ratio_y = width / size[0], height / size[1]
        box = (left * ratio_x, top * ratio_y, right * ratio_x, bottom * ratio_y)
        kept_size = (right - left, bottom - top)
        resample = FILTERS[interpolation]
        if isinstance(pixels, np.ndarray):
            return _resize_deep_colour(pixels, kept_size, resample, box)
        if pixels.size == kept_size and box == (0, 0, *kept_size):
            return pixels
        fast = not exact and pixels.mode != "I;16" and interpolation != "nearest"
        gap = REDUCING_GAP if fast else None
        return pixels.resize(kept_size, resample, box=box, reducing_gap=gap)

    def window(
        self, pixels: Pixels, box: tuple[int, int, int, int], fill: tuple[int, ...]
    ) -> Pixels:
        if isinstance(pixels, np.ndarray):
            from .opencv import window_array

            return window_array(pixels, box, fill)
        if box == (0, 0, *pixels.size):
            return pixels
        left, top, right, bottom = box
        width, height = pixels.size
        kept = (max(left, 0), max(top, 0), min(right, width), min(bottom, height))
        if kept == box:
            return pixels.crop(box)
        colour = fill[0] if len(fill) == 1 else fill
        canvas = Image.new(pixels.mode, (right - left, bottom - top), colour)
        canvas.paste(pixels.crop(kept), (kept[0] - left, kept[1] - top))
        return canvas


def _size(pixels: Pixels) -> tuple[int, int]:
    if isinstance(pixels, np.ndarray):
        return pixels.shape[1], pixels.shape[0]
    return pixels.size


def _resize_deep_colour(array: np.ndarray, size: tuple[int, int], resample, box) -> np.ndarray:
    """16-bit colour: Pillow's own kernel on each channel as 32-bit float, alpha premultiplied."""
    if (array.shape[1], array.shape[0]) == size and box in (None, (0, 0, *size)):
        return array
    data = array.astype(np.float32)
    has_alpha = data.shape[2] == 4
    if has_alpha:
        data[..., :3] *= data[..., 3:4] / 65535.0
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(data[..., c]), "F").resize(size, resample, box)
        )
        for c in range(data.shape[2])
    ]
    result = np.stack(channels, axis=2)
    if has_alpha:
        alpha = np.clip(result[..., 3:4], 0, 65535)
        visible = alpha > 0
        result[..., :3] = np.where(visible, result[..., :3] * 65535.0 / np.maximum(alpha, 1e-6), 0)
    return np.clip(np.rint(result), 0, 65535).astype(np.uint16)
