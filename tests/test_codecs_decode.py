"""Colour-key transparency resized as alpha: a key (PNG tRNS in grey, 4-bit grey, 16-bit grey
and RGB images; a GIF with no colour table) must not survive resizing as a key, where edges blend
with the key colour (halos) and opaque pixels that average to the key turn transparent."""

from __future__ import annotations

import struct
from functools import partial
from pathlib import Path

import conftest
import numpy as np
import pytest
from images import grey_gif_bytes, png_bytes, read_back
from PIL import Image

from resizer.geometry import Sizing

BACKENDS = ("pillow", "opencv")
# 48x32 -> 24x16: source columns 0-15 are the key (transparent), 16-31 an opaque bright
# colour, 32-47 an opaque checkerboard of key - step and key + step, which averages to the key.
resize_file = partial(conftest.resize_file, sizing=Sizing("size", width=24, height=16))
CHECKER = np.indices((32, 16)).sum(axis=0) % 2 == 1


def keyed_layout(key, bright, step):
    """Samples (H, W) or (H, W, 3) for the layout above, as int64."""
    key, bright = np.atleast_1d(key), np.atleast_1d(bright)
    array = np.empty((32, 48, key.size), dtype=np.int64)
    array[:, :16] = key
    array[:, 16:32] = bright
    array[:, 32:] = np.where(CHECKER[..., None], key + step, key - step)
    return array[..., 0] if key.size == 1 else array


def write_keyed(folder: Path, kind: str) -> tuple[Path, int, int]:
    """The keyed source of `kind`; returns it with its peak value and bright grey/red level."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "grey":
        array = keyed_layout(100, 250, 10).astype(np.uint8)
        path = folder / "grey.png"
        Image.fromarray(array).save(path, transparency=100)
        return path, 255, 250
    if kind == "grey4":
        array = keyed_layout(6, 15, 1).astype(np.uint8)  # Pillow scales samples by 17
        path = folder / "grey4.png"
        path.write_bytes(png_bytes(array, 4, 0, [(b"tRNS", struct.pack(">H", 6))]))
        return path, 255, 255
    if kind == "grey16":
        array = keyed_layout(25700, 64250, 2570).astype(np.uint16)
        path = folder / "grey16.png"
        path.write_bytes(png_bytes(array, 16, 0, [(b"tRNS", struct.pack(">H", 25700))]))
        return path, 65535, 64250
    if kind == "rgb":
        array = keyed_layout((100, 100, 100), (250, 0, 0), 10).astype(np.uint8)
        path = folder / "rgb.png"
        Image.fromarray(array).save(path, transparency=(100, 100, 100))
        return path, 255, 250
    if kind == "gif":
        path = folder / "grey.gif"
        array = keyed_layout(100, 250, 10).astype(np.uint8)
        path.write_bytes(grey_gif_bytes(array, transparency=100))
        return path, 255, 250
    raise ValueError(kind)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["grey", "grey4", "grey16", "rgb", "gif"])
def test_colour_key_is_resized_as_alpha(tmp_path, backend, kind):
    source, peak, bright = write_keyed(tmp_path / "src", kind)

    result, output = resize_file(source, tmp_path / "out", "png", backend=backend)

    pixels = as_seen(output).astype(np.int64)
    alpha, colour = pixels[..., -1], pixels[..., 0]
    assert pixels.shape[:2] == (16, 24)
    # No halo: every visible pixel next to the transparent region has the bright colour, not a
    # blend with the key's (150 levels away); 8-bit premultiplied alpha rounds a little.
    visible = alpha[:, 4:12] >= peak // 8
    assert visible.sum() >= 16 * 4
    assert np.abs(colour[:, 4:12][visible] - bright).max() <= 6 * peak // 255
    if kind == "rgb":  # pure red stays pure red
        assert pixels[:, 4:12, 1:3][visible].max() <= 2
    # The key region is transparent; the checkerboard averages to the key yet stays opaque.
    assert (alpha[:, :5] == 0).all()
    assert (alpha[:, 17:23] == peak).all()
    mode, _ = read_back(output)
    assert mode == result.mode and mode in ("LA", "RGBA", "RGBA;16")  # real alpha, no key
    with Image.open(output) as image:
        assert "transparency" not in image.info


def as_seen(path: Path) -> np.ndarray:
    """The output's pixels with alpha last, as a viewer shows them (a key, if the file has one,
    applied as transparency; none: all opaque)."""
    mode, pixels = read_back(path)
    with Image.open(path) as image:
        key = image.info.get("transparency")
        if mode not in ("L", "RGB", "I;16"):
            return pixels
        if key is None:
            grey = pixels if pixels.ndim == 3 else pixels[..., None]
            return np.dstack([grey, np.full(pixels.shape[:2], 65535 if mode == "I;16" else 255)])
        if mode == "I;16":
            return np.dstack([pixels, np.where(pixels == key, 0, 65535)])
        return np.asarray(image.convert("LA" if mode == "L" else "RGBA"))
