"""Decoding as users see it: every EXIF orientation gives upright output, in every format that
carries one.

Every test runs a real file through `process_image` and decodes what was written, so a test
fails if the pixels on disk are wrong, whatever the internals did.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from codec_samples import BACKENDS, ORIENTATION, read_unchanged, resize_file, write_png16
from PIL import Image, ImageOps

from resizer.geometry import Sizing

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
