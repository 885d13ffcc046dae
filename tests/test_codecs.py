"""Decoding and encoding as users see them: upright output, colour modes, profiles, formats.

Every test runs a real file through `process_image` and decodes what was written, so a test
fails if the pixels on disk are wrong, whatever the internals did.
"""

from __future__ import annotations

import struct
import zlib
from functools import partial
from pathlib import Path

import conftest
import cv2
import numpy as np
import pytest
from conftest import photo_array, psnr
from PIL import Image, ImageCms, ImageOps

from resizer.geometry import Sizing

BACKENDS = ("pillow", "opencv")
ORIENTATION = 0x0112
# Upright quadrant colours, top-left, top-right, bottom-left, bottom-right: any wrong rotation or
# flip of the 8 possible puts a different colour in some corner.
QUADRANTS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255))
# The transpose that turns upright pixels into the pixels stored under each EXIF orientation
# (the inverse of what a viewer applies).
STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# A small fixed target unless a test asks for another sizing.
resize_file = partial(conftest.resize_file, sizing=Sizing("size", width=64, height=64))


def quadrant_array(width: int, height: int, peak: int = 255, dtype=np.uint8) -> np.ndarray:
    array = np.zeros((height, width, 3), dtype=dtype)
    half_w, half_h = width // 2, height // 2
    corners = ((slice(0, half_h), slice(0, half_w)), (slice(0, half_h), slice(half_w, None)))
    corners += ((slice(half_h, None), slice(0, half_w)), (slice(half_h, None), slice(half_w, None)))
    for (rows, cols), colour in zip(corners, QUADRANTS, strict=True):
        array[rows, cols] = [value * peak // 255 for value in colour]
    return array


def quadrant_colours(array: np.ndarray) -> list[tuple[int, ...]]:
    """The colour at the centre of each quadrant, in QUADRANTS order."""
    height, width = array.shape[:2]
    points = [(height // 4, width // 4), (height // 4, 3 * width // 4)]
    points += [(3 * height // 4, width // 4), (3 * height // 4, 3 * width // 4)]
    return [tuple(int(v) for v in array[y, x][:3]) for y, x in points]


def assert_upright(array: np.ndarray, peak: int = 255, tolerance: int = 40) -> None:
    for found, expected in zip(quadrant_colours(array), QUADRANTS, strict=True):
        expected = tuple(value * peak // 255 for value in expected)
        assert np.abs(np.subtract(found, expected)).max() <= tolerance * peak // 255, (
            quadrant_colours(array)
        )


def save_oriented_jpeg(path: Path, width: int, height: int, orientation: int) -> Path:
    """A JPEG whose stored pixels need the orientation tag to look like the upright pattern."""
    upright = Image.fromarray(quadrant_array(width, height))
    stored = upright if STORED[orientation] is None else upright.transpose(STORED[orientation])
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    stored.save(path, quality=95, subsampling=0, exif=exif)
    # The file itself is right: Pillow's reference transpose shows the upright pattern.
    with Image.open(path) as image:
        assert_upright(np.asarray(ImageOps.exif_transpose(image)))
    return path


def png_with_chunk(png: bytes, kind: bytes, payload: bytes) -> bytes:
    """Insert a chunk right after IHDR (where iCCP and eXIf may go)."""
    chunk = struct.pack(">I", len(payload)) + kind + payload
    chunk += struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    return png[:33] + chunk + png[33:]


def write_png16(path: Path, rgb: np.ndarray, icc: bytes | None = None, orientation: int = 1):
    """A 16-bit colour PNG (OpenCV writes it; Pillow cannot), optionally with iCCP / eXIf."""
    order = cv2.COLOR_RGBA2BGRA if rgb.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, order))
    assert ok
    data = data.tobytes()
    if icc is not None:
        data = png_with_chunk(data, b"iCCP", b"icc\x00\x00" + zlib.compress(icc))
    if orientation != 1:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        data = png_with_chunk(data, b"eXIf", exif.tobytes()[6:])  # without "Exif\0\0"
    path.write_bytes(data)
    return path


def write_tiff(path: Path, rgb: np.ndarray, orientation: int) -> Path:
    """An uncompressed 8- or 16-bit RGB TIFF with an Orientation tag, written by hand (Pillow
    writes no 16-bit colour TIFF, OpenCV no Orientation tag)."""
    height, width, _ = rgb.shape
    bits = 8 * rgb.dtype.itemsize
    pixels = rgb.astype(f"<u{rgb.dtype.itemsize}").tobytes()
    tags = [  # (tag, type, count, value): type 3 = SHORT, 4 = LONG
        (256, 3, 1, width),
        (257, 3, 1, height),
        (258, 3, 3, None),  # BitsPerSample, 3 values: stored after the IFD
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (273, 4, 1, None),  # StripOffsets: the pixels follow
        (274, 3, 1, orientation),
        (277, 3, 1, 3),
        (278, 3, 1, height),
        (279, 4, 1, len(pixels)),
        (284, 3, 1, 1),
    ]
    bits_at = 8 + 2 + 12 * len(tags) + 4
    pixels_at = bits_at + 6
    ifd = struct.pack("<H", len(tags))
    for tag, kind, count, value in tags:
        value = {258: bits_at, 273: pixels_at}.get(tag, value)
        inline = (
            struct.pack("<I", value) if kind == 4 or count > 1 else struct.pack("<HH", value, 0)
        )
        ifd += struct.pack("<HHI", tag, kind, count) + inline
    data = b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)
    path.write_bytes(data + struct.pack("<3H", bits, bits, bits) + pixels)
    return path


def read_unchanged(path: Path) -> np.ndarray:
    """Output pixels exactly as stored, colour in RGB(A) order."""
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert array is not None
    if array.ndim == 3:
        order = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
        array = cv2.cvtColor(array, order)
    return array


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


# --- EXIF orientation ----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_output_without_tag(tmp_path, backend, orientation):
    """Each of the 8 orientations comes out upright, landscape stays landscape, tag gone."""
    source = save_oriented_jpeg(tmp_path / "photo.jpg", 160, 96, orientation)
    result, output = resize_file(source, tmp_path / "out", "jpeg", backend=backend)

    with Image.open(output) as image:
        assert image.size == (64, 38)
        assert image.getexif().get(ORIENTATION) in (None, 1)
        assert_upright(np.asarray(image.convert("RGB")))
    assert result.orientation == orientation
    assert (result.src_width, result.src_height) == (160, 96)
    assert (result.width, result.height) == (64, 38)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_with_shrink_on_load(tmp_path, backend, orientation):
    """A big JPEG decoded at 1/4 scale is still upright: the DCT scale is chosen in stored
    orientation, so portrait-stored files (5-8) shrink exactly as much as the others."""
    source = save_oriented_jpeg(tmp_path / "big.jpg", 1600, 1200, orientation)
    result, output = resize_file(
        source, tmp_path / "out", "png", backend=backend, sizing=Sizing("longer", length=100)
    )

    assert result.decode_scale == 4  # 1600x1200 -> 400x300, still 3x the 100x75 target
    array = np.asarray(Image.open(output))
    assert array.shape == (75, 100, 3)
    assert_upright(array)


@pytest.mark.parametrize("backend", BACKENDS)
def test_orientation_of_8bit_png(tmp_path, backend):
    upright = Image.fromarray(quadrant_array(120, 80))
    exif = Image.Exif()
    exif[ORIENTATION] = 8
    source = tmp_path / "tagged.png"
    upright.transpose(STORED[8]).save(source, exif=exif)

    result, output = resize_file(source, tmp_path / "out", "png", backend=backend)

    with Image.open(output) as image:
        assert image.size == (64, 43)
        assert image.getexif().get(ORIENTATION) in (None, 1)
        assert_upright(np.asarray(image), tolerance=0)
    assert result.orientation == 8


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_of_16bit_png(tmp_path, backend, orientation):
    """16-bit colour is decoded by OpenCV, which ignores the tag: we must still apply it."""
    upright = quadrant_array(120, 80, peak=65535, dtype=np.uint16)
    stored = upright if STORED[orientation] is None else transpose_planes(upright, orientation)
    source = write_png16(tmp_path / "deep.png", stored, orientation=orientation)

    result, output = resize_file(source, tmp_path / "out", "png", backend=backend)

    array = read_unchanged(output)
    assert array.dtype == np.uint16
    assert array.shape == (43, 64, 3)
    assert_upright(array, peak=65535, tolerance=0)
    assert Image.open(output).getexif().get(ORIENTATION) in (None, 1)
    assert result.orientation == orientation


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("deep", [False, True], ids=["8bit", "16bit"])
def test_orientation_of_tiff(tmp_path, backend, orientation, deep):
    """Pillow's TIFF reader applies the tag as it loads, and OpenCV's (used for 16-bit colour)
    may too: it must be applied exactly once, and the manifest size must be the upright one."""
    peak = 65535 if deep else 255
    upright = quadrant_array(120, 80, peak=peak, dtype=np.uint16 if deep else np.uint8)
    stored = upright if STORED[orientation] is None else transpose_planes(upright, orientation)
    source = write_tiff(tmp_path / "tagged.tif", stored, orientation)

    result, output = resize_file(source, tmp_path / "out", "tiff", backend=backend)

    array = read_unchanged(output)
    assert array.dtype == (np.uint16 if deep else np.uint8)
    assert array.shape == (43, 64, 3)
    assert_upright(array, peak=peak, tolerance=0)
    assert Image.open(output).getexif().get(ORIENTATION) in (None, 1)
    assert result.orientation == orientation
    assert (result.src_width, result.src_height) == (120, 80)


def transpose_planes(array: np.ndarray, orientation: int) -> np.ndarray:
    """Pillow's transposes applied to any colour array, one channel at a time (8-bit colour
    could go whole, but 16-bit colour only as I;16 planes)."""
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(array[..., c])).transpose(STORED[orientation]),
            dtype=array.dtype,
        )
        for c in range(array.shape[2])
    ]
    return np.stack(planes, axis=2)


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


# --- output formats -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("pad_color", "expected"), [(None, (0, 0, 0)), ((255, 128, 0), None)])
def test_jpeg_output_of_rgba_is_flattened_onto_pad_colour(tmp_path, backend, pad_color, expected):
    array = np.zeros((90, 120, 4), dtype=np.uint8)
    array[:, 60:] = (20, 40, 220, 255)  # opaque blue right half, transparent left half
    source = tmp_path / "alpha.png"
    Image.fromarray(array, "RGBA").save(source)

    _, output = resize_file(source, tmp_path / "out", "jpeg", backend=backend, pad_color=pad_color)

    with Image.open(output) as image:
        assert image.format == "JPEG"
        assert image.mode == "RGB"
        pixels = np.asarray(image).astype(int)
    background = expected if expected is not None else pad_color
    assert np.abs(pixels[5:-5, 3:25] - background).max() <= 6
    assert np.abs(pixels[5:-5, 40:-3] - (20, 40, 220)).max() <= 12


@pytest.mark.parametrize("fmt", ["png", "webp", "tiff", "jpeg"])
def test_format_conversion_round_trips(tmp_path, fmt):
    source = tmp_path / "photo.png"
    Image.fromarray(photo_array(160, 120, seed=9)).save(source)

    result, output = resize_file(source, tmp_path / "out", fmt)

    expected = np.asarray(Image.open(source).resize((64, 48), Image.Resampling.LANCZOS))
    with Image.open(output) as image:
        assert image.format == {"png": "PNG", "webp": "WEBP", "tiff": "TIFF", "jpeg": "JPEG"}[fmt]
        actual = np.asarray(image.convert("RGB"))
    if fmt in ("png", "tiff"):
        assert np.array_equal(actual, expected)  # lossless
    else:
        assert psnr(actual, expected) > 30
    assert result.format == fmt
    assert result.bytes == output.stat().st_size


def test_format_keep_keeps_every_format(tmp_path, run_cli):
    """--format keep writes each image in its own format under its own name: BMP stays BMP and
    GIF stays GIF (they used to become PNG)."""
    src = tmp_path / "src"
    src.mkdir()
    rgb = Image.fromarray(photo_array(80, 60, seed=10))
    for name in ("a.jpg", "b.png", "c.webp", "d.tif", "e.bmp"):
        rgb.save(src / name)
    rgb.convert("P").save(src / "f.gif")
    out = tmp_path / "out"

    outcome = run_cli("resize", src, "-o", out, "--size", "40x40", "--jobs", "1")

    assert outcome.exit_code == 0, outcome.output
    images = [path for path in out.iterdir() if not path.name.startswith(("manifest", "."))]
    formats = {path.name: Image.open(path).format for path in images}
    assert formats == {
        "a.jpg": "JPEG",
        "b.png": "PNG",
        "c.webp": "WEBP",
        "d.tif": "TIFF",
        "e.bmp": "BMP",
        "f.gif": "GIF",
    }
    records = {record["source"]: record for record in conftest.read_records(out / "manifest.jsonl")}
    assert records["e.bmp"]["format"] == "bmp" and records["e.bmp"]["mode"] == "RGB"
    assert records["f.gif"]["format"] == "gif" and records["f.gif"]["mode"] == "P"
    with Image.open(out / "e.bmp") as image:
        expected = rgb.resize((40, 30), Image.Resampling.LANCZOS)
        assert np.array_equal(np.asarray(image), np.asarray(expected))  # BMP is lossless
