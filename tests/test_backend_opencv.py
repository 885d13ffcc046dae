"""OpenCV backend: `--exact` is bit-identical to `cv2.resize(cv2.imread(p, IMREAD_COLOR))`
(aliasing included), while the default path is antialiased and visually equal to Pillow's."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import conftest
import cv2
import numpy as np
import pytest
from conftest import photo_array, psnr, ssim
from PIL import Image

from resizer.backends.opencv import OpenCVBackend
from resizer.geometry import Sizing

FLAGS = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
    "area": cv2.INTER_AREA,
}


# Every test here runs on the opencv backend unless it names another (a reference).
resize_file = partial(conftest.resize_file, backend="opencv")


def make_source(folder: Path, kind: str) -> Path:
    rgb = photo_array(150, 100, seed=21)
    if kind == "jpeg":
        path = folder / "photo.jpg"
        Image.fromarray(rgb).save(path, quality=90)
    elif kind == "rotated_jpeg":  # IMREAD_COLOR applies EXIF orientation: so must we
        path = folder / "rotated.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(rgb).save(path, quality=90, exif=exif)
    elif kind == "progressive_odd_jpeg":  # odd size: chroma upsampling at the edges
        path = folder / "progressive.jpg"
        Image.fromarray(photo_array(151, 101, seed=26)).save(path, quality=85, progressive=True)
    elif kind == "png":
        path = folder / "photo.png"
        Image.fromarray(rgb).save(path)
    else:
        raise ValueError(kind)
    return path


@pytest.mark.parametrize("interpolation", list(FLAGS))
@pytest.mark.parametrize("kind", ["jpeg", "rotated_jpeg", "progressive_odd_jpeg", "png"])
@pytest.mark.parametrize("target", [37, 41, 301], ids=["down-4x", "down-3.7x", "up"])
def test_exact_is_bit_identical_to_cv2_resize(tmp_path, interpolation, kind, target):
    source = make_source(tmp_path, kind)

    result, output = resize_file(
        source,
        tmp_path / "out",
        interpolation=interpolation,
        exact=True,
        sizing=Sizing("size", width=target, height=target),
    )

    decoded = cv2.imread(str(source), cv2.IMREAD_COLOR)
    expected = cv2.resize(
        decoded, (result.width, result.height), interpolation=FLAGS[interpolation]
    )
    expected = cv2.cvtColor(expected, cv2.COLOR_BGR2RGB)
    with Image.open(output) as actual:
        assert actual.mode == "RGB"
        assert np.array_equal(np.asarray(actual), expected)
    if kind == "rotated_jpeg":
        assert result.width < result.height  # upright: the stored landscape became portrait


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    """Big photo-like sources, written once for the module: a JPEG and a PNG."""
    folder = tmp_path_factory.mktemp("photos")
    jpeg, png = folder / "photo.jpg", folder / "photo.png"
    Image.fromarray(photo_array(1000, 750, seed=22)).save(jpeg, quality=95)
    Image.fromarray(photo_array(1200, 800, seed=23)).save(png, compress_level=1)
    return {"jpg": jpeg, "png": png}


@pytest.mark.parametrize("interpolation", list(FLAGS))
@pytest.mark.parametrize(("suffix", "target"), [("jpg", 200), ("png", 150)])
def test_default_path_is_visually_equal_to_pillow_exact(
    tmp_path, photos, interpolation, suffix, target
):
    """Antialiased OpenCV kernels land within PSNR 40 dB / SSIM 0.99 of Pillow's exact resize
    (the antialiased reference), for a ~5x and an 8x downscale."""
    source = photos[suffix]
    sizing = Sizing("size", width=target, height=target)

    _, output = resize_file(source, tmp_path / "cv", interpolation=interpolation, sizing=sizing)
    _, reference = resize_file(
        source,
        tmp_path / "pil",
        backend="pillow",
        exact=True,
        interpolation=interpolation,
        sizing=sizing,
    )

    actual = np.asarray(Image.open(output))
    expected = np.asarray(Image.open(reference))
    assert actual.shape == expected.shape
    assert psnr(actual, expected) >= 40
    assert ssim(actual, expected) >= 0.99


def high_frequency(kind: str, size: int = 400) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    # A 1-pixel checkerboard, or one bright column in every three.
    plane = (x + y) % 2 if kind == "checkerboard" else x % 3 == 0
    return np.dstack([(plane * 255).astype(np.uint8)] * 3)


@pytest.mark.parametrize("pattern", ["checkerboard", "stripes"])
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "lanczos"])
def test_default_downscale_is_antialiased_and_exact_aliases(tmp_path, pattern, interpolation):
    """At ~8x, detail finer than the output grid must average out to flat grey; OpenCV's own
    kernels (--exact) do not widen with the scale and turn it into strong aliasing."""
    source = tmp_path / f"{pattern}.png"
    Image.fromarray(high_frequency(pattern)).save(source)
    sizing = Sizing("size", width=48, height=48)

    _, smooth = resize_file(source, tmp_path / "aa", interpolation=interpolation, sizing=sizing)
    _, aliased = resize_file(
        source, tmp_path / "exact", interpolation=interpolation, exact=True, sizing=sizing
    )

    smooth_pixels = np.asarray(Image.open(smooth)).astype(float)
    aliased_pixels = np.asarray(Image.open(aliased)).astype(float)
    mean = high_frequency(pattern).mean()
    assert smooth_pixels.std() < 6
    assert abs(smooth_pixels.mean() - mean) < 3
    assert aliased_pixels.std() > 40


@pytest.mark.parametrize("interpolation", list(FLAGS))
def test_upscale_uses_the_kernel_itself(interpolation):
    """Upscaling needs no antialiasing: the default path is cv2.resize itself (nearest samples
    pixel centres, as Pillow does)."""
    array = photo_array(40, 30, seed=24)
    actual = OpenCVBackend().resize(array, (97, 71), interpolation, exact=False)
    flag = cv2.INTER_NEAREST_EXACT if interpolation == "nearest" else FLAGS[interpolation]
    assert np.array_equal(actual, cv2.resize(array, (97, 71), interpolation=flag))


def test_nearest_matches_pillow_pixel_centres():
    array = photo_array(150, 100, seed=25)
    actual = OpenCVBackend().resize(array, (31, 23), "nearest", exact=False)
    expected = Image.fromarray(array).resize((31, 23), Image.Resampling.NEAREST)
    assert np.array_equal(actual, np.asarray(expected))
