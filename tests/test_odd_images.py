"""The odd-image set (tests/odd_images.py) through the one-image pipeline and the CLI: every
layout decodes to the right pixels and mode, says how many frames it had, or fails naming why.

Outputs are PNG at the source's own size, which keeps every sample, so pixels compare exactly.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import psnr, read_records, run_job
from images import read_back
from odd_images import ODD_NAMES, Odd, odd_image, odd_images
from PIL import Image

from resizer.geometry import Sizing

BACKENDS = ("pillow", "opencv")
SAME_SIZE = Sizing("scale", factor=Fraction(1))
LANCZOS = Image.Resampling.LANCZOS


def assert_pixels(actual: np.ndarray, odd: Odd) -> None:
    assert actual.shape == odd.pixels.shape
    difference = np.abs(actual.astype(np.int64) - odd.pixels.astype(np.int64))
    assert difference.max() <= odd.tolerance, (odd.name, difference.max())


def assert_failed_in_words(error: str | None, odd: Odd, folder: Path) -> None:
    assert error
    for word in odd.error:
        assert word in error.lower(), error
    assert str(folder) not in error and "/" not in error, error  # no path in the manifest


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_image_through_the_pipeline(tmp_path, backend, name):
    odd = odd_image(name)
    source = odd.write(tmp_path / "src")

    result = run_job(source, tmp_path / "out", "png", sizing=SAME_SIZE, backend=backend)

    assert result.src_format == odd.src_format or odd.mode is None
    if odd.mode is None:
        assert result.status == "failed"
        assert_failed_in_words(result.error, odd, tmp_path)
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
        return
    assert result.status == "ok", result.error
    assert (result.src_mode, result.src_frames, result.mode) == (odd.src_mode, odd.frames, odd.mode)
    mode, pixels = read_back(tmp_path / "out" / result.output)
    assert mode == result.mode
    assert_pixels(pixels, odd)


def test_odd_image_set_through_the_cli(tmp_path, run_cli):
    """One run over the whole set: each record names the source's mode and frame count and the
    output's mode truthfully (-v says when only the first of several frames was used); the bad
    ones fail in words; the others' pixels are right."""
    src, out = tmp_path / "src", tmp_path / "out"
    for odd in odd_images():
        odd.write(src)

    outcome = run_cli(
        "resize", src, "-o", out, "--scale", "1", "--format", "png", "--jobs", "2", "-v"
    )

    assert outcome.exit_code == 1  # some of the set must fail
    records = {record["source"]: record for record in read_records(out / "manifest.jsonl")}
    assert set(records) == set(ODD_NAMES)
    for odd in odd_images():
        record = records[odd.name]
        if odd.mode is None:
            assert record["status"] == "failed", record
            assert_failed_in_words(record["error"], odd, tmp_path)
            continue
        assert record["status"] == "ok", record
        assert record["src_frames"] == odd.frames, record
        said = f"ok: {odd.name} -> {record['output']}"
        said += f" (first of {odd.frames} frames)\n" if odd.frames > 1 else "\n"
        assert said in outcome.stderr
        assert (record["src_mode"], record["mode"]) == (odd.src_mode, odd.mode), record
        mode, pixels = read_back(out / record["output"])
        assert mode == record["mode"]
        assert_pixels(pixels, odd)


def reference_resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Lanczos in float of premultiplied samples (alpha last when the image has it); returns
    premultiplied values, which is what a downscale must preserve where alpha varies."""
    planes = pixels.astype(np.float64)
    planes = planes[..., None] if planes.ndim == 2 else planes
    if planes.shape[2] in (2, 4):
        peak = 65535.0 if pixels.dtype == np.uint16 else 255.0
        planes[..., :-1] *= planes[..., -1:] / peak
    channels = [
        np.asarray(Image.fromarray(planes[..., c].astype(np.float32), "F").resize(size, LANCZOS))
        for c in range(planes.shape[2])
    ]
    return np.stack(channels, axis=2)


def premultiplied(pixels: np.ndarray) -> np.ndarray:
    planes = pixels.astype(np.float64)
    planes = planes[..., None] if planes.ndim == 2 else planes
    if planes.shape[2] in (2, 4):
        peak = 65535.0 if pixels.dtype == np.uint16 else 255.0
        planes[..., :-1] *= planes[..., -1:] / peak
    return planes


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", [odd.name for odd in odd_images() if odd.mode is not None])
def test_odd_image_downscaled(tmp_path, backend, name):
    """Halved: the same output mode, and pixels close to a float Lanczos of the right decode.
    On this white noise OpenCV's kernels differ from Lanczos (27-32 dB, Pillow 35 and more); a
    wrong byte order, plane order or alpha rule gives far less (a byte swap about 8 dB)."""
    odd = odd_image(name)
    source = odd.write(tmp_path / "src")

    result = run_job(
        source, tmp_path / "out", "png", sizing=Sizing("size", width=12), backend=backend
    )

    assert result.status == "ok", result.error
    assert (result.width, result.height, result.mode) == (12, 8, odd.mode)
    mode, pixels = read_back(tmp_path / "out" / result.output)
    assert mode == odd.mode
    peak = 65535 if pixels.dtype == np.uint16 else 255
    expected = reference_resize(odd.pixels, (12, 8))
    assert psnr(premultiplied(pixels), expected, peak) > 24
