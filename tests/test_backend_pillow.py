"""Pillow backend: `--exact` is bit-identical to Pillow's own one-call resize, and the default
(faster) path stays visually equal to it for every kernel."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import conftest
import numpy as np
import pytest
from conftest import photo_array, psnr, ssim
from PIL import Image, ImageOps

from resizer.geometry import Sizing

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "area": Image.Resampling.BOX,
}


# Every test here runs on the pillow backend unless it names another (a reference).
resize_file = partial(conftest.resize_file, backend="pillow")


def make_source(folder: Path, kind: str) -> Path:
    """Small test inputs of every colour mode the reference call has to handle."""
    rgb = photo_array(150, 100, seed=11)
    if kind == "rgb_png":
        path = folder / "rgb.png"
        Image.fromarray(rgb).save(path)
    elif kind == "rgb_jpeg":
        path = folder / "rgb.jpg"
        Image.fromarray(rgb).save(path, quality=90)
    elif kind == "rotated_jpeg":
        path = folder / "rotated.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(rgb).save(path, quality=90, exif=exif)
    elif kind == "grey_png":
        path = folder / "grey.png"
        Image.fromarray(rgb).convert("L").save(path)
    elif kind == "rgba_png":
        path = folder / "rgba.png"
        alpha = np.tile(np.linspace(0, 255, 150).astype(np.uint8), (100, 1))
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    elif kind == "palette_png":
        path = folder / "palette.png"
        Image.fromarray(rgb).quantize(64).save(path)
    elif kind == "palette_transparent_png":
        path = folder / "palette_transparent.png"
        Image.fromarray(rgb).quantize(64).save(path, transparency=3)
    elif kind == "bilevel_png":
        path = folder / "bilevel.png"
        Image.fromarray(rgb).convert("1").save(path)
    else:
        raise ValueError(kind)
    return path


def pillow_reference(path: Path, size: tuple[int, int], interpolation: str) -> Image.Image:
    """The one-call resize a user would write, with P/PA/1 converted first."""
    image = ImageOps.exif_transpose(Image.open(path))
    if image.mode == "P":
        has_alpha = "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif image.mode == "PA":
        image = image.convert("RGBA")
    elif image.mode == "1":
        image = image.convert("L")
    return image.resize(size, FILTERS[interpolation])


KINDS = [
    "rgb_png",
    "rgb_jpeg",
    "rotated_jpeg",
    "grey_png",
    "rgba_png",
    "palette_png",
    "palette_transparent_png",
    "bilevel_png",
]


@pytest.mark.parametrize("interpolation", list(FILTERS))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("target", [47, 301], ids=["down", "up"])
def test_exact_is_bit_identical_to_pillow_resize(tmp_path, interpolation, kind, target):
    source = make_source(tmp_path, kind)

    result, output = resize_file(
        source,
        tmp_path / "out",
        interpolation=interpolation,
        exact=True,
        sizing=Sizing("size", width=target, height=target),
    )

    expected = pillow_reference(source, (result.width, result.height), interpolation)
    with Image.open(output) as actual:
        assert actual.mode == expected.mode
        assert actual.size == expected.size
        assert np.array_equal(np.asarray(actual), np.asarray(expected))
    assert result.decode_scale is None  # no shrink-on-load under --exact


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    """Big photo-like sources, written once for the module: a JPEG and a PNG."""
    folder = tmp_path_factory.mktemp("photos")
    jpeg, png = folder / "photo.jpg", folder / "photo.png"
    Image.fromarray(photo_array(1000, 750, seed=12)).save(jpeg, quality=95)
    Image.fromarray(photo_array(1200, 800, seed=13)).save(png, compress_level=1)
    return {"jpg": jpeg, "png": png}


@pytest.mark.parametrize("interpolation", list(FILTERS))
@pytest.mark.parametrize(
    ("suffix", "size", "target", "decode_scale"),
    [("jpg", (1000, 750), 160, 2), ("png", (1200, 800), 150, None)],
    ids=["jpeg-shrink-on-load", "png-reducing-gap"],
)
def test_default_path_is_visually_equal_to_exact(
    tmp_path, photos, interpolation, suffix, size, target, decode_scale
):
    """The fast paths (DCT-scaled decode, box pre-reduction) stay within PSNR 40 dB and
    SSIM 0.99 of the exact resize, for every kernel."""
    source = photos[suffix]
    sizing = Sizing("size", width=target, height=target)
    options = {"interpolation": interpolation, "sizing": sizing}

    fast, fast_output = resize_file(source, tmp_path / "fast", **options)
    _, exact_output = resize_file(source, tmp_path / "exact", exact=True, **options)

    actual = np.asarray(Image.open(fast_output))
    expected = np.asarray(Image.open(exact_output))
    assert actual.shape == expected.shape == (target * size[1] // size[0], target, 3)
    assert psnr(actual, expected) >= 40
    assert ssim(actual, expected) >= 0.99
    if interpolation != "nearest":  # nearest must see the source's own pixels
        assert fast.decode_scale == decode_scale


def test_nearest_keeps_source_values_even_from_a_big_jpeg(tmp_path):
    """Shrink-on-load would average pixels: nearest output holds only decoded source values."""
    source = tmp_path / "labels.jpg"
    blocks = np.kron(np.arange(48, dtype=np.uint8).reshape(6, 8) * 5, np.ones((125, 125)))
    Image.fromarray(blocks.astype(np.uint8)).save(source, quality=100)

    result, output = resize_file(
        source, tmp_path / "out", interpolation="nearest", sizing=Sizing("size", width=100)
    )

    decoded = np.asarray(Image.open(source))
    values = np.unique(np.asarray(Image.open(output)))
    assert set(values.tolist()) <= set(np.unique(decoded).tolist())
    assert result.decode_scale is None


def test_16bit_grey_is_resized_with_the_asked_kernel(tmp_path):
    """I;16 cannot use Pillow's reducing_gap: it goes through plain resize, still correct."""
    ramp = np.tile(np.linspace(1000, 64000, 400), (300, 1)).round().astype(np.uint16)
    source = tmp_path / "deep.png"
    Image.fromarray(ramp).save(source)

    _, output = resize_file(source, tmp_path / "out", sizing=Sizing("size", width=50))

    with Image.open(output) as image:
        assert image.mode == "I;16"
        actual = np.asarray(image, dtype=np.float64)
    expected = np.tile(np.linspace(1000, 64000, 400).reshape(50, 8).mean(axis=1), (38, 1))
    assert np.abs(actual[:, 3:-3] - expected[:, 3:-3]).max() <= 2
