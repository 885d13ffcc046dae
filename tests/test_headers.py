"""Header facts without decoding (resizer/headers): the same as resize sees, and cheap.

Each generated file is read by scan's header reader and by resize's own probe (Pillow), and the
format, mode, upright size and orientation must agree; alpha, ICC and animation must agree with
what Pillow reports. Broken files must come out unreadable or suspect with a reason, and the
reader must neither decode pixels nor read image data it does not need.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import photo_array, png_chunk
from PIL import Image, ImageCms, ImageFile

from resizer import codecs
from resizer.headers import files as header_files
from resizer.headers import read_header

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation: int) -> Image.Exif:
    block = Image.Exif()
    block[0x0112] = orientation
    return block


def _photo(mode: str = "RGB", size=(48, 32), seed: int = 0) -> Image.Image:
    image = Image.fromarray(photo_array(*size, seed=seed))
    if mode == "RGBA":
        alpha = Image.linear_gradient("L").resize(size)
        image.putalpha(alpha)
        return image
    return image.convert(mode)


def _save(path: Path, image: Image.Image, **options) -> None:
    image.save(path, **options)


def _cv2_16bit(path: Path, channels: int) -> None:
    array = (np.arange(48 * 32 * channels, dtype=np.uint32) * 37 % 65536).astype(np.uint16)
    cv2.imwrite(str(path), array.reshape(32, 48, channels))


def _frames(path: Path, fmt: str, **options) -> None:
    first, second = _photo(seed=1), _photo(seed=2)
    first.save(path, fmt, save_all=True, append_images=[second], **options)


CASES = {
    "rgb.jpg": lambda p: _save(p, _photo()),
    "grey.jpg": lambda p: _save(p, _photo("L")),
    "cmyk.jpg": lambda p: _save(p, _photo("CMYK")),
    "progressive_icc.jpg": lambda p: _save(p, _photo(), progressive=True, icc_profile=SRGB),
    "rotated.jpg": lambda p: _save(p, _photo(), exif=_exif(6)),
    "mirrored.jpg": lambda p: _save(p, _photo(), exif=_exif(5)),
    "stereo.mpo": lambda p: _frames(p, "MPO"),
    "one_bit.png": lambda p: _save(p, _photo("1")),
    "grey.png": lambda p: _save(p, _photo("L")),
    "grey4.png": lambda p: _save(p, _photo("L"), bits=4),
    "palette.png": lambda p: _save(p, _photo("P")),
    "palette_alpha.png": lambda p: _save(p, _photo("P"), transparency=3),
    "rgb_icc.png": lambda p: _save(p, _photo(), icc_profile=SRGB),
    "rgba.png": lambda p: _save(p, _photo("RGBA")),
    "grey_alpha.png": lambda p: _save(p, _photo("RGBA").convert("LA")),
    "grey16.png": lambda p: _save(p, _photo("L").convert("I;16")),
    "rgb16.png": lambda p: _cv2_16bit(p, 3),
    "rgba16.png": lambda p: _cv2_16bit(p, 4),
    "rotated.png": lambda p: _save(p, _photo(), exif=_exif(8)),
    "animated.png": lambda p: _frames(p, "PNG"),
    "lossy.webp": lambda p: _save(p, _photo()),
    "lossless.webp": lambda p: _save(p, _photo(), lossless=True),
    "alpha.webp": lambda p: _save(p, _photo("RGBA")),
    "alpha_lossless.webp": lambda p: _save(p, _photo("RGBA"), lossless=True),
    "rotated_icc.webp": lambda p: _save(p, _photo(), exif=_exif(6), icc_profile=SRGB),
    "animated.webp": lambda p: _frames(p, "WEBP"),
    "rgb.tif": lambda p: _save(p, _photo()),
    "rotated.tif": lambda p: _save(p, _photo(), exif=_exif(6)),
    "grey16.tif": lambda p: _save(p, _photo("L").convert("I;16")),
    "rgb16.tif": lambda p: _cv2_16bit(p, 3),
    "pages.tif": lambda p: _frames(p, "TIFF"),
    "rgb.bmp": lambda p: _save(p, _photo()),
    "palette.bmp": lambda p: _save(p, _photo("P")),
    "rgba.bmp": lambda p: _save(p, _photo("RGBA")),
    "palette.gif": lambda p: _save(p, _photo("P")),
    "transparent.gif": lambda p: _save(p, _photo("P"), transparency=_photo("P").getpixel((0, 0))),
    "animated.gif": lambda p: _frames(p, "GIF"),
}


def pillow_sees(path: Path) -> dict:
    """What resize's probe and Pillow report, in the header reader's terms."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        header = codecs.probe(path, None)
        image = header.image
        facts = {
            "format": header.format,
            "mode": header.mode,
            "size": header.upright_size,
            "orientation": header.orientation,
            "alpha": header.mode.startswith(("RGBA", "LA", "PA")) or "transparency" in image.info,
            "icc": bool(image.info.get("icc_profile")),
            "frames": header.frames,
        }
        image.close()
    return facts


def scan_sees(path: Path) -> dict:
    info = read_header(str(path))
    assert info.status == "ok", info.error
    return {
        "format": info.format,
        "mode": info.mode,
        "size": (info.width, info.height),
        "orientation": info.orientation,
        "alpha": info.alpha,
        "icc": info.icc,
        "frames": info.frames,
    }


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("headers")
    made = {}
    for name, make in CASES.items():
        made[name] = folder / name
        make(made[name])
    return made


@pytest.mark.parametrize("name", sorted(CASES))
def test_header_facts_are_what_pillow_and_resize_see(images, name):
    assert scan_sees(images[name]) == pillow_sees(images[name])


def test_the_cases_cover_what_they_claim(images):
    """Guards the table above: each special case really has its special property."""
    seen = {name: scan_sees(path) for name, path in images.items()}
    assert seen["rotated.jpg"]["orientation"] == 6 and seen["rotated.jpg"]["size"] == (32, 48)
    assert seen["rotated.tif"]["orientation"] == 6 and seen["rotated.tif"]["size"] == (32, 48)
    assert seen["rotated_icc.webp"]["icc"] and seen["progressive_icc.jpg"]["icc"]
    assert seen["stereo.mpo"]["format"] == "MPO"
    for name in ("animated.png", "animated.webp", "animated.gif", "pages.tif", "stereo.mpo"):
        assert seen[name]["frames"] == 2, name
    for name in ("alpha.webp", "alpha_lossless.webp", "palette_alpha.png", "transparent.gif"):
        assert seen[name]["alpha"], name
    assert seen["rgb16.png"]["mode"] == "RGB;16" and seen["rgb16.tif"]["mode"] == "RGB;16"


@pytest.mark.parametrize(
    ("name", "bits"),
    [("rgb.jpg", 8), ("one_bit.png", 1), ("grey4.png", 4), ("grey16.png", 16), ("rgb16.png", 16),
     ("rgba16.png", 16), ("grey16.tif", 16), ("rgb16.tif", 16), ("palette.gif", 8)],
)  # fmt: skip
def test_bit_depth_as_stored(images, name, bits):
    assert read_header(str(images[name])).bits == bits


# --- broken files -------------------------------------------------------------------------------


def _jpeg_bytes(**options) -> bytes:
    buffer = io.BytesIO()
    _photo(size=(480, 320)).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _png_bytes(image: Image.Image | None = None) -> bytes:
    buffer = io.BytesIO()
    (image or _photo()).save(buffer, "PNG")
    return buffer.getvalue()


def _bytes_of(name: str, make) -> bytes:
    buffer = io.BytesIO()
    make(buffer)
    return buffer.getvalue()


def _twelve_bit_jpeg() -> bytes:
    data = bytearray(_jpeg_bytes())
    frame = data.index(b"\xff\xc0")
    data[frame + 4] = 12  # the precision byte of the frame header
    return bytes(data)


BROKEN = {
    "empty.jpg": (lambda: b"", "unreadable", "empty file"),
    "text.jpg": (lambda: b"just some notes\n", "unreadable", "not an image"),
    "cut_header.jpg": (lambda: _jpeg_bytes()[:100], "unreadable", "truncated JPEG"),
    "no_end.jpg": (lambda: _jpeg_bytes()[:-2], "suspect", "no end-of-image marker"),
    "half.jpg": (lambda: _jpeg_bytes()[: len(_jpeg_bytes()) // 2], "suspect", "end-of-image"),
    "twelve_bit.jpg": (_twelve_bit_jpeg, "unreadable", "12-bit JPEG"),
    "no_iend.png": (lambda: _png_bytes()[:-12], "suspect", "without its IEND"),
    "half.png": (lambda: _png_bytes()[: len(_png_bytes()) // 2], "suspect", "inside its IDAT"),
    "cut_header.png": (lambda: _png_bytes()[:20], "unreadable", "truncated PNG"),
    "bad_crc.png": (
        lambda: _png_bytes()[:29] + b"\x00\x00\x00\x00" + _png_bytes()[33:],
        "unreadable",
        "bad checksum in its IHDR chunk",
    ),
    "half.webp": (
        lambda: _bytes_of("w", lambda b: _photo().save(b, "WEBP"))[:-40],
        "suspect",
        "the WebP says",
    ),
    "half.tif": (
        lambda: _bytes_of("t", lambda b: _photo().save(b, "TIFF"))[:-500],
        "suspect",
        "TIFF image data runs past",
    ),
    "half.bmp": (
        lambda: _bytes_of("b", lambda b: _photo().save(b, "BMP"))[:-500],
        "suspect",
        "BMP image data runs past",
    ),
    "half.gif": (
        lambda: _bytes_of("g", lambda b: _photo("P").save(b, "GIF"))[:-300],
        "suspect",
        "GIF image data runs past",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_are_reported_with_the_reason(tmp_path, name):
    make, status, reason = BROKEN[name]
    path = tmp_path / name
    path.write_bytes(make())
    info = read_header(str(path))
    assert (info.status, info.bytes) == (status, path.stat().st_size)
    assert reason in info.error


@pytest.mark.parametrize("name", ["no_end.jpg", "half.jpg", "half.png", "half.webp", "half.tif"])
def test_suspect_files_are_ones_resize_fails(tmp_path, name):
    """Whether "suspect" is earned: resize's decode of these files fails."""
    make, _, _ = BROKEN[name]
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises((codecs.ImageError, OSError)):
        header = codecs.probe(path, None)
        codecs.decode(header)


def test_data_after_the_end_of_a_jpeg_is_fine(tmp_path):
    """Motion photos append a video after the JPEG: the end marker is found, not at the end."""
    path = tmp_path / "motion.jpg"
    path.write_bytes(_jpeg_bytes(exif=_exif(6)) + b"\x00\x00\x00\x18ftypmp42" + os.urandom(5000))
    info = read_header(str(path))
    assert (info.status, info.orientation) == ("ok", 6)


def test_over_max_pixels_is_unreadable_with_resize_words(tmp_path):
    path = tmp_path / "big.png"
    _photo(size=(100, 50)).save(path)
    assert read_header(str(path), max_pixels=5000).status == "ok"
    info = read_header(str(path), max_pixels=4999)
    assert info.status == "unreadable"
    assert info.error.startswith("decompression bomb: 100x50 = 5000 pixels")


def test_a_fifo_named_like_an_image_is_not_waited_on(tmp_path):
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    info = read_header(str(path))
    assert (info.status, info.error) == ("unreadable", "not a regular file")


def test_missing_file(tmp_path):
    info = read_header(str(tmp_path / "gone.jpg"))
    assert info.status == "unreadable" and info.error.startswith("cannot open")


# --- headers only -------------------------------------------------------------------------------


def test_no_pixel_is_decoded(images, monkeypatch):
    """Every format is read with Pillow's decoders switched off."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)
    for path in images.values():
        assert read_header(str(path)).status == "ok", path.name


def _png_with_garbage_pixels_and_late_exif(orientation: int) -> bytes:
    data = _png_bytes(_photo(size=(64, 48)))
    start = data.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", data[start : start + 4])
    garbage = png_chunk(b"IDAT", os.urandom(length))
    exif_chunk = png_chunk(b"eXIf", _exif(orientation).tobytes())
    return data[:start] + garbage + exif_chunk + data[start + 12 + length :]


def test_png_exif_after_the_image_data_is_found_without_decoding(tmp_path):
    """The image data is noise (a decode fails), yet the orientation after it is read."""
    path = tmp_path / "late.png"
    path.write_bytes(_png_with_garbage_pixels_and_late_exif(6))
    info = read_header(str(path))
    assert (info.status, info.orientation, info.width, info.height) == ("ok", 6, 48, 64)
    with pytest.raises(codecs.ImageError):
        codecs.probe(path, None)  # resize's probe decodes a PNG, and fails on this one


def test_large_files_are_read_only_where_needed(tmp_path, monkeypatch):
    """A 6-megapixel PNG with its eXIf at the end, and a JPEG: kilobytes read, not megabytes."""
    noise = np.random.default_rng(0).integers(0, 256, (2000, 3000, 3), dtype=np.uint8)
    png = tmp_path / "large.png"
    Image.fromarray(noise).save(png, compress_level=0, exif=_exif(3))
    data = png.read_bytes()  # move the eXIf chunk after the image data
    at = data.index(b"eXIf") - 4
    (length,) = struct.unpack(">I", data[at : at + 4])
    chunk = data[at : at + 12 + length]
    png.write_bytes(data[:at] + data[at + 12 + length : -12] + chunk + data[-12:])
    jpeg = tmp_path / "large.jpg"
    Image.fromarray(noise).save(jpeg, quality=95, exif=_exif(8))

    read = []
    real_pread = header_files.os.pread

    def counting_pread(descriptor, length, offset):
        data = real_pread(descriptor, length, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(header_files.os, "pread", counting_pread)
    for path, orientation in ((png, 3), (jpeg, 8)):
        read.clear()
        info = read_header(str(path))
        assert (info.status, info.orientation) == ("ok", orientation)
        assert path.stat().st_size > 5_000_000
        assert sum(read) < 200_000, (path.name, sum(read))


def test_png_chunk_lengths_are_not_trusted(tmp_path):
    """A corrupt length asks for 4 GB: the reader reports a truncated file, it does not try."""
    data = bytearray(_png_bytes())
    at = data.index(b"IDAT") - 4
    data[at : at + 4] = struct.pack(">I", 0xFFFFFFF0)
    path = tmp_path / "huge_length.png"
    path.write_bytes(bytes(data))
    info = read_header(str(path))
    assert info.status == "suspect" and "inside its IDAT chunk" in info.error


def test_zlib_is_used_for_compressed_text(tmp_path):
    """An orientation in ImageMagick's zTXt "Raw profile type exif" (no eXIf chunk)."""
    block = _exif(6).tobytes()
    text = f"\nexif\n{len(block):8d}\n{block.hex()}".encode()
    chunk = png_chunk(b"zTXt", b"Raw profile type exif\x00\x00" + zlib.compress(text))
    data = _png_bytes()
    path = tmp_path / "magick.png"
    path.write_bytes(data[:33] + chunk + data[33:])
    assert read_header(str(path)).orientation == 6 == codecs.probe(path, None).orientation
