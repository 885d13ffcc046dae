"""Mean and std of the output dataset (resizer/pixelstats.py), checked against numpy over the
files a real run wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLE_IMAGES, photo_array, read_records
from PIL import Image

from resizer.pixelstats import Totals, channel_sums, dataset_statistics


def _array(mode: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if mode in ("I;16", "RGB;16"):
        shape = (31, 47) if mode == "I;16" else (31, 47, 3)
        return rng.integers(0, 65536, shape, dtype=np.uint16)
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    return rng.integers(0, 256, (31, 47, channels), dtype=np.uint8).squeeze()


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16", "RGB;16"])
def test_channel_sums_are_exact(mode):
    array = _array(mode)
    if mode == "RGB;16":
        pixels = array  # 16-bit colour travels as an array
    elif mode == "I;16":
        pixels = Image.fromarray(array)
    else:
        pixels = Image.fromarray(array, mode)
    assert mode == "RGB;16" or pixels.mode == mode
    values = array.reshape(31 * 47, -1).astype(np.int64)
    sums, squares = channel_sums(pixels)
    assert sums == values.sum(axis=0).tolist()
    assert squares == (values * values).sum(axis=0).tolist()


def _scaled(path: Path) -> np.ndarray:
    """An output as the numbers a loader's `convert("RGB")` / 255 (or / 65535) gives."""
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    peak = 65535.0 if array.dtype == np.uint16 else 255.0
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)[:, :, :3]
    else:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    return array.reshape(-1, 3).astype(np.float64) / peak


@pytest.fixture
def mixed_tree(tmp_path: Path) -> Path:
    """Colour, grey, alpha and 16-bit sources of different sizes."""
    src = tmp_path / "src"
    src.mkdir()
    for index in range(4):
        Image.fromarray(photo_array(90 + 20 * index, 70, seed=index)).save(src / f"c{index}.jpg")
    Image.fromarray(photo_array(60, 80, seed=9)).convert("L").save(src / "grey.png")
    rgba = Image.fromarray(photo_array(64, 64, seed=5))
    rgba.putalpha(Image.linear_gradient("L").resize((64, 64)))
    rgba.save(src / "alpha.png")
    deep = (photo_array(50, 40, seed=6).astype(np.uint16) * 257 + 99).astype(np.uint16)
    cv2.imwrite(str(src / "deep.png"), deep)
    grey16 = photo_array(70, 50, seed=7)[:, :, 0].astype(np.uint16) * 200
    Image.fromarray(grey16).save(src / "grey16.png")
    return src


def _resize(*args) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "resizer", "resize", *map(str, args), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_statistics_match_numpy_over_the_written_outputs(mixed_tree, tmp_path):
    out = tmp_path / "out"
    document = _resize(mixed_tree, "-o", out, "--size", "48x48", "--mode", "pad", "--format", "png")
    stats = document["pixel_statistics"]
    pixels = np.concatenate([_scaled(path) for path in sorted(out.rglob("*.png"))])
    assert (stats["channels"], stats["images"], stats["pixels"]) == ("RGB", 8, len(pixels))
    assert stats["mean"] == pytest.approx(pixels.mean(axis=0).tolist(), abs=1.5e-6)
    assert stats["std"] == pytest.approx(pixels.std(axis=0).tolist(), abs=1.5e-6)
    assert stats["images_without_statistics"] == 0
    written = json.loads((out / "manifest.run.json").read_text())
    assert written["pixel_statistics"] == stats


def test_statistics_are_the_same_for_any_number_of_workers(mixed_tree, tmp_path):
    runs = [
        _resize(mixed_tree, "-o", tmp_path / f"out{jobs}", "--shorter", "33", "--jobs", jobs)
        for jobs in (1, 2, 3)
    ]
    assert runs[0]["pixel_statistics"] == runs[1]["pixel_statistics"]
    assert runs[0]["pixel_statistics"] == runs[2]["pixel_statistics"]


def test_jpeg_outputs_differ_only_by_compression_noise(tmp_path):
    """The sums describe the pixels handed to the encoder; on photographs q90 JPEG moves the
    decoded statistics by far less than a level (on noise it smooths more away)."""
    out = tmp_path / "out"
    options = ("--size", "96x96", "--mode", "fill", "--format", "jpeg")
    stats = _resize(SAMPLE_IMAGES, "-o", out, *options)["pixel_statistics"]
    pixels = np.concatenate([_scaled(path) for path in sorted(out.rglob("*.jpg"))])
    assert stats["images"] == 15
    assert stats["mean"] == pytest.approx(pixels.mean(axis=0).tolist(), abs=0.001)
    assert stats["std"] == pytest.approx(pixels.std(axis=0).tolist(), abs=0.002)


def test_up_to_date_images_count_without_being_redone(mixed_tree, tmp_path):
    out = tmp_path / "out"
    options = ("--size", "40x40", "--mode", "fill", "--format", "png")
    first = _resize(mixed_tree, "-o", out, *options)
    again = _resize(mixed_tree, "-o", out, *options)
    assert again["summary"]["skipped"] == 8 and again["summary"]["ok"] == 0
    assert again["pixel_statistics"] == first["pixel_statistics"]
    # One source changes: it is redone, the other seven come from the manifest.
    Image.fromarray(photo_array(90, 70, seed=42)).save(mixed_tree / "c0.jpg")
    (out / "manifest.run.json").unlink()  # no shortcut through the last run's record
    partly = _resize(mixed_tree, "-o", out, *options)
    assert partly["summary"]["ok"] == 1 and partly["summary"]["skipped"] == 7
    pixels = np.concatenate([_scaled(path) for path in sorted(out.rglob("*.png"))])
    assert partly["pixel_statistics"]["mean"] == pytest.approx(pixels.mean(axis=0), abs=1.5e-6)
    assert partly["pixel_statistics"]["std"] == pytest.approx(pixels.std(axis=0), abs=1.5e-6)


def test_grey_only_datasets_have_one_channel(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for index in range(3):
        Image.fromarray(photo_array(30, 20, seed=index)).convert("L").save(src / f"{index}.png")
    stats = _resize(src, "-o", tmp_path / "out", "--scale", "1")["pixel_statistics"]
    values = np.concatenate(
        [np.asarray(Image.open(p)).ravel() / 255 for p in sorted((tmp_path / "out").glob("*.png"))]
    )
    assert stats["channels"] == "L"
    assert stats["mean"] == pytest.approx([values.mean()], abs=1.5e-6)
    assert stats["std"] == pytest.approx([values.std()], abs=1.5e-6)


def test_failed_records_carry_no_sums_and_old_records_are_counted_apart(tmp_path, run_cli):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(photo_array(30, 20)).save(src / "good.png")
    (src / "bad.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    run_cli("resize", src, "-o", out, "--size", "10", "-j1", "-q")
    records = {record["source"]: record for record in read_records(out / "manifest.jsonl")}
    assert records["bad.png"]["pixel_sum"] is None
    assert len(records["good.png"]["pixel_sum"]) == 3
    older = dict(records["good.png"], pixel_sum=None, pixel_sumsq=None)
    texts = [json.dumps(record) for record in (older, records["good.png"], records["bad.png"])]
    stats = dataset_statistics(texts)
    assert (stats["images"], stats["images_without_statistics"]) == (1, 1)


def test_per_image_std_averaging_is_not_what_is_computed():
    """Two flat images, black and white: each has std 0, the dataset has std 0.5."""
    totals = Totals()
    for value in (0, 255):
        sums, squares = channel_sums(Image.new("RGB", (8, 8), (value,) * 3))
        totals.add("RGB", 8, 8, sums, squares)
    assert totals.result()["std"] == [0.5, 0.5, 0.5]
    assert totals.result()["mean"] == [0.5, 0.5, 0.5]


def test_records_written_with_other_spacing_still_count():
    record = {"source": "a.png", "status": "ok", "width": 2, "height": 1, "format": "png"}
    record.update(mode="L", pixel_sum=[255], pixel_sumsq=[65025])
    compact = json.dumps(record, separators=(",", ":"))
    assert dataset_statistics([compact])["mean"] == [0.5]
