"""Shared fixtures: small generated images, a CLI runner, the one-image pipeline and image metrics.

Images are made in tmp_path by code, so every test states the pixels it depends on.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from resizer.cli import cli
from resizer.process import Job, Result, process_image
from resizer.quality import psnr, ssim  # noqa: F401  (the package's metrics, for the tests)
from resizer.settings import Settings

SAMPLE_IMAGES = Path(__file__).resolve().parent.parent / "sample_images"
# Output file extension for each encoder format.
EXTENSIONS = {
    "jpeg": "jpg",
    "png": "png",
    "webp": "webp",
    "tiff": "tif",
    "bmp": "bmp",
    "gif": "gif",
}


def photo_array(width: int, height: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    """A smooth, photo-like uint8 image: low-frequency colour fields plus a little texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = []
    for channel in range(channels):
        fx, fy = rng.uniform(1, 4, size=2)
        phase = rng.uniform(0, 6.3)
        plane = 127 + 90 * np.sin(fx * x / max(width, 1) * 6.3 + phase) * np.cos(
            fy * y / max(height, 1) * 6.3 + channel
        )
        plane += rng.normal(0, 6, size=(height, width))
        planes.append(plane)
    array = np.stack(planes, axis=2) if channels > 1 else planes[0]
    return np.clip(array, 0, 255).astype(np.uint8)


def save_photo(path: Path, width: int, height: int, seed: int = 0, **save_options) -> Path:
    """Write an RGB photo-like image; the format follows the file extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo_array(width, height, seed)).save(path, **save_options)
    return path


def png_chunk(name: bytes, payload: bytes) -> bytes:
    """One PNG chunk with its length and checksum, to build files Pillow will not write."""
    crc = zlib.crc32(name + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + name + payload + struct.pack(">I", crc)


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_job(source: Path, out: Path, fmt: str = "png", **settings_options) -> Result:
    """Run one image through the real per-image pipeline, without the CLI or the worker pool.

    The output is `<source stem>.<extension of fmt>` in `out`; the record is returned whatever
    its status, so failures can be asserted on.
    """
    settings = Settings(sources=(source.parent,), out=out, **settings_options)
    output = f"{source.stem}.{EXTENSIONS[fmt]}"
    return process_image(Job(str(source), source.name, output, fmt), settings)


def resize_file(
    source: Path, out: Path, fmt: str = "png", **settings_options
) -> tuple[Result, Path]:
    """`run_job` for an image that must succeed: returns its record and the written file."""
    result = run_job(source, out, fmt, **settings_options)
    assert result.status == "ok", result.error
    return result, out / result.output


@pytest.fixture
def run_cli():
    """Invoke `resizer` in-process; returns click's Result (exit_code, stdout, stderr)."""

    def invoke(*args: str | Path):
        runner = CliRunner()
        return runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def photo_tree(tmp_path: Path) -> Path:
    """src/ with two class folders of small JPEGs and PNGs."""
    src = tmp_path / "src"
    save_photo(src / "cats" / "a.jpg", 120, 80, seed=1)
    save_photo(src / "cats" / "b.png", 90, 120, seed=2)
    save_photo(src / "dogs" / "c.jpg", 100, 100, seed=3)
    return src
