"""Encoding as users see it: output formats, conversions between them, and --format keep.

Every test runs a real file through `process_image` and decodes what was written, so a test
fails if the pixels on disk are wrong, whatever the internals did.
"""

from __future__ import annotations

import conftest
import numpy as np
import pytest
from codec_samples import BACKENDS, resize_file
from conftest import photo_array, psnr
from PIL import Image

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
