"""`resizer scan`: headers of a tree, and a prediction of the job that equals the real job.

The prediction test runs `resizer resize` for real and compares each manifest record with scan's
record for the same image; the statistics are checked against numpy over those manifest records
and against Pillow opening every file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import png_chunk, read_records, save_photo
from PIL import Image, ImageOps

from resizer.geometry import Sizing
from resizer.scan import ScanSettings, scan

GEOMETRY = ("width", "height", "resize", "crop_box", "pad_offset")
SOURCE = ("src_format", "src_mode", "src_width", "src_height", "orientation")


def _exif(orientation: int) -> Image.Exif:
    block = Image.Exif()
    block[0x0112] = orientation
    return block


def _late_exif_png(path: Path, width: int, height: int, orientation: int) -> None:
    """A PNG whose eXIf chunk follows the image data."""
    save_photo(path, width, height, seed=7)
    data = path.read_bytes()
    path.write_bytes(data[:-12] + png_chunk(b"eXIf", _exif(orientation).tobytes()) + data[-12:])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Formats, orientations, 16 bits, grey, tiny and extreme aspect ratios, in class folders."""
    src = tmp_path / "src"
    save_photo(src / "cats" / "wide.jpg", 640, 427, seed=1)
    save_photo(src / "cats" / "rotated.jpg", 300, 200, seed=2, exif=_exif(6))
    _late_exif_png(src / "cats" / "late_exif.png", 250, 120, orientation=8)
    save_photo(src / "dogs" / "small.webp", 37, 51, seed=3)
    save_photo(src / "dogs" / "mirrored.tif", 160, 90, seed=4, exif=_exif(5))
    save_photo(src / "dogs" / "strip.png", 600, 19, seed=5)
    save_photo(src / "dogs" / "square.bmp", 99, 99, seed=6)
    Image.new("I;16", (130, 70), 40000).save(src / "grey16.png")
    Image.new("L", (3, 500), 128).save(src / "thin.gif")
    return src


SIZINGS = [
    ("--size", "224x224", "--mode", "fill"),
    ("--size", "64x64", "--mode", "pad"),
    ("--size", "50x70", "--mode", "stretch"),
    ("--shorter", "40", "--crop", "32x32"),
    ("--longer", "100", "--no-upscale"),
    ("--scale", "0.37"),
    ("--size", "80",),
    ("--size", "100x100", "--no-upscale", "--mode", "fill"),
    ("--size", "120x90", "--crop", "100x100", "--mode", "pad"),
    ("--shorter", "41", "--rounding", "floor", "--crop", "30x30"),
    ("--recipe", "torchvision-eval"),
]  # fmt: skip


@pytest.mark.parametrize("sizing", SIZINGS, ids=" ".join)
def test_prediction_equals_what_resize_writes(run_cli, tree, tmp_path, sizing):
    out = tmp_path / "out"
    assert run_cli("resize", tree, "-o", out, *sizing, "--jobs", "1", "-q").exit_code == 0
    records = tmp_path / "scan.jsonl"
    scanned = run_cli("scan", tree, *sizing, "--jobs", "1", "--records", records)
    assert scanned.exit_code == 0, scanned.output
    manifest = {record["source"]: record for record in read_records(out / "manifest.jsonl")}
    predicted = {record["source"]: record for record in read_records(records)}
    assert sorted(predicted) == sorted(manifest) and len(manifest) == 9
    for source, record in manifest.items():
        for name in SOURCE + GEOMETRY:
            assert predicted[source][name] == record[name], (source, name)


def test_counts_and_distributions_match_pillow_and_numpy(run_cli, tree):
    result = run_cli("scan", tree, "--json", "--jobs", "1")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    sizes, formats, orientations, bits = [], {}, {}, {}
    for path in sorted(tree.rglob("*.*")):
        with Image.open(path) as image:
            formats[image.format] = formats.get(image.format, 0) + 1
            orientation = image.getexif().get(0x0112, 1)
            orientations[str(orientation)] = orientations.get(str(orientation), 0) + 1
            depth = "16" if image.mode == "I;16" else "8"
            bits[depth] = bits.get(depth, 0) + 1
            sizes.append(ImageOps.exif_transpose(image).size)
    assert document["images"] == document["files"] == len(sizes) == 9
    assert document["formats"] == formats
    assert document["orientations"] == orientations
    assert document["bit_depths"] == bits
    widths = np.array([w for w, _ in sizes])
    heights = np.array([h for _, h in sizes])
    for name, values in (
        ("width", widths),
        ("height", heights),
        ("megapixels", widths * heights / 1e6),
        ("aspect_ratio", widths / heights),
    ):
        summary = document[name]
        assert summary["min"] == pytest.approx(values.min(), abs=1e-4)
        assert summary["max"] == pytest.approx(values.max(), abs=1e-4)
        for share in (5, 50, 95):
            expected = np.percentile(values, share, method="inverted_cdf")
            assert summary[f"p{share}"] == pytest.approx(expected, abs=1e-4), (name, share)
        edges = [item["from"] for item in summary["histogram"]] + [math.inf]
        counts, _ = np.histogram(values, bins=edges)
        assert [item["count"] for item in summary["histogram"]] == counts.tolist()


@pytest.mark.parametrize(
    "sizing",
    [
        ("--size", "224x224", "--mode", "fill"),
        ("--size", "64x64", "--mode", "pad"),
        ("--size", "50x70", "--mode", "stretch"),
        ("--shorter", "40", "--crop", "48x48"),
    ],
    ids=" ".join,
)
def test_prediction_statistics_match_the_manifest(run_cli, tree, tmp_path, sizing):
    out = tmp_path / "out"
    assert run_cli("resize", tree, "-o", out, *sizing, "--jobs", "1", "-q").exit_code == 0
    result = run_cli("scan", tree, *sizing, "--json", "--jobs", "1", "--max-distortion", "1.2")
    prediction = json.loads(result.stdout)["prediction"]
    records = read_records(out / "manifest.jsonl")
    source = np.array([(r["src_width"], r["src_height"]) for r in records], dtype=float)
    resized = np.array([r["resize"] for r in records], dtype=float)
    box = np.array([r["crop_box"] for r in records], dtype=float)
    output = np.array([(r["width"], r["height"]) for r in records], dtype=float)
    ratio = resized / source
    grows = (ratio > 1).any(axis=1)
    same = (resized == source).all(axis=1)
    assert prediction["upscaled"]["count"] == grows.sum()
    assert prediction["unchanged"] == same.sum()
    assert prediction["downscaled"]["count"] == len(records) - grows.sum() - same.sum()
    if grows.any():
        factors = ratio.max(axis=1)[grows]
        assert prediction["upscaled"]["factor"]["max"] == pytest.approx(factors.max(), abs=1e-4)
        median = np.percentile(factors, 50, method="inverted_cdf")
        assert prediction["upscaled"]["factor"]["p50"] == pytest.approx(median, abs=1e-4)
    shrinks = ~grows & ~same
    if shrinks.any():
        factors = (1 / ratio).min(axis=1)[shrinks]
        assert prediction["downscaled"]["factor"]["max"] == pytest.approx(factors.max(), abs=1e-4)
    kept = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    discarded = 1 - kept / resized.prod(axis=1)
    added = 1 - kept / output.prod(axis=1)
    assert prediction["cropped"]["count"] == (discarded > 0).sum()
    assert prediction["padded"]["count"] == (added > 0).sum()
    for name, values in (("area_discarded", discarded), ("area_added", added)):
        part = prediction["cropped" if name == "area_discarded" else "padded"][name]
        assert part["max"] == pytest.approx(values.max(), abs=1e-4)
        assert part["p90"] == pytest.approx(
            np.percentile(values, 90, method="inverted_cdf"), abs=1e-4
        )
    change = ratio[:, 0] / ratio[:, 1]
    change = np.maximum(change, 1 / change)
    assert prediction["distorted"]["count"] == (change > 1.2).sum()
    assert prediction["distorted"]["aspect_change"]["max"] == pytest.approx(change.max(), 1e-4)
    sizes = {f"{int(w)}x{int(h)}" for w, h in output}
    assert prediction["output_sizes"]["distinct"] == len(sizes)


def test_stretch_distortion_is_counted_beyond_the_limit(run_cli, tree):
    """The most distorted: thin.gif, 3x500 stretched to 50x70, widened 16.7x and shortened 7x."""
    result = run_cli("scan", tree, "--size", "50x70", "--mode", "stretch", "--json", "-j1")
    distorted = json.loads(result.stdout)["prediction"]["distorted"]
    assert distorted["limit"] == 1.1
    assert distorted["aspect_change"]["max"] == pytest.approx((50 / 3) / (70 / 500), 1e-4)
    # All but rotated.jpg (upright 200x300: changed 1.07x) and small.webp (37x51: 1.02x).
    assert distorted["count"] == 7


def _resizer(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "resizer", *map(str, args)], capture_output=True, text=True
    )


def test_report_is_identical_for_any_number_of_workers(tree):
    """More files than one worker batch, so two and three workers really share the work."""
    for index in range(700):
        source = sorted(tree.rglob("*.*"))[index % 9]
        target = tree / f"copies_{index // 100}" / f"{index:04d}{source.suffix}"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, target)
    options = ("--shorter", "64", "--crop", "56x56")
    reports = {}
    for jobs in (1, 2, 3):
        done = _resizer("scan", tree, *options, "--jobs", jobs, "--json")
        text = _resizer("scan", tree, *options, "--jobs", jobs)
        assert done.returncode == 0 and text.returncode == 0, done.stderr
        reports[jobs] = (done.stdout, text.stdout)
    assert reports[1] == reports[2] == reports[3]
    assert json.loads(reports[1][0])["images"] == 709


def test_unreadable_and_suspect_files_are_listed_with_the_reason(run_cli, tree):
    (tree / "empty.jpg").write_bytes(b"")
    (tree / "notes.png").write_text("not a picture")
    data = (tree / "cats" / "wide.jpg").read_bytes()
    (tree / "cats" / "cut.jpg").write_bytes(data[: len(data) // 2])
    text = run_cli("scan", tree, "-j1")
    assert text.exit_code == 0
    assert "10 images (1 of them suspect), 2 unreadable files" in text.stdout
    assert "  empty.jpg: empty file" in text.stdout
    assert "  notes.png: not an image, or a format this tool cannot read" in text.stdout
    assert "  cats/cut.jpg: truncated: the JPEG has no end-of-image marker" in text.stdout
    document = json.loads(run_cli("scan", tree, "-j1", "--json").stdout)
    assert [item["source"] for item in document["unreadable"]] == ["empty.jpg", "notes.png"]
    assert document["suspect"][0]["source"] == "cats/cut.jpg"


@pytest.mark.parametrize(
    ("options", "code", "message"),
    [
        (("--fail-on", "unreadable"), 1, "1 image unreadable (--fail-on unreadable)"),
        (("--fail-on", "suspect"), 0, None),
        # Fit in 224x224 grows small.webp, mirrored.tif, square.bmp and grey16.png.
        (("--size", "224x224", "--fail-on", "upscale"), 1, "4 images would be upscaled"),
        (("--longer", "52", "--fail-on", "upscale"), 1, "1 image would be upscaled"),
        (("--size", "1000x1000", "--no-upscale", "--fail-on", "upscale"), 0, None),
        (("--size", "64x64", "--mode", "pad", "--fail-on", "pad"), 1, "would be padded"),
        (("--size", "64x64", "--mode", "fill", "--fail-on", "pad"), 0, None),
        (("--size", "50x70", "--mode", "stretch", "--fail-on", "distort"), 1, "aspect ratio"),
        (("--fail-on", "animated"), 0, None),
    ],
)
def test_fail_on_gates_a_ci_step(run_cli, tree, options, code, message):
    (tree / "empty.jpg").write_bytes(b"")
    result = run_cli("scan", tree, "-j1", *options)
    assert result.exit_code == code, result.output
    if message:
        assert "resizer: scan check failed: " in result.stderr and message in result.stderr
    else:
        assert "scan check failed" not in result.stderr


def test_failed_checks_are_in_the_json_too(run_cli, tree):
    result = run_cli("scan", tree, "-j1", "--longer", "52", "--fail-on", "upscale", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failed_checks"] == [
        "1 image would be upscaled (--fail-on upscale)"
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--fail-on", "upscale"), "--fail-on too-large, upscale, pad, distort need a sizing"),
        (("--mode", "fill"), "--mode, --crop, --no-upscale and --rounding need a sizing option"),
        (("--rounding", "floor"), "need a sizing option"),
        (("--size", "64", "--rounding", "down"), "--rounding 'down' is not one of"),
        (("--jobs", "0"), "--jobs 0 is out of range"),
        (("--max-distortion", "0.5"), "--max-distortion 0.5 must be a number of at least 1"),
        (("--size", "64", "--shorter", "64"), "give exactly one of --size"),
        (("--size", "64", "--mode", "pad"), "--mode pad needs --size with both sides"),
        (("--fail-on", "bogus"), "--fail-on 'bogus' is not one of"),
    ],
)
def test_usage_errors_exit_2(run_cli, tree, options, message):
    result = run_cli("scan", tree, *options)
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_source_is_a_usage_error(run_cli, tmp_path):
    result = run_cli("scan", tmp_path / "nowhere")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_selection_options_are_resizes(run_cli, tree, tmp_path):
    """--include, --exclude and --follow-symlinks choose the files as the planner does."""
    only_cats = json.loads(run_cli("scan", tree, "--include", "cats/*", "--json").stdout)
    assert only_cats["images"] == 3
    no_dogs = json.loads(run_cli("scan", tree, "--exclude", "dogs/*", "--json").stdout)
    assert no_dogs["images"] == 5
    elsewhere = tmp_path / "elsewhere"
    save_photo(elsewhere / "linked.jpg", 20, 20)
    os.symlink(elsewhere, tree / "link")
    assert json.loads(run_cli("scan", tree, "--json").stdout)["images"] == 9
    followed = json.loads(run_cli("scan", tree, "--json", "--follow-symlinks").stdout)
    assert followed["images"] == 10


def test_files_given_directly_and_twice(tree):
    image = tree / "cats" / "wide.jpg"
    result = scan(ScanSettings(sources=(image, image), sizing=Sizing("shorter", length=10)))
    assert [record["source"] for record in result.records()] == ["wide.jpg"]


def test_records_file_has_one_sorted_line_per_file(run_cli, tree, tmp_path):
    (tree / "empty.jpg").write_bytes(b"")
    path = tmp_path / "records.jsonl"
    assert run_cli("scan", tree, "--records", path, "-j1").exit_code == 0
    lines = read_records(path)
    assert [line["source"] for line in lines] == sorted(line["source"] for line in lines)
    assert len(lines) == 10 and "resize" not in lines[0]  # no sizing: no geometry fields
    empty = next(line for line in lines if line["source"] == "empty.jpg")
    assert (empty["status"], empty["error"], empty["src_bytes"]) == ("unreadable", "empty file", 0)
    rotated = next(line for line in lines if line["source"] == "cats/rotated.jpg")
    assert (rotated["src_width"], rotated["src_height"], rotated["orientation"]) == (200, 300, 6)


def test_help_shows_the_scan_command(run_cli):
    assert "scan" in run_cli("--help").stdout
    text = run_cli("scan", "--help").stdout
    for option in ("--size", "--mode", "--crop", "--include", "--fail-on", "--json", "--records"):
        assert option in text


@pytest.mark.parametrize(
    ("options", "failing"),
    [
        # strip.png and thin.gif would be 9474x300 and 300x50000.
        (("--shorter", "300"), 2),
        # Cropped: pillow's default path builds only the 100x100 it keeps...
        (("--shorter", "300", "--crop", "100x100"), 0),
        # ...--exact and opencv build the whole resized image first.
        (("--shorter", "300", "--crop", "100x100", "--exact"), 2),
        (("--shorter", "300", "--crop", "100x100", "--backend", "opencv"), 2),
    ],
    ids=["whole", "cropped", "cropped-exact", "cropped-opencv"],
)
def test_images_too_large_for_the_job_fail_as_resize_fails_them(
    run_cli, tree, tmp_path, options, failing
):
    """--max-pixels also limits the resized image and the output: the same words as resize."""
    options = (*options, "--max-pixels", "300000")
    out = tmp_path / "out"
    run_cli("resize", tree, "-o", out, *options, "-j1", "-q")
    failed = {
        record["source"]: record["error"]
        for record in read_records(out / "manifest.jsonl")
        if record["status"] == "failed"
    }
    records = tmp_path / "scan.jsonl"
    result = run_cli("scan", tree, *options, "-j1", "--records", records, "--fail-on", "too-large")
    assert result.exit_code == (1 if failing else 0)
    predicted = {
        record["source"]: record["error"]
        for record in read_records(records)
        if record["status"] == "too-large"
    }
    assert predicted == failed and len(failed) == failing
    if failing:
        assert f"{failing} images too large for this job" in result.stderr


def test_links_that_lead_nowhere_are_unreadable(run_cli, tree):
    os.symlink(tree / "gone.jpg", tree / "dangling.jpg")
    document = json.loads(run_cli("scan", tree, "--json").stdout)
    assert [item["source"] for item in document["unreadable"]] == ["dangling.jpg"]
    assert document["images"] == 9


def test_names_that_are_not_utf8_are_escaped(run_cli, tree, tmp_path):
    name = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes: not UTF-8
    shutil.copyfile(tree / "cats" / "wide.jpg", tree / name)
    (tree / os.fsdecode(b"vide\xe9.png")).write_bytes(b"")
    records = tmp_path / "scan.jsonl"
    result = run_cli("scan", tree, "--records", records, "-j1")
    assert result.exit_code == 0
    assert "  vide\\udce9.png: empty file" in result.stdout
    sources = [record["source"] for record in read_records(records)]
    assert name in sources and os.fsencode(name) == b"caf\xe9.jpg"
    document = json.loads(run_cli("scan", tree, "--json", "-j1").stdout)
    assert document["unreadable"][0]["source"] == os.fsdecode(b"vide\xe9.png")
