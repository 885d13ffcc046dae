"""Output formats as users see them: the manifest's `mode` is what a reader gets from the file,
for every format and source mode; GIF and BMP outputs follow their stated rules."""

from __future__ import annotations

import io
from fractions import Fraction
from functools import partial
from pathlib import Path

import conftest
import numpy as np
import pytest
from conftest import photo_array, psnr, read_records
from images import png16_bytes, read_back, tiff_bytes
from PIL import Image

from resizer.geometry import Sizing

FORMATS = ("jpeg", "png", "webp", "tiff", "bmp", "gif")
PIL_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP"}
PIL_NAMES["gif"] = "GIF"
SAME_SIZE = Sizing("scale", factor=Fraction(1))
run_job = partial(conftest.run_job, sizing=Sizing("size", width=20, height=20))


def _save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def source_in_mode(folder: Path, mode: str) -> Path:
    """A 40x30 source whose decoded mode is `mode` (RGBA-opaque: RGBA with every alpha 255)."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = photo_array(40, 30, seed=41)
    alpha = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (30, 1))
    name = mode.replace(";", "").replace("-", "_")
    if mode in ("L", "1", "CMYK"):
        converted = Image.fromarray(rgb).convert(mode)
        return _save(converted, folder / f"{name}.{'jpg' if mode == 'CMYK' else 'png'}")
    if mode in ("RGB", "P"):
        return _save(Image.fromarray(rgb).convert(mode), folder / f"{name}.png")
    if mode == "LA":
        grey = np.asarray(Image.fromarray(rgb).convert("L"))
        return _save(Image.fromarray(np.dstack([grey, alpha]), "LA"), folder / f"{name}.png")
    if mode in ("RGBA", "RGBA-opaque"):
        layer = alpha if mode == "RGBA" else np.full_like(alpha, 255)
        return _save(Image.fromarray(np.dstack([rgb, layer]), "RGBA"), folder / f"{name}.png")
    if mode == "P-transparent":
        paletted = Image.fromarray(rgb).quantize(16)
        return _save(paletted, folder / f"{name}.gif", transparency=0)
    if mode == "I;16":
        deep = rgb[..., 0].astype(np.uint16) * 257 + 3
        return _save(Image.fromarray(deep), folder / f"{name}.png")
    if mode in ("RGB;16", "RGBA;16"):
        deep = np.dstack([rgb, alpha])[..., : 3 if mode == "RGB;16" else 4].astype(np.uint16)
        path = folder / f"{name}.png"
        path.write_bytes(png16_bytes(deep * 257))
        return path
    if mode == "F":
        floats = rgb[..., 1].astype(np.float32) / 255
        path = folder / f"{name}.tif"
        path.write_bytes(tiff_bytes([floats]))
        return path
    raise ValueError(mode)


MODES = ["L", "LA", "RGB", "RGBA", "RGBA-opaque", "P", "P-transparent", "1", "CMYK", "I;16"]
MODES += ["RGB;16", "RGBA;16", "F"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", MODES)
def test_manifest_mode_is_what_the_written_file_holds(tmp_path, fmt, mode):
    """Every format x source mode: the record's `mode` equals the mode read back from the file
    (Pillow's, or RGB;16 / RGBA;16 for 16-bit colour). WebP writes opaque RGBA and grey as RGB,
    BMP keeps no alpha, GIF is a palette."""
    source = source_in_mode(tmp_path / "src", mode)

    result = run_job(source, tmp_path / "out", fmt)

    assert result.status == "ok", result.error
    output = tmp_path / "out" / result.output
    read_mode, pixels = read_back(output)
    assert result.mode == read_mode
    with Image.open(output) as image:
        assert image.format == PIL_NAMES[fmt]
        assert image.size == (20, 15)
    assert pixels.shape[:2] == (15, 20)
    assert result.format == fmt


def rgba_steps() -> np.ndarray:
    """Four vertical bands: alpha 0, 100, 160, 255, each in its own colour."""
    array = np.zeros((30, 40, 4), dtype=np.uint8)
    for band, (colour, alpha) in enumerate(
        [((9, 9, 9), 0), ((200, 0, 0), 100), ((0, 180, 0), 160), ((0, 0, 220), 255)]
    ):
        array[:, band * 10 : band * 10 + 10] = (*colour, alpha)
    return array


def test_gif_output_keeps_transparency_as_gif_transparency(tmp_path):
    """GIF has one transparent palette entry: alpha < 128 becomes it, alpha >= 128 stays
    visible in its own colour (few colours: an exact palette)."""
    source = _save(Image.fromarray(rgba_steps(), "RGBA"), tmp_path / "steps.png")

    result, output = conftest.resize_file(source, tmp_path / "out", "gif", sizing=SAME_SIZE)

    with Image.open(output) as image:
        assert image.format == "GIF" and image.mode == "P"
        assert image.info.get("transparency") is not None
        rgba = np.asarray(image.convert("RGBA"))
    assert (rgba[:, :20, 3] == 0).all()  # alpha 0 and 100
    assert (rgba[:, 20:, 3] == 255).all()  # alpha 160 and 255
    assert (rgba[:, 20:30, :3] == (0, 180, 0)).all()
    assert (rgba[:, 30:, :3] == (0, 0, 220)).all()
    assert result.mode == "P"


def test_gif_output_of_a_photo_is_quantised_close(tmp_path):
    """More than 256 colours: Pillow's median cut, no dithering (measured 39 dB on this photo
    at 128 px)."""
    source = conftest.SAMPLE_IMAGES / "animals" / "chelsea.jpg"

    result, output = conftest.resize_file(
        source, tmp_path / "out", "gif", sizing=Sizing("size", width=128)
    )

    with Image.open(source) as image:
        expected = image.resize(result.resize, Image.Resampling.LANCZOS)
    with Image.open(output) as image:
        assert image.mode == "P" and "transparency" not in image.info
        actual = np.asarray(image.convert("RGB"))
    assert psnr(actual, np.asarray(expected)) > 36


@pytest.mark.parametrize("pad_color", [None, (255, 128, 0)])
def test_bmp_output_of_alpha_is_flattened_onto_the_pad_colour(tmp_path, pad_color):
    """BMP readers ignore a BMP's alpha, so alpha is flattened as for JPEG."""
    source = _save(Image.fromarray(rgba_steps(), "RGBA"), tmp_path / "steps.png")

    result, output = conftest.resize_file(
        source, tmp_path / "out", "bmp", sizing=SAME_SIZE, pad_color=pad_color
    )

    background = np.array(pad_color or (0, 0, 0))
    with Image.open(output) as image:
        assert image.format == "BMP" and image.mode == "RGB"
        rgb = np.asarray(image).astype(int)
    assert (rgb[:, :10] == background).all()
    assert np.abs(rgb[:, 10:20] - (background * 155 + np.array([200, 0, 0]) * 100) / 255).max() < 1
    assert (rgb[:, 30:] == (0, 0, 220)).all()
    assert result.mode == "RGB"


@pytest.mark.parametrize("fmt", ["bmp", "gif"])
def test_format_bmp_and_gif_are_accepted(tmp_path, run_cli, photo_tree, fmt):
    out = tmp_path / "out"

    outcome = run_cli("resize", photo_tree, "-o", out, "--size", "32x32", "--format", fmt)

    assert outcome.exit_code == 0, outcome.output
    records = read_records(out / "manifest.jsonl")
    assert sorted(record["output"] for record in records) == [
        f"cats/a.{fmt}",
        f"cats/b.{fmt}",
        f"dogs/c.{fmt}",
    ]
    for record in records:
        data = (out / record["output"]).read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == PIL_NAMES[fmt]
            assert image.mode == record["mode"] == ("P" if fmt == "gif" else "RGB")
            assert image.size == (record["width"], record["height"])
