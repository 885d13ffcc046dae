"""Decoding and encoding as users see them: colour modes and profiles (EXIF orientation in
test_codecs_orientation.py, output formats in test_codecs_formats.py).

Every test runs a real file through `process_image` and decodes what was written, so a test
fails if the pixels on disk are wrong, whatever the internals did.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from codec_samples import BACKENDS, read_unchanged, resize_file, write_png16
from conftest import photo_array, psnr
from PIL import Image, ImageCms

from resizer.geometry import Sizing

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def float_resize(array: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    """Reference resize of 16-bit data, each channel in 32-bit float (no 8-bit rounding
    anywhere); with 4 channels, colour is premultiplied by alpha as Pillow does for RGBA."""
    planes = array[..., None] if array.ndim == 2 else array.astype(np.float64)
    if planes.shape[2] == 4:
        planes = planes.copy()
        planes[..., :3] *= planes[..., 3:] / 65535
    channels = [
        np.asarray(Image.fromarray(planes[..., c].astype(np.float32), "F").resize(size, resample))
        for c in range(planes.shape[2])
    ]
    result = np.stack(channels, axis=2)
    if result.shape[2] == 4:  # clip before un-premultiplying, as Pillow's RGBa -> RGBA does
        result = np.clip(result, 0, 65535)
        result[..., :3] *= 65535 / np.maximum(result[..., 3:], 1e-6)
    return result[..., 0] if array.ndim == 2 else result


def smooth16(width: int, height: int, channels: int) -> np.ndarray:
    """Smooth 16-bit gradients whose values are mostly not multiples of 257 (not 8-bit data)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [
        1000 + 63000 * ((x / width) * (0.3 + 0.2 * c) + (y / height) * (0.7 - 0.2 * c))
        for c in range(channels)
    ]
    array = np.stack(planes, axis=2) if channels > 1 else planes[0]
    return np.clip(array, 0, 65535).round().astype(np.uint16)


# --- colour modes ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_grayscale_stays_one_channel(tmp_path, backend, suffix):
    source = tmp_path / f"grey.{suffix}"
    grey = photo_array(120, 90, seed=4, channels=1)
    Image.fromarray(grey, "L").save(source)
    fmt = "jpeg" if suffix == "jpg" else "png"

    result, output = resize_file(source, tmp_path / "out", fmt, backend=backend)

    with Image.open(output) as image:
        assert image.mode == "L"
        expected = Image.open(source).resize(image.size, Image.Resampling.LANCZOS)
        assert psnr(np.asarray(image), np.asarray(expected)) > 35
    assert result.mode == "L"
    assert cv2.imread(str(output), cv2.IMREAD_UNCHANGED).ndim == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_rgba_keeps_alpha(tmp_path, backend):
    rgba = photo_array(120, 90, seed=5, channels=4)
    rgba[..., 3] = np.linspace(0, 255, 120, dtype=np.uint8)[None, :]
    source = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(source)

    _, output = resize_file(source, tmp_path / "out", "png", backend=backend)

    with Image.open(output) as image:
        assert image.mode == "RGBA"
        alpha = np.asarray(image.getchannel("A")).astype(int)
    expected = np.linspace(0, 255, 64)
    assert np.abs(alpha - expected[None, :]).max() <= 6  # the horizontal alpha ramp survives


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "lanczos", "area"])
def test_alpha_resized_premultiplied_no_fringe(tmp_path, backend, interpolation):
    """Invisible pixels' colour (bright green) must not bleed into visible ones (red)."""
    array = np.zeros((90, 120, 4), dtype=np.uint8)
    array[:, :60] = (0, 255, 0, 0)  # fully transparent, but green underneath
    array[:, 60:] = (255, 0, 0, 255)
    source = tmp_path / "fringe.png"
    Image.fromarray(array, "RGBA").save(source)

    _, output = resize_file(
        source,
        tmp_path / "out",
        "png",
        backend=backend,
        interpolation=interpolation,
        sizing=Sizing("size", width=37, height=37),
    )

    pixels = np.asarray(Image.open(output)).astype(int)
    visible = pixels[..., 3] > 0
    assert visible.any() and (~visible).any()
    assert pixels[visible][:, 1].max() <= 2  # no green fringe
    assert pixels[visible][:, 0].min() >= 250  # visible pixels keep their red


@pytest.mark.parametrize("backend", BACKENDS)
def test_la_is_kept(tmp_path, backend):
    grey = photo_array(120, 90, seed=6, channels=1)
    alpha = np.tile(np.linspace(255, 0, 90, dtype=np.uint8)[:, None], (1, 120))
    source = tmp_path / "la.png"
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(source)

    result, output = resize_file(source, tmp_path / "out", "png", backend=backend)

    with Image.open(output) as image:
        assert image.mode == "LA"
        assert image.size == (64, 48)
        alpha_out = np.asarray(image.getchannel("A")).astype(int)
    assert np.abs(alpha_out[:, 0] - np.linspace(255, 0, 48)).max() <= 8
    assert result.mode == "LA"


@pytest.mark.parametrize("backend", BACKENDS)
def test_16bit_grayscale_png_stays_16bit(tmp_path, backend):
    deep = smooth16(160, 120, channels=1)
    source = tmp_path / "deep.png"
    Image.fromarray(deep).save(source)
    assert Image.open(source).mode == "I;16"

    result, output = resize_file(source, tmp_path / "out", "png", backend=backend)

    with Image.open(output) as image:
        assert image.mode == "I;16"
        array = np.asarray(image, dtype=np.uint16)
    expected = float_resize(deep, (64, 48), Image.Resampling.LANCZOS)
    assert np.abs(array.astype(float) - expected).max() <= 40  # far below an 8-bit step (257)
    assert np.mean(array % 257 != 0) > 0.9  # not 8-bit data scaled up
    assert result.mode == "I;16"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_png_stays_16bit(tmp_path, backend, channels):
    """Pillow would read these as 8-bit; the output must keep all 16 bits."""
    deep = smooth16(160, 120, channels=channels)
    if channels == 4:  # a smooth alpha ramp, from a quarter to fully opaque
        deep[..., 3] = np.linspace(16384, 65535, 160).round().astype(np.uint16)[None, :]
    source = write_png16(tmp_path / "deep.png", deep)

    result, output = resize_file(source, tmp_path / "out", "png", backend=backend)

    array = read_unchanged(output)
    assert array.dtype == np.uint16
    assert array.shape == (48, 64, channels)
    expected = float_resize(deep, (64, 48), Image.Resampling.LANCZOS)
    inner = (slice(2, -2), slice(2, -2))  # edges differ between kernels' border rules
    assert np.abs(array[inner].astype(float) - expected[inner]).max() <= 60
    assert np.mean(array[..., :3] % 257 != 0) > 0.9
    assert result.mode == result.src_mode == ("RGB;16" if channels == 3 else "RGBA;16")


@pytest.mark.parametrize("backend", BACKENDS)
def test_16bit_alpha_resized_premultiplied_no_fringe(tmp_path, backend):
    deep = np.zeros((90, 120, 4), dtype=np.uint16)
    deep[:, :60] = (0, 65535, 0, 0)  # fully transparent, but green underneath
    deep[:, 60:] = (65535, 0, 0, 65535)
    source = write_png16(tmp_path / "fringe.png", deep)

    _, output = resize_file(
        source, tmp_path / "out", "png", backend=backend, sizing=Sizing("size", width=37)
    )

    raw = read_unchanged(output)
    assert raw.dtype == np.uint16 and raw.shape == (28, 37, 4)
    pixels = raw.astype(int)
    visible = pixels[..., 3] > 0
    assert visible.any() and (~visible).any()
    assert pixels[visible][:, 1].max() <= 2 * 257
    assert pixels[visible][:, 0].min() >= 65535 - 5 * 257


@pytest.mark.parametrize("backend", BACKENDS)
def test_palette_with_transparency_becomes_rgba(tmp_path, backend):
    array = np.zeros((90, 120), dtype=np.uint8)
    array[:, 60:] = 1
    image = Image.fromarray(array, "P")
    image.putpalette([0, 255, 0, 200, 40, 10] + [0] * 762)
    source = tmp_path / "palette.png"
    image.save(source, transparency=0)

    result, output = resize_file(source, tmp_path / "out", "png", backend=backend)

    with Image.open(output) as image:
        assert image.mode == "RGBA"
        pixels = np.asarray(image).astype(int)
    assert (pixels[:, :28, 3] == 0).all()  # the transparent index stays transparent
    assert (pixels[:, 36:] == (200, 40, 10, 255)).all()
    assert result.mode == "RGBA"


@pytest.mark.parametrize("backend", BACKENDS)
def test_palette_is_interpolated_not_nearest(tmp_path, backend):
    """A palette image is resized in RGB: 1-pixel black/white stripes average to grey, where
    Pillow's own resize of a palette image (always nearest) keeps pure black and white."""
    array = (np.indices((90, 120))[1] % 2).astype(np.uint8)
    image = Image.fromarray(array, "P")
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    source = tmp_path / "stripes.png"
    image.save(source)

    _, output = resize_file(
        source, tmp_path / "out", "png", backend=backend, sizing=Sizing("size", width=30)
    )

    with Image.open(output) as image:
        assert image.mode == "RGB"
        assert image.size == (30, 23)
        values = np.asarray(image)[..., 0].astype(int)
    assert np.abs(values[:, 2:-2] - 128).max() <= 8  # nearest would give pure 0/255


@pytest.mark.parametrize("backend", BACKENDS)
def test_bilevel_becomes_grayscale(tmp_path, backend):
    array = np.zeros((90, 120), dtype=bool)
    array[:, ::2] = True
    source = tmp_path / "bilevel.png"
    Image.fromarray(array).convert("1").save(source)
    assert Image.open(source).mode == "1"

    _, output = resize_file(
        source, tmp_path / "out", "png", backend=backend, sizing=Sizing("size", width=30)
    )

    with Image.open(output) as image:
        assert image.mode == "L"
        values = np.asarray(image).astype(int)
    assert np.abs(values[:, 2:-2] - 128).max() <= 8  # 1-pixel stripes average to grey


@pytest.mark.parametrize("backend", BACKENDS)
def test_cmyk_jpeg_gives_right_rgb(tmp_path, backend):
    rgb = photo_array(120, 90, seed=7)
    source = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(source, quality=95)
    assert Image.open(source).mode == "CMYK"

    result, output = resize_file(source, tmp_path / "out", "png", backend=backend)

    with Image.open(output) as image:
        assert image.mode == "RGB"
        actual = np.asarray(image)
    reference = Image.open(source).convert("RGB").resize((64, 48), Image.Resampling.LANCZOS)
    assert psnr(actual, np.asarray(reference)) > 38
    assert psnr(actual, np.asarray(Image.fromarray(rgb).resize((64, 48)))) > 30
    assert result.src_mode == "CMYK"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "tiff"])
def test_icc_profile_is_carried(tmp_path, backend, fmt):
    source = tmp_path / "profiled.png"
    Image.fromarray(photo_array(120, 90, seed=8)).save(source, icc_profile=SRGB)

    _, output = resize_file(source, tmp_path / "out", fmt, backend=backend)

    with Image.open(output) as image:
        assert image.info.get("icc_profile") == SRGB


@pytest.mark.parametrize("backend", BACKENDS)
def test_icc_profile_is_carried_into_16bit_png(tmp_path, backend):
    """OpenCV writes 16-bit colour and drops profiles: the profile is put back by hand."""
    source = write_png16(tmp_path / "deep.png", smooth16(120, 90, channels=3), icc=SRGB)
    assert Image.open(source).info.get("icc_profile") == SRGB

    _, output = resize_file(source, tmp_path / "out", "png", backend=backend)

    with Image.open(output) as image:
        assert image.info.get("icc_profile") == SRGB
        image.load()  # the inserted chunk leaves a valid PNG
    assert read_unchanged(output).dtype == np.uint16
