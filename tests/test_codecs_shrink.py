"""Shrink-on-load (`codecs.shrink_on_load`, `codecs.probe.SHRINK_BOUND`): which DCT scale a
JPEG is decoded at, and that the fast path it enables adds no moiré on fine periodic textures.

libjpeg's scaled decode is a block-wise filter that folds fine stripes into low-frequency moiré;
the bound keeps enough of the reduction for the real kernel that the moiré stays out of the
output.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import psnr, resize_file
from PIL import Image

from resizer import codecs
from resizer.codecs.probe import SHRINK_BOUND
from resizer.geometry import Sizing

WIDTH, HEIGHT = 1024, 768
SCALES = [1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16]


def zone_plate() -> np.ndarray:
    """cos(pi r^2 / n): the local frequency grows with the radius to 0.5 cycle/pixel at the
    edges, so one image holds every frequency in every orientation."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    radius2 = (x - WIDTH / 2) ** 2 + (y - HEIGHT / 2) ** 2
    return 127.5 + 127 * np.cos(np.pi * radius2 / max(WIDTH, HEIGHT))


def stripes(period: float, degrees: float, square: bool) -> np.ndarray:
    """Straight stripes across the image, sinusoidal or square-wave (fabric-like edges)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    angle = math.radians(degrees)
    wave = np.cos(2 * np.pi * (x * math.cos(angle) + y * math.sin(angle)) / period)
    return 127.5 + 120 * (np.sign(wave) if square else wave)


PATTERNS = {
    "zone-plate": zone_plate,
    "stripes-3px-square": lambda: stripes(3, 0, square=True),
    "stripes-4.5px-20deg-square": lambda: stripes(4.5, 20, square=True),
    "stripes-7px-45deg-sine": lambda: stripes(7, 45, square=False),
}


@pytest.fixture(scope="module")
def textures(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Each pattern as an RGB JPEG (q90, Pillow's default 4:2:0) and as a PNG of its full
    decode (the same pixels without any chance of a DCT-scaled decode)."""
    folder = tmp_path_factory.mktemp("textures")
    found = {}
    for name, make in PATTERNS.items():
        plane = np.clip(make(), 0, 255).round().astype(np.uint8)
        jpeg, png = folder / f"{name}.jpg", folder / f"{name}.png"
        Image.fromarray(np.dstack([plane] * 3)).save(jpeg, quality=90)
        with Image.open(jpeg) as decoded:
            decoded.save(png)
        found[name] = (jpeg, png)
    return found


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def expected_scale(width: int, height: int, stored: tuple[int, int] = (WIDTH, HEIGHT)):
    """The largest 1/2^k decode still >= SHRINK_BOUND x (width, height); None: a full decode."""
    fits = [
        scale
        for scale in (2, 4, 8)
        if stored[0] / scale >= SHRINK_BOUND * width and stored[1] / scale >= SHRINK_BOUND * height
    ]
    return max(fits, default=None)


def by_scale(scale: float) -> dict:
    return {"sizing": Sizing("scale", factor=Fraction(1 / scale).limit_denominator(1000))}


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_pillow_fast_path_has_no_moire_at_any_scale(tmp_path, textures, pattern):
    """Default backend: the fast path (DCT-scaled decode, box pre-reduction) stays >= 40 dB
    from --exact at every reduction from 1.5x to 16x, shrinking on load wherever the bound
    allows (with a bound of 2 the stripes fell to 34 dB at 4x)."""
    jpeg, _ = textures[pattern]
    for scale in SCALES:
        out = tmp_path / str(scale)
        fast, fast_output = resize_file(jpeg, out / "fast", **by_scale(scale))
        _, exact_output = resize_file(jpeg, out / "exact", exact=True, **by_scale(scale))

        assert psnr(pixels(fast_output), pixels(exact_output)) >= 40, f"{pattern} at {scale}x"
        assert fast.decode_scale == expected_scale(fast.width, fast.height), f"{scale}x"


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_opencv_shrink_on_load_adds_no_moire_at_any_scale(tmp_path, textures, pattern):
    """OpenCV backend: its --exact is cv2.resize itself, which aliases on purpose (README), so
    the reference is the same antialiased default path on the full decode (the PNG): the
    DCT-scaled decode must stay >= 40 dB from it at every reduction from 1.5x to 16x."""
    jpeg, png = textures[pattern]
    for scale in SCALES:
        out = tmp_path / str(scale)
        options = {"backend": "opencv", **by_scale(scale)}
        fast, fast_output = resize_file(jpeg, out / "jpeg", **options)
        _, full_output = resize_file(png, out / "png", **options)

        assert psnr(pixels(fast_output), pixels(full_output)) >= 40, f"{pattern} at {scale}x"
        assert fast.decode_scale == expected_scale(fast.width, fast.height), f"{scale}x"


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    Image.new("RGB", (1600, 1200), (90, 120, 150)).save(path, quality=80)
    return path


@pytest.mark.parametrize("target", [(800, 600), (534, 400), (533, 400), (200, 150), (66, 50)])
def test_the_largest_dct_scale_that_keeps_the_bound(big_jpeg, target):
    """The decoder is asked for the smallest 1/2^k image still >= SHRINK_BOUND x the target on
    both axes, and nothing smaller."""
    header = codecs.probe(big_jpeg, None)
    try:
        scaled = codecs.shrink_on_load(header, target)
        scale = header.decode_scale
    finally:
        header.image.close()

    expected = expected_scale(*target, stored=(1600, 1200)) or 1
    assert scale == expected
    assert scaled == (expected > 1)
