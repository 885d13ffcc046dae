"""One image start to finish: pad and crop windows, determinism, and bad files that must become
failed records (never exceptions, never partial output)."""

from __future__ import annotations

import hashlib
import resource
import struct
import subprocess
import sys
import zlib
from functools import partial
from pathlib import Path

import conftest
import cv2
import numpy as np
import pytest
from conftest import EXTENSIONS, photo_array, read_records
from PIL import Image

from resizer.geometry import Sizing
from resizer.process import Result

BACKENDS = ("pillow", "opencv")
PILLOW_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb limit, the CLI's default
ORANGE = (255, 128, 0)


# A small fixed target unless a test asks for another sizing.
SMALL = Sizing("size", width=64, height=64)
run_job = partial(conftest.run_job, sizing=SMALL)
resize_file = partial(conftest.resize_file, sizing=SMALL)


def pixels(path: Path) -> np.ndarray:
    """Output pixels as stored (16-bit kept), colour in RGB(A) order."""
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array.ndim == 3:
        order = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
        array = cv2.cvtColor(array, order)
    return array


def all_files(folder: Path) -> list[Path]:
    """Every file under `folder`, hidden temporary files included."""
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def save_source(folder: Path, mode: str, size=(120, 60)) -> Path:
    """A photo-like source in `mode`: RGB, RGBA, L, I;16 or RGB;16 (16-bit colour)."""
    width, height = size
    rgb = photo_array(width, height, seed=31)
    path = folder / f"{mode.replace(';', '')}.png"
    if mode == "RGB":
        Image.fromarray(rgb).save(path)
    elif mode == "RGBA":
        alpha = np.full((height, width), 255, dtype=np.uint8)
        alpha[:, : width // 4] = 90
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    elif mode == "L":
        Image.fromarray(rgb).convert("L").save(path)
    elif mode == "I;16":
        Image.fromarray(rgb[..., 0].astype(np.uint16) * 257 + 11).save(path)
    elif mode == "RGB;16":
        deep = rgb.astype(np.uint16) * 257 + 11
        cv2.imwrite(str(path), cv2.cvtColor(deep, cv2.COLOR_RGB2BGR))
    return path


# --- pad and crop windows ---------------------------------------------------------------------


def assert_window_matches_resize(result: Result, output: np.ndarray, resized: np.ndarray, fill):
    """Output = the resized image's `crop_box`, placed at `pad_offset`, `fill` everywhere else:
    exactly what the manifest tells a user for remapping coordinates."""
    left, top, right, bottom = result.crop_box
    x, y = result.pad_offset
    assert list(resized.shape[1::-1]) == result.resize
    assert output.shape[:2] == (result.height, result.width)
    kept = output[y : y + bottom - top, x : x + right - left]
    assert np.array_equal(kept, resized[top:bottom, left:right])
    outside = np.ones(output.shape[:2], dtype=bool)
    outside[y : y + bottom - top, x : x + right - left] = False
    if fill is None:
        assert not outside.any()
    else:
        assert outside.any()
        assert (output[outside] == np.array(fill, dtype=output.dtype)).all()


def luma(colour: tuple[int, int, int], peak: int) -> int:
    red, green, blue = (value * peak for value in colour)
    return round((red * 299 + green * 587 + blue * 114) / 1000)


PAD_CASES = [
    ("RGB", None, (0, 0, 0)),
    ("RGB", ORANGE, ORANGE),
    ("RGBA", None, (0, 0, 0, 0)),
    ("RGBA", ORANGE, (*ORANGE, 255)),
    ("RGBA", (*ORANGE, 100), (*ORANGE, 100)),
    ("L", None, (0,)),
    ("L", ORANGE, (luma(ORANGE, 1),)),
    ("I;16", None, (0,)),
    ("I;16", ORANGE, (luma(ORANGE, 257),)),
    ("RGB;16", ORANGE, tuple(value * 257 for value in ORANGE)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("mode", "pad_color", "fill"), PAD_CASES)
def test_pad_fills_with_the_pad_colour_in_the_image_mode(tmp_path, backend, mode, pad_color, fill):
    source = save_source(tmp_path, mode)

    padded, output = resize_file(
        source, tmp_path / "pad", mode="pad", backend=backend, pad_color=pad_color
    )
    _, fitted = resize_file(source, tmp_path / "fit", mode="fit", backend=backend)

    assert (padded.width, padded.height) == (64, 64)
    assert padded.resize == [64, 32]
    assert padded.pad_offset == [0, 16]
    assert_window_matches_resize(padded, pixels(output), pixels(fitted), fill)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fill_is_the_centre_crop_of_the_covering_resize(tmp_path, backend):
    source = save_source(tmp_path, "RGB")

    filled, output = resize_file(source, tmp_path / "fill", mode="fill", backend=backend)
    _, covering = resize_file(
        source, tmp_path / "cover", backend=backend, sizing=Sizing("size", width=128, height=64)
    )

    assert filled.crop_box == [32, 0, 96, 64]
    assert filled.pad_offset == [0, 0]
    assert_window_matches_resize(filled, pixels(output), pixels(covering), None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_crop_after_resize(tmp_path, backend):
    """--shorter 48 --crop 40x40: the ImageNet-evaluation shape, at small scale."""
    source = save_source(tmp_path, "RGB")
    shorter = Sizing("shorter", length=48)

    cropped, output = resize_file(
        source, tmp_path / "crop", backend=backend, sizing=shorter, crop=(40, 40)
    )
    _, whole = resize_file(source, tmp_path / "whole", backend=backend, sizing=shorter)

    assert cropped.crop_box == [28, 4, 68, 44]
    assert_window_matches_resize(cropped, pixels(output), pixels(whole), None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_crop_larger_than_the_image_pads(tmp_path, backend):
    source = save_source(tmp_path, "RGB")
    shorter = Sizing("shorter", length=30)

    cropped, output = resize_file(
        source, tmp_path / "crop", backend=backend, sizing=shorter, crop=(50, 50), pad_color=ORANGE
    )
    _, whole = resize_file(source, tmp_path / "whole", backend=backend, sizing=shorter)

    assert (cropped.width, cropped.height) == (50, 50)
    assert cropped.pad_offset == [0, 10]
    assert_window_matches_resize(cropped, pixels(output), pixels(whole), ORANGE)


# --- determinism --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fmt", list(EXTENSIONS))
def test_same_job_gives_identical_bytes_and_true_hash(tmp_path, backend, fmt):
    source = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo_array(400, 300, seed=32)).save(source, quality=90, exif=exif)

    first, first_output = resize_file(source, tmp_path / "one", fmt, backend=backend)
    second, second_output = resize_file(source, tmp_path / "two", fmt, backend=backend)

    data = first_output.read_bytes()
    assert data == second_output.read_bytes()
    assert first.sha256 == second.sha256 == hashlib.sha256(data).hexdigest()
    assert first.bytes == len(data)


def test_output_bytes_do_not_depend_on_jobs(tmp_path, run_cli, photo_tree):
    """One worker or several: the same files, byte for byte."""
    digests = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        outcome = run_cli("resize", photo_tree, "-o", out, "--size", "48x48", "--jobs", jobs)
        assert outcome.exit_code == 0, outcome.output
        records = read_records(out / "manifest.jsonl")
        digests.append({record["source"]: record["sha256"] for record in records})
        for record in records:
            data = (out / record["output"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == record["sha256"]
    assert digests[0] == digests[1]
    assert len(digests[0]) == 3


# --- bad files ----------------------------------------------------------------------------------


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny real PNG whose header claims `width`x`height` (a decompression bomb's header)."""
    Image.new("L", (4, 4), 0).save(path)
    data = bytearray(path.read_bytes())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def cut_in_half(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def deep_png(path: Path) -> Path:
    noisy = np.random.default_rng(33).integers(0, 65535, (100, 150, 3), dtype=np.uint16)
    cv2.imwrite(str(path), noisy)
    return path


def make_bad(folder: Path, kind: str) -> tuple[Path, str]:
    """A bad input and a word its error message must contain."""
    if kind == "empty":
        path = folder / "empty.jpg"
        path.write_bytes(b"")
        return path, "empty"
    if kind == "truncated_jpeg":
        path = folder / "cut.jpg"
        Image.fromarray(photo_array(200, 150, seed=34)).save(path, quality=90)
        return cut_in_half(path), "truncated"
    if kind == "truncated_png":
        path = folder / "cut.png"
        Image.fromarray(photo_array(200, 150, seed=35)).save(path)
        return cut_in_half(path), "truncated"
    if kind == "truncated_16bit_png":
        return cut_in_half(deep_png(folder / "cut16.png")), "truncated"
    if kind == "text":
        path = folder / "notes.jpg"
        path.write_text("these are my holiday notes, not a photo\n")
        return path, "not an image"
    if kind == "bomb_header":
        return png_claiming(folder / "bomb.png", 30000, 30000), "decompression bomb"
    if kind == "missing":
        return folder / "gone.jpg", "vanished"
    raise ValueError(kind)


BAD_KINDS = [
    "empty",
    "truncated_jpeg",
    "truncated_png",
    "truncated_16bit_png",
    "text",
    "bomb_header",
    "missing",
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_file_is_a_failed_result_with_no_output(tmp_path, backend, kind):
    source, cause = make_bad(tmp_path, kind)
    out = tmp_path / "out"

    result = run_job(source, out, backend=backend, max_pixels=PILLOW_MAX_PIXELS)

    assert result.status == "failed"
    assert cause in result.error.lower()
    assert str(tmp_path) not in result.error  # the record names the source; no paths
    assert result.output is None and result.sha256 is None and result.bytes is None
    assert all_files(out) == []  # no output, no temporary file


def test_a_source_that_cannot_be_read_is_failed_with_the_cause_in_words(tmp_path):
    source = tmp_path / "folder.jpg"
    source.mkdir()  # only a library call or a race gets here; the planner walks folders

    result = run_job(source, tmp_path / "out")

    assert result.error == "cannot read the source: it is a folder, not a file"


@pytest.mark.parametrize("backend", BACKENDS)
def test_image_over_max_pixels_fails_before_decoding(tmp_path, backend):
    source = save_source(tmp_path, "RGB")  # 120x60 = 7200 pixels

    result = run_job(source, tmp_path / "out", backend=backend, max_pixels=7199)

    assert result.status == "failed"
    assert "7200" in result.error and "7199" in result.error
    assert all_files(tmp_path / "out") == []
    assert run_job(source, tmp_path / "ok", backend=backend, max_pixels=7200).status == "ok"


def test_bad_files_in_one_run_with_good_ones(tmp_path, run_cli):
    """The run goes on: good images written, each bad one a failed record, exit status 1."""
    src = tmp_path / "src"
    src.mkdir()
    for kind in BAD_KINDS:
        if kind != "missing":
            make_bad(src, kind)
    Image.fromarray(photo_array(90, 60, seed=36)).save(src / "good.jpg")
    Image.fromarray(photo_array(60, 90, seed=37)).save(src / "good.png")
    out = tmp_path / "out"

    outcome = run_cli("resize", src, "-o", out, "--size", "32x32", "--jobs", "1")

    assert outcome.exit_code == 1
    records = {record["source"]: record for record in read_records(out / "manifest.jsonl")}
    assert {name for name, record in records.items() if record["status"] == "ok"} == {
        "good.jpg",
        "good.png",
    }
    failed = {name: record for name, record in records.items() if record["status"] == "failed"}
    assert set(failed) == {"empty.jpg", "cut.jpg", "cut.png", "cut16.png", "notes.jpg", "bomb.png"}
    for record in failed.values():
        assert record["error"] and record["output"] is None and record["sha256"] is None
    written = {path.name for path in all_files(out) if path.suffix in (".jpg", ".png")}
    assert written == {"good.jpg", "good.png"}
    assert not [path for path in all_files(out) if ".resizer-tmp-" in path.name]


def _limit_memory() -> None:
    """Cap the address space, so that a regression fails here instead of exhausting the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def test_a_target_over_the_pixel_limit_fails_each_image_before_decoding(tmp_path):
    """A typo such as --size 100000x100000 must fail at once, per image, naming size and limit."""
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    Image.fromarray(photo_array(40, 30, seed=1)).save(src / "wide.jpg")
    Image.fromarray(photo_array(30, 40, seed=2)).save(src / "tall.jpg")
    # Its pixel data is cut off: failing on the size, not as truncated, shows nothing was decoded.
    Image.fromarray(photo_array(200, 100, seed=3)).save(src / "cut.jpg", quality=90)
    cut_in_half(src / "cut.jpg")
    command = [sys.executable, "-m", "resizer", "resize", str(src), "-o", str(out),
               "--size", "100000x100000", "--jobs", "1"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=_limit_memory)
    assert done.returncode == 1, done.stderr
    errors = {r["source"]: r["error"] for r in read_records(out / "manifest.jsonl")}
    limit = "pixels, over the limit of 89478485 (--max-pixels)"
    assert errors == {
        "wide.jpg": "--size 100000x100000 is too large for this image: "
        f"the resized image would be 100000x75000 = 7500000000 {limit}",
        "tall.jpg": "--size 100000x100000 is too large for this image: "
        f"the resized image would be 75000x100000 = 7500000000 {limit}",
        "cut.jpg": "--size 100000x100000 is too large for this image: "
        f"the resized image would be 100000x50000 = 5000000000 {limit}",
    }
    assert "failed: wide.jpg: --size 100000x100000 is too large" in done.stderr
    assert not list(out.glob("*.jpg"))


def test_max_pixels_governs_outputs_too(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    Image.fromarray(photo_array(40, 20, seed=4)).save(src / "small.png")  # 800 pixels
    args = ("resize", src, "-o", out, "--jobs", "1", "--max-pixels", "1000")
    result = run_cli(*args, "--size", "40x40", "--mode", "pad")  # resized 40x20, then padded
    assert result.exit_code == 1
    [record] = read_records(out / "manifest.jsonl")
    assert record["error"] == (
        "--size 40x40 is too large for this image: the output would be 40x40 = 1600 pixels, "
        "over the limit of 1000 (--max-pixels)"
    )
    assert not (out / "small.png").exists()
    assert run_cli(*args, "--size", "44x44").exit_code == 0  # 44x22 = 968 pixels


def test_a_decoder_error_without_an_errno_is_a_decode_error_without_a_path(tmp_path):
    source = tmp_path / "header.jpg"
    source.write_bytes(b"\xff\xd8\xff\xe0 only the start of a JPEG")  # Pillow: OSError, no errno

    result = run_job(source, tmp_path / "out")

    assert result.error.startswith("cannot decode: ")
    assert str(tmp_path) not in result.error
