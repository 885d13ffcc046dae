"""One image's limits and messages: memory bounded by --max-pixels whatever the geometry, and
failure causes in words, with no absolute path in the manifest."""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from functools import partial
from pathlib import Path

import conftest
import numpy as np
import pytest
from images import bmp_bytes, tiff_bytes
from PIL import Image

from resizer.geometry import Sizing

# Address space for a whole `resizer` process (interpreter, NumPy, OpenCV, Pillow take about
# 500 MB of it). The old intermediate of the tall image below needed 1.4 GB or more.
ADDRESS_SPACE = 1536 << 20
TALL = (16, 65280)  # a valid 1-megapixel image; --shorter 256 makes it 256 x 1044480
run_job = partial(conftest.run_job, sizing=Sizing("size", width=32, height=32))


def tall_rgba(path: Path) -> Path:
    """Red rises from top to bottom (row r: r * 255 // 65279), green from left to right."""
    width, height = TALL
    array = np.zeros((height, width, 4), dtype=np.uint8)
    array[..., 0] = (np.arange(height) * 255 // (height - 1))[:, None]
    array[..., 1] = (np.arange(width) * 16)[None, :]
    array[..., 3] = 200
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, "RGBA").save(path)
    return path


def run_limited(src: Path, out: Path, *options: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`resizer resize` in a process whose address space is capped at ADDRESS_SPACE."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    env = dict(os.environ, MALLOC_ARENA_MAX="2", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "resizer", "resize", str(src), "-o", str(out)]
    command += ["--shorter", "256", "--crop", "224x224", "--jobs", "1", *options]
    process = subprocess.run(command, env=env, capture_output=True, text=True, preexec_fn=cap)
    manifest = out / "manifest.jsonl"
    assert manifest.exists(), process.stderr
    [record] = [json.loads(line) for line in manifest.read_text().splitlines()]
    return process, record


@pytest.fixture(scope="module")
def tall_source(tmp_path_factory) -> Path:
    return tall_rgba(tmp_path_factory.mktemp("tall") / "src" / "tall.tif").parent


def test_tall_image_resizes_only_the_kept_part(tmp_path, tall_source):
    """The pillow backend without --exact builds only the 224x224 it keeps: well inside the cap."""
    process, record = run_limited(tall_source, tmp_path / "out")

    assert process.returncode == 0, process.stderr
    assert record["status"] == "ok"
    assert record["resize"] == [256, 1044480] and record["crop_box"] == [16, 522128, 240, 522352]
    with Image.open(tmp_path / "out" / "tall.tif") as image:
        assert image.size == (224, 224) and image.mode == "RGBA"
        pixels = np.asarray(image).astype(int)
    assert np.abs(pixels[..., 0] - 127).max() <= 1  # the middle rows of the source
    assert (pixels[..., 3] == 200).all()
    assert (pixels[:, 0, 1] < pixels[:, -1, 1]).all()  # green still rises to the right


@pytest.mark.parametrize(
    "options", [("--exact",), ("--backend", "opencv"), ("--backend", "opencv", "--exact")]
)
def test_tall_image_over_max_pixels_when_resized_whole_fails_in_words(
    tmp_path, tall_source, options
):
    """--exact and the opencv backend resize the whole image before cropping: 267 megapixels
    here, over the default --max-pixels, so the image fails at once, naming the size, instead
    of taking gigabytes (or being killed for memory)."""
    process, record = run_limited(tall_source, tmp_path / "out", *options)

    assert process.returncode == 1
    assert record["status"] == "failed"
    assert "256x1044480 = 267386880 pixels" in record["error"]
    assert "--max-pixels" in record["error"]
    assert not (tmp_path / "out" / "tall.tif").exists()


def test_running_out_of_memory_in_opencv_is_said_in_words(tmp_path, tall_source):
    """Above a raised --max-pixels the allocation itself fails: the record says so in words,
    without OpenCV's build path."""
    process, record = run_limited(
        tall_source, tmp_path / "out", "--backend", "opencv", "--max-pixels", "300000000"
    )

    assert process.returncode == 1
    assert record["error"].startswith("out of memory while processing this image")
    assert "/" not in record["error"]


# --- causes in words, no paths ------------------------------------------------------------------


def test_decoder_errors_name_the_cause_not_the_path(tmp_path, run_cli):
    src = (tmp_path / "src").absolute()
    src.mkdir()
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    (src / "bitfields.bmp").write_bytes(bmp_bytes(rgb, (0xF000, 0x0F00, 0x00F0)))
    (src / "squeezed.tif").write_bytes(tiff_bytes([rgb], compression=34676))  # SGI LogLuv
    (src / "cut.gif").write_bytes(b"GIF89a\x08\x00\x08\x00")
    out = tmp_path / "out"

    outcome = run_cli("resize", src, "-o", out, "--size", "4x4", "--jobs", "1")

    assert outcome.exit_code == 1
    records = conftest.read_records(out / "manifest.jsonl")
    errors = {record["source"]: record["error"] for record in records}
    assert errors["bitfields.bmp"] == "cannot decode: Unsupported BMP bitfields layout"
    assert errors["squeezed.tif"].startswith("cannot decode: damaged image data, or a compres")
    for name, error in errors.items():
        assert str(tmp_path) not in error and name not in error, error


def test_a_source_that_cannot_be_read_is_named_in_words(tmp_path, monkeypatch):
    source = conftest.save_photo((tmp_path / "src" / "a.png").absolute(), 40, 30)

    def refuse(path, max_pixels):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("resizer.process.codecs.probe", refuse)
    result = run_job(source, tmp_path / "out")

    assert result.error == "cannot read the source: permission denied"


def test_an_output_that_cannot_be_written_is_named_relative_to_out(tmp_path, monkeypatch):
    source = conftest.save_photo(tmp_path / "src" / "a.png", 40, 30)
    out = (tmp_path / "out").absolute()

    def refuse(path, data, fsync=False):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("resizer.process.write_atomic", refuse)
    result = run_job(source, out)

    assert result.error == "cannot write a.png: permission denied"


def test_a_library_message_quoting_the_source_path_is_made_relative(tmp_path, monkeypatch):
    source = conftest.save_photo((tmp_path / "src" / "a.png").absolute(), 40, 30)

    def broken(header, orient=True):
        raise RuntimeError(f"unexpected layout in {header.image.filename}")

    monkeypatch.setattr("resizer.process.codecs.decode", broken)
    result = run_job(source, tmp_path / "out")

    assert result.error == "RuntimeError: unexpected layout in a.png"
