"""`resizer` as a user types it: help, option parsing, usage errors, and whole runs on disk."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_IMAGES, read_records, save_photo
from PIL import Image

from resizer import __version__
from resizer.settings import DEFAULT_MAX_PIXELS

SUMMARY = re.compile(
    r"^resizer: (\d+) ok, (\d+) skipped, (\d+) failed in \d+\.\d s \(\d+\.\d images/s\)$"
)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}


def output_sizes(out: Path) -> dict[str, tuple[int, int]]:
    """Every image file under `out` (relative POSIX path) with its size on disk."""
    sizes = {}
    for path in sorted(out.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and ".resizer" not in path.parts:
            with Image.open(path) as image:
                sizes[path.relative_to(out).as_posix()] = image.size
    return sizes


@pytest.fixture
def one_photo(tmp_path: Path) -> Path:
    """A single 120x80 PNG (lossless, so sizes are all that matters)."""
    return save_photo(tmp_path / "src" / "photo.png", 120, 80, seed=4)


# --- help and version -------------------------------------------------------------------------


def test_resize_help_shows_examples_and_the_width_height_order(run_cli):
    result = run_cli("resize", "--help")
    assert result.exit_code == 0
    assert "Sizes are WIDTHxHEIGHT (torchvision and Keras take height, width)" in result.stdout
    assert "Examples:" in result.stdout
    assert "resizer resize val -o val224 --recipe torchvision-eval" in result.stdout
    for option in ("--size", "--shorter", "--longer", "--scale", "--mode", "--crop", "--json"):
        assert option in result.stdout
    assert "Exit status:" in result.stdout


def test_top_level_help_lists_the_resize_command(run_cli):
    result = run_cli("--help")
    assert result.exit_code == 0
    assert "resize" in result.stdout


def test_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"resizer, version {__version__}"


def test_python_dash_m_resizer_works():
    completed = subprocess.run(
        [sys.executable, "-m", "resizer", "resize", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Usage: resizer resize" in completed.stdout
    assert "WIDTHxHEIGHT" in completed.stdout


# --- sizes as typed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("224x224", (224, 149)),  # fit: 80 * 224/120 = 149.33
        ("224X224", (224, 149)),
        ("224×224", (224, 149)),
        ("640", (640, 427)),  # width only: 426.67 -> 427
        ("x480", (720, 480)),  # height only
        ("60x60", (60, 40)),
    ],
)
def test_size_forms(run_cli, one_photo, tmp_path, size, expected):
    out = tmp_path / "out"
    result = run_cli("resize", one_photo.parent, "-o", out, "--size", size, "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    assert output_sizes(out) == {"photo.png": expected}


@pytest.mark.parametrize("value", ["abc", "0x10", "10x0", "x", "10x", "x0", "-5", "1.5x2", ""])
def test_bad_size_is_a_usage_error_naming_the_value(run_cli, one_photo, tmp_path, value):
    out = tmp_path / "out"
    result = run_cli("resize", one_photo.parent, "-o", out, "--size", value)
    assert result.exit_code == 2
    assert "--size" in result.stderr
    assert repr(value) in result.stderr
    assert not out.exists()


def test_crop_needs_both_sides(run_cli, one_photo, tmp_path):
    out = tmp_path / "out"
    result = run_cli("resize", one_photo.parent, "-o", out, "--shorter", "64", "--crop", "224")
    assert result.exit_code == 2
    assert "'224' needs both sides" in result.stderr
    assert not out.exists()


# --- usage errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ((), "give exactly one of --size, --shorter, --longer, --scale (given: none)"),
        (("--size", "64x64", "--shorter", "64"), "(given: --size, --shorter)"),
        (("--longer", "64", "--scale", "0.5"), "(given: --longer, --scale)"),
        (("--size", "224", "--mode", "fill"), "--mode fill needs --size with both sides"),
        (("--size", "x224", "--mode", "pad"), "--mode pad needs --size with both sides"),
        (("--shorter", "256", "--mode", "stretch"), "--mode stretch needs --size"),
        (
            ("--size", "64", "--quality", "0"),
            "--quality 0 is out of range: it must be from 1 to 100",
        ),
        (
            ("--size", "64", "--quality", "101"),
            "--quality 101 is out of range: it must be from 1 to 100",
        ),
        (("--size", "64", "--pad-color", "notacolour"), "'notacolour' is not a colour"),
        (("--scale", "0"), "'0' must be greater than 0"),
        (("--scale", "-0.5"), "'-0.5' must be greater than 0"),
        (("--scale", "half"), "'half' is not a number"),
        (("--shorter", "0"), "--shorter 0 is out of range: it must be at least 1"),
        (
            ("--size", "64", "--mode", "cover"),
            "--mode 'cover' is not one of fit, fill, pad, stretch",
        ),
        (("--size", "64", "--jobs", "0"), "--jobs 0 is out of range: it must be at least 1"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(run_cli, one_photo, tmp_path, options, message):
    out = tmp_path / "out"
    result = run_cli("resize", one_photo.parent, "-o", out, *options)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not out.exists()


def test_out_inside_src_is_a_usage_error(run_cli, one_photo):
    src = one_photo.parent
    result = run_cli("resize", src, "-o", src / "small", "--size", "64")
    assert result.exit_code == 2
    assert "is inside SRC" in result.stderr
    assert not (src / "small").exists()


# --- whole runs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ("--size", "64x64"),
            {"cats/a.jpg": (64, 43), "cats/b.png": (48, 64), "dogs/c.jpg": (64, 64)},
        ),
        (
            ("--size", "64x64", "--mode", "fill"),
            {"cats/a.jpg": (64, 64), "cats/b.png": (64, 64), "dogs/c.jpg": (64, 64)},
        ),
        (
            ("--size", "64x64", "--mode", "pad"),
            {"cats/a.jpg": (64, 64), "cats/b.png": (64, 64), "dogs/c.jpg": (64, 64)},
        ),
        (
            ("--size", "50x70", "--mode", "stretch"),
            {"cats/a.jpg": (50, 70), "cats/b.png": (50, 70), "dogs/c.jpg": (50, 70)},
        ),
        (
            ("--shorter", "40", "--crop", "32x32"),
            {"cats/a.jpg": (32, 32), "cats/b.png": (32, 32), "dogs/c.jpg": (32, 32)},
        ),
        (
            ("--shorter", "40"),
            {"cats/a.jpg": (60, 40), "cats/b.png": (40, 53), "dogs/c.jpg": (40, 40)},
        ),
        (
            ("--longer", "30", "--format", "webp"),
            {"cats/a.webp": (30, 20), "cats/b.webp": (23, 30), "dogs/c.webp": (30, 30)},
        ),
        (
            ("--scale", "0.25"),
            {"cats/a.jpg": (30, 20), "cats/b.png": (23, 30), "dogs/c.jpg": (25, 25)},
        ),
        (
            ("--size", "100x100", "--no-upscale"),
            {"cats/a.jpg": (100, 67), "cats/b.png": (75, 100), "dogs/c.jpg": (100, 100)},
        ),
        (
            ("--size", "200x200", "--no-upscale", "--mode", "fill"),
            {"cats/a.jpg": (120, 80), "cats/b.png": (90, 120), "dogs/c.jpg": (100, 100)},
        ),
    ],
)
def test_run_writes_the_tree_with_the_right_sizes(run_cli, photo_tree, tmp_path, options, expected):
    out = tmp_path / "out"
    result = run_cli("resize", photo_tree, "-o", out, "--jobs", "1", *options)
    assert result.exit_code == 0, result.stderr
    assert output_sizes(out) == expected
    records = read_records(out / "manifest.jsonl")
    assert [r["status"] for r in records] == ["ok", "ok", "ok"]
    assert {r["output"]: (r["width"], r["height"]) for r in records} == expected


def test_summary_line_on_stderr_and_nothing_on_stdout(run_cli, photo_tree, tmp_path):
    result = run_cli("resize", photo_tree, "-o", tmp_path / "out", "--size", "32", "--jobs", "1")
    assert result.exit_code == 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert SUMMARY.match(lines[0]).groups() == ("3", "0", "0")


def test_rerun_skips_what_is_up_to_date(run_cli, photo_tree, tmp_path):
    out = tmp_path / "out"
    first = run_cli("resize", photo_tree, "-o", out, "--size", "32", "--jobs", "1")
    assert first.exit_code == 0
    again = run_cli("resize", photo_tree, "-o", out, "--size", "32", "--jobs", "1")
    assert again.exit_code == 0
    assert SUMMARY.match(again.stderr.splitlines()[-1]).groups() == ("0", "3", "0")


def test_json_prints_one_document_with_the_counts(run_cli, photo_tree, tmp_path):
    out = tmp_path / "out"
    result = run_cli("resize", photo_tree, "-o", out, "--size", "32", "--jobs", "1", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)  # the whole of stdout is one JSON document
    summary = document["summary"]
    assert (summary["ok"], summary["skipped"], summary["failed"]) == (3, 0, 0)
    assert summary["exit_code"] == 0
    assert document["manifest"] == str(out / "manifest.jsonl")
    assert document["settings"]["sizing"] == {"kind": "size", "width": 32}
    assert document["settings"]["max_pixels"] == DEFAULT_MAX_PIXELS
    assert set(document["versions"]) >= {"resizer", "pillow", "opencv"}
    assert SUMMARY.match(result.stderr.strip())  # the human line still goes to stderr


def test_dry_run_prints_the_plan_and_writes_nothing(run_cli, photo_tree, tmp_path):
    out = tmp_path / "out"
    result = run_cli(
        "resize", photo_tree, "-o", out, "--size", "32", "--format", "png", "--dry-run"
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "cats/a.jpg -> cats/a.png",
        "cats/b.png -> cats/b.png",
        "dogs/c.jpg -> dogs/c.png",
    ]
    assert "dry run: 3 to do" in result.stderr
    assert not out.exists()


def test_dry_run_json_is_the_plan(run_cli, photo_tree, tmp_path):
    out = tmp_path / "out"
    (photo_tree / "notes.txt").write_text("not an image")
    result = run_cli("resize", photo_tree, "-o", out, "--size", "32", "--dry-run", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["to_do"] == [
        {"source": "cats/a.jpg", "output": "cats/a.jpg"},
        {"source": "cats/b.png", "output": "cats/b.png"},
        {"source": "dogs/c.jpg", "output": "dogs/c.jpg"},
    ]
    assert document["up_to_date"] == []
    assert document["ignored_files"] == 1
    assert not out.exists()


def test_quiet_prints_nothing_on_success(run_cli, photo_tree, tmp_path):
    out = tmp_path / "out"
    result = run_cli("resize", photo_tree, "-o", out, "--size", "32", "--jobs", "1", "-q")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == ""
    assert len(output_sizes(out)) == 3


def test_one_corrupt_file_fails_alone_with_exit_1(run_cli, photo_tree, tmp_path):
    good = (photo_tree / "dogs" / "c.jpg").read_bytes()
    (photo_tree / "dogs" / "broken.jpg").write_bytes(good[: len(good) // 2])
    out = tmp_path / "out"
    result = run_cli("resize", photo_tree, "-o", out, "--size", "32x32", "--jobs", "1")
    assert result.exit_code == 1
    assert output_sizes(out) == {
        "cats/a.jpg": (32, 21),
        "cats/b.png": (24, 32),
        "dogs/c.jpg": (32, 32),
    }
    lines = result.stderr.splitlines()
    assert any(line.startswith("resizer: failed: dogs/broken.jpg: ") for line in lines)
    assert SUMMARY.match(lines[-1]).groups() == ("3", "0", "1")
    failed = [r for r in read_records(out / "manifest.jsonl") if r["status"] == "failed"]
    assert [(r["source"], r["output"]) for r in failed] == [("dogs/broken.jpg", None)]


def test_images_over_the_default_pixel_limit_fail_as_bombs(run_cli, tmp_path):
    """Pillow's own limit applies by default: read from the header, never decoded."""
    src = tmp_path / "src"
    src.mkdir()
    Image.new("1", (10000, 9000)).save(src / "bomb.png")  # 90 M pixels > 89,478,485
    save_photo(src / "fine.png", 40, 30)
    out = tmp_path / "out"
    result = run_cli("resize", src, "-o", out, "--size", "16", "--jobs", "1")
    assert result.exit_code == 1
    assert "failed: bomb.png: decompression bomb" in result.stderr
    assert output_sizes(out) == {"fine.png": (16, 12)}
    lowered = run_cli("resize", src, "-o", out, "--size", "16", "-j1", "--max-pixels", "1000")
    assert "failed: fine.png: decompression bomb" in lowered.stderr


def test_readme_job_on_the_sample_images(run_cli, tmp_path):
    """`resizer resize sample_images -o out --size 224x224 --mode fill`: all exactly 224x224."""
    out = tmp_path / "out"
    result = run_cli(
        "resize", SAMPLE_IMAGES, "-o", out, "--size", "224x224", "--mode", "fill", "--jobs", "1"
    )
    assert result.exit_code == 0, result.stderr
    sources = sorted(
        path.relative_to(SAMPLE_IMAGES).as_posix()
        for path in SAMPLE_IMAGES.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES
    )
    assert len(sources) >= 10
    sizes = output_sizes(out)
    assert len(sizes) == len(sources)
    assert set(sizes.values()) == {(224, 224)}
    records = read_records(out / "manifest.jsonl")
    assert sorted(r["source"] for r in records) == sources
    assert {(r["status"], r["width"], r["height"]) for r in records} == {("ok", 224, 224)}


def test_crop_larger_than_a_fill_box_is_a_usage_error(photo_tree, tmp_path, run_cli):
    result = run_cli(
        "resize", photo_tree, "-o", tmp_path / "out", "--size", "32x32", "--mode", "fill",
        "--crop", "40x30",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "would bring back the pixels that fill" in result.output
    assert not (tmp_path / "out").exists()


# --- aliases, recipes, rounding, one output file --------------------------------------------


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        (("--format", "jpg"), ("--format", "jpeg")),
        (("--interpolation", "linear"), ("--interpolation", "bilinear")),
        (("--interpolation", "cubic"), ("--interpolation", "bicubic")),
        (("--interpolation", "lanczos4"), ("--interpolation", "lanczos")),
        (("--interpolation", "box"), ("--interpolation", "area")),
    ],
)
def test_opencv_and_pillow_names_are_aliases(run_cli, one_photo, tmp_path, alias, canonical):
    """An OpenCV user's first try works, and an alias does not change the fingerprint."""
    ran = {}
    for name, options in (("alias", alias), ("canonical", canonical)):
        out = tmp_path / name
        result = run_cli("resize", one_photo.parent, "-o", out, "--size", "60", "-j1", *options)
        assert result.exit_code == 0, result.stderr
        ran[name] = read_records(out / "manifest.jsonl")[0]
    assert ran["alias"]["fingerprint"] == ran["canonical"]["fingerprint"]
    assert ran["alias"]["sha256"] == ran["canonical"]["sha256"]


def test_recipe_options_given_explicitly_win_even_at_their_default(run_cli, one_photo, tmp_path):
    out = tmp_path / "out"
    result = run_cli(
        "resize", one_photo.parent, "-o", out, "--recipe", "torchvision-eval",
        "--interpolation", "lanczos", "--json", "-j1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]
    assert settings["interpolation"] == "lanczos"  # typed, though it is the default
    assert (settings["rounding"], settings["exact"], settings["format"]) == ("floor", True, "png")
    assert settings["sizing"] == {"kind": "shorter", "length": 256}
    assert output_sizes(out) == {"photo.png": (224, 224)}
    undone = run_cli(
        "resize", one_photo.parent, "-o", tmp_path / "fast", "--recipe", "torchvision-eval",
        "--no-exact", "--json", "-j1",
    )  # fmt: skip
    assert json.loads(undone.stdout)["settings"]["exact"] is False


def test_rounding_floor(run_cli, tmp_path):
    save_photo(tmp_path / "src" / "photo.png", 64, 43)  # 64 * 32/43 = 47.63
    for rounding, width in (("half-up", 48), ("floor", 47)):
        out = tmp_path / rounding
        options = ("--shorter", "32", "--rounding", rounding, "-j1")
        assert run_cli("resize", tmp_path / "src", "-o", out, *options).exit_code == 0
        assert output_sizes(out) == {"photo.png": (width, 32)}


def test_one_file_to_an_output_file(run_cli, one_photo, tmp_path):
    """`-o small.jpg` with one SRC file writes that file, manifest beside it; a re-run finds
    it up to date (OUT now exists as a file)."""
    out = tmp_path / "thumbs" / "small.jpg"
    for counts in (("1", "0", "0"), ("0", "1", "0")):
        result = run_cli("resize", one_photo, "-o", out, "--longer", "60", "-j1")
        assert result.exit_code == 0, result.stderr
        assert SUMMARY.match(result.stderr.splitlines()[-1]).groups() == counts
    assert sorted(p.name for p in out.parent.iterdir() if not p.name.startswith(".")) == [
        "small.jpg", "small.manifest.jsonl", "small.manifest.run.json"
    ]  # fmt: skip
    with Image.open(out) as image:
        assert (image.format, image.size) == ("JPEG", (60, 40))
    record = read_records(out.parent / "small.manifest.jsonl")[0]
    assert (record["source"], record["output"], record["format"]) == (
        "photo.png",
        "small.jpg",
        "jpeg",
    )
    dry = run_cli("resize", one_photo, "-o", out, "--longer", "30", "--dry-run")
    assert dry.stdout == "photo.png -> small.jpg\n"


def test_an_output_file_name_for_a_folder_is_a_usage_error(run_cli, photo_tree, tmp_path):
    result = run_cli("resize", photo_tree, "-o", tmp_path / "small.jpg", "--size", "32")
    assert result.exit_code == 2
    assert "names an image file, which takes exactly one SRC image file" in result.stderr
    assert not (tmp_path / "small.jpg").exists()
