"""`resizer compare`: the pipeline it measures is the one `resize` writes with, every number is
checked against an independent computation, the sample is deterministic, and the command
behaves as a command (table, JSON, sheet, exit codes)."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_job, save_photo
from PIL import Image
from skimage.metrics import structural_similarity
from test_compare_render import cutout_png, turned_jpeg

from resizer import compare
from resizer.geometry import Sizing
from resizer.plan import make_plan
from resizer.settings import BACKENDS, INTERPOLATIONS, Settings

ALL = compare.configurations()


def settings_for(src: Path, **options) -> Settings:
    options.setdefault("sizing", Sizing("size", width=40, height=40))
    return Settings(sources=(src,), out=Path(), **options)


def pixel_options(settings: Settings) -> dict:
    return {
        "sizing": settings.sizing,
        "interpolation": settings.interpolation,
        "backend": settings.backend,
        "exact": settings.exact,
    }


@pytest.mark.parametrize(
    ("name", "make", "options"),
    [
        ("turned.jpg", turned_jpeg, {"mode": "fill"}),
        ("cutout.png", cutout_png, {"mode": "pad", "pad_color": (10, 200, 30)}),
    ],
)
def test_measured_bytes_are_those_resize_writes_for_every_configuration(
    tmp_path, name, make, options
):
    """measure_image decodes once per decoding path and shares it: the pixels must still be
    exactly those of `resizer resize`, whose file sizes the bytes column reports."""
    source = make(tmp_path / "src" / name)
    fmt = "jpeg" if name.endswith(".jpg") else "png"
    settings = settings_for(source.parent, **options)

    report = compare.measure_image(str(source), name, settings, ALL, crop=0)

    assert report.error is None
    for config, measure in zip(ALL, report.measures, strict=True):
        configured = replace(settings, interpolation=config.interpolation,
                             backend=config.backend, exact=config.exact)  # fmt: skip
        out = tmp_path / "out" / config.label.replace("/", "-").replace(" ", "")
        written = run_job(source, out, fmt, **options, **pixel_options(configured))
        assert measure.bytes == written.bytes, config.label


# --- each number against an independent computation -----------------------------------------


def pillow_float_lanczos(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    channels = [
        np.asarray(
            Image.fromarray(rgb[..., c].astype(np.float32), "F").resize(
                size, Image.Resampling.LANCZOS
            ),
            dtype=np.float64,
        )
        for c in range(rgb.shape[2])
    ]
    return np.clip(np.stack(channels, axis=2), 0, 255)


def direct_psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2))


def test_psnr_ssim_and_bytes_of_a_measure_equal_an_independent_computation(tmp_path):
    """120x80 -> fill 48x48: resized 72x48, columns 12..60 kept. The candidates are the
    documented one-call resizes of --exact; the reference is Pillow's float Lanczos."""
    source = save_photo(tmp_path / "src" / "photo.png", 120, 80, seed=5)
    rgb = np.asarray(Image.open(source))
    settings = settings_for(source.parent, sizing=Sizing("size", width=48, height=48), mode="fill")
    wanted = [
        compare.Configuration("lanczos", "pillow", True),
        compare.Configuration("bilinear", "opencv", True),
        compare.Configuration("nearest", "opencv", True),
    ]

    report = compare.measure_image(str(source), "photo.png", settings, wanted, crop=0)

    reference = pillow_float_lanczos(rgb, (72, 48))[:, 12:60]
    candidates = [
        np.asarray(Image.open(source).resize((72, 48), Image.Resampling.LANCZOS))[:, 12:60],
        cv2.resize(rgb, (72, 48), interpolation=cv2.INTER_LINEAR)[:, 12:60],
        cv2.resize(rgb, (72, 48), interpolation=cv2.INTER_NEAREST)[:, 12:60],
    ]
    assert report.error is None and report.size == (120, 80)
    for config, measure, candidate in zip(wanted, report.measures, candidates, strict=True):
        expected_ssim = structural_similarity(
            candidate.astype(np.float64),
            reference,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
            channel_axis=2,
        )
        assert measure.psnr == pytest.approx(direct_psnr(candidate, reference), abs=0.005)
        assert measure.ssim == pytest.approx(expected_ssim, abs=1e-6)
        written = run_job(
            source,
            tmp_path / config.backend,
            "png",
            **pixel_options(
                replace(
                    settings, interpolation=config.interpolation, backend=config.backend, exact=True
                )
            ),
            mode="fill",
        )
        assert measure.bytes == written.bytes
        assert measure.seconds > 0
    assert report.measures[0].psnr > report.measures[1].psnr > report.measures[2].psnr


def test_alpha_images_are_measured_premultiplied(tmp_path):
    """The colour under alpha 0 differs wildly between kernels but is invisible: it must not
    count. Pillow premultiplies; so both --exact lanczos outputs are close to the reference."""
    source = cutout_png(tmp_path / "src" / "cutout.png")
    settings = settings_for(source.parent, sizing=Sizing("size", width=45, height=30))
    wanted = [compare.Configuration("lanczos", "pillow", True)]

    report = compare.measure_image(str(source), "cutout.png", settings, wanted, crop=0)

    assert report.measures[0].psnr > 45


@pytest.mark.parametrize(
    "aliasing",
    [
        ("nearest", "pillow", False),
        ("nearest", "opencv", False),
        ("nearest", "opencv", True),
        ("bilinear", "opencv", True),
        ("lanczos", "opencv", True),
    ],
)
def test_on_a_zone_plate_plain_sampling_scores_clearly_worse_than_pillow_lanczos(aliasing):
    """512 -> 128 through the real pipeline. OpenCV's kernels do not widen with --exact."""
    settings = settings_for(Path(), sizing=Sizing("size", width=128, height=128))
    good = [
        compare.measure_zone_plate((512, 512), settings, compare.Configuration(*c), 0).score
        for c in (("lanczos", "pillow", False), ("lanczos", "pillow", True))
    ]
    bad = compare.measure_zone_plate((512, 512), settings, compare.Configuration(*aliasing), 0)
    assert max(good) < 0.1
    assert bad.score > 0.35 and bad.score > 4 * max(good)


def test_the_zone_plate_reference_is_the_float_lanczos_and_scores_low():
    settings = settings_for(Path(), sizing=Sizing("size", width=128, height=128))
    zone = compare.measure_zone_plate((512, 512), settings, None, crop=16)
    assert zone.score < 0.1
    assert zone.crop.shape == (16, 16, 3) and zone.crop.dtype == np.uint8


def test_zone_plate_is_sized_as_the_median_image_by_pixels():
    reports = [
        compare.ImageReport("a", size=(10, 10)),
        compare.ImageReport("b", size=(400, 300)),
        compare.ImageReport("c", size=(30, 20)),
        compare.ImageReport("d", size=(4000, 3000)),
        compare.ImageReport("e", error="bad", size=None),
    ]
    assert compare.zone_plate_size(reports) == (30, 20)  # lower middle of 4
    assert compare.zone_plate_size(reports[:3]) == (30, 20)
    assert compare.zone_plate_size([reports[4]]) is None


# --- sample ---------------------------------------------------------------------------------


def test_sample_is_seeded_and_independent_of_listing_order():
    images = [(f"class{i % 3}/img{i:02}.jpg", f"/data/{i}") for i in range(30)]
    shuffled = images[:]
    random.Random(5).shuffle(shuffled)

    first = compare.choose(images, 5, seed=7)

    assert first == compare.choose(shuffled, 5, seed=7)
    assert first == sorted(first) and len(set(first)) == 5
    assert any(compare.choose(images, 5, seed=s) != first for s in range(8))
    assert compare.choose(shuffled, 50, seed=1) == sorted(images)


def test_find_images_lists_what_resize_would_process(tmp_path):
    src = tmp_path / "src"
    save_photo(src / "b" / "two.png", 20, 20)
    save_photo(src / "a" / "one.jpg", 20, 20)
    save_photo(src / ".hidden" / "three.png", 20, 20)
    (src / "notes.txt").write_text("not an image")
    settings = settings_for(src)

    found = compare.find_images(settings)

    planned = make_plan(replace(settings, out=tmp_path / "out")).jobs
    assert [name for name, _ in found] == ["a/one.jpg", "b/two.png"]
    assert sorted((job.name, job.source) for job in planned) == found


def test_configurations_cover_every_kernel_backend_and_path_in_order():
    assert len(ALL) == len(INTERPOLATIONS) * len(BACKENDS) * 2 == 20
    assert ALL[0].label == "nearest/pillow" and ALL[1].label == "nearest/pillow --exact"
    assert ALL[2].label == "nearest/opencv"
    only = compare.configurations(["lanczos", "area"], ["opencv"])
    assert [c.label for c in only] == [
        "lanczos/opencv",
        "lanczos/opencv --exact",
        "area/opencv",
        "area/opencv --exact",
    ]


# --- the command ----------------------------------------------------------------------------


def test_compare_results_do_not_depend_on_jobs(run_cli, small_tree):
    one = json.loads(run_cli("compare", small_tree, "--scale", "0.3", "-j", "1", "--json").stdout)
    two = json.loads(run_cli("compare", small_tree, "--scale", "0.3", "-j", "2", "--json").stdout)
    for document in (one, two):
        document.pop("seconds")
        for row in document["configurations"]:
            row.pop("ms_per_image")
        for image in document["images"]:
            for result in image["results"]:
                result.pop("ms")
        document["facts"] = [f for f in document["facts"] if not f.startswith("fastest")]
    assert one == two


def test_compare_samples_with_the_seed(run_cli, small_tree):
    samples = {
        seed: json.loads(
            run_cli(
                "compare",
                small_tree,
                "--size",
                "32",
                "--sample",
                "2",
                "--seed",
                seed,
                "-j",
                "1",
                "--interpolation",
                "nearest",
                "--backend",
                "pillow",
                "--json",
            ).stdout
        )["sample"]
        for seed in ("0", "1", "2", "3")
    }
    assert all(len(sample) == 2 for sample in samples.values())
    assert len({tuple(sample) for sample in samples.values()}) > 1
    again = run_cli(
        "compare",
        small_tree,
        "--size",
        "32",
        "--sample",
        "2",
        "--seed",
        "1",
        "-j",
        "1",
        "--interpolation",
        "nearest",
        "--backend",
        "pillow",
        "--json",
    )
    assert json.loads(again.stdout)["sample"] == samples["1"]


def test_compare_measures_only_the_chosen_kernels_and_backends(run_cli, small_tree):
    result = run_cli(
        "compare",
        small_tree,
        "--size",
        "32",
        "-j",
        "1",
        "--interpolation",
        "lanczos",
        "--interpolation",
        "nearest",
        "--backend",
        "opencv",
        "--json",
    )
    labels = [c["label"] for c in json.loads(result.stdout)["configurations"]]
    assert labels == [
        "nearest/opencv",
        "nearest/opencv --exact",
        "lanczos/opencv",
        "lanczos/opencv --exact",
    ]


def test_compare_bytes_follow_format_and_quality(run_cli, small_tree):
    def bytes_of(*options):
        result = run_cli(
            "compare",
            small_tree,
            "--size",
            "64",
            "-j",
            "1",
            "--interpolation",
            "lanczos",
            "--backend",
            "pillow",
            "--json",
            *options,
        )
        return json.loads(result.stdout)["configurations"][0]["bytes_per_image"]

    assert bytes_of("--format", "jpeg", "--quality", "30") < bytes_of("--format", "jpeg")
    assert bytes_of("--format", "png") > bytes_of("--format", "jpeg")


def test_compare_usage_errors_are_those_of_resize(run_cli, small_tree, tmp_path):
    for options in ([], ["--size", "10", "--scale", "2"], ["--shorter", "5", "--mode", "pad"]):
        compared = run_cli("compare", small_tree, *options)
        resized = run_cli("resize", small_tree, "-o", tmp_path / "out", *options)
        assert compared.exit_code == resized.exit_code == 2
        assert compared.stderr.splitlines()[-1] == resized.stderr.splitlines()[-1]


def test_compare_with_no_image_or_a_missing_source_is_a_usage_error(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("compare", tmp_path / "empty", "--size", "32")
    assert result.exit_code == 2 and "no images found under" in result.stderr
    result = run_cli("compare", tmp_path / "missing", "--size", "32")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_a_bad_image_in_the_sample_is_reported_and_the_others_measured(run_cli, small_tree):
    (small_tree / "cats" / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")

    result = run_cli(
        "compare",
        small_tree,
        "--size",
        "32",
        "--backend",
        "pillow",
        "--interpolation",
        "bilinear",
        "--json",
    )

    assert result.exit_code == 1
    assert "resizer: cats/broken.jpg: " in result.stderr
    document = json.loads(result.stdout)
    broken = [image for image in document["images"] if image["source"] == "cats/broken.jpg"]
    assert broken[0]["error"] and broken[0]["results"] == []
    assert all(c["images"] == 4 for c in document["configurations"])
    assert "on 4 of 5 images" in result.stderr


def test_compare_help_offers_resizes_sizing_and_format_options(run_cli):
    result = run_cli("compare", "--help")
    assert result.exit_code == 0
    for option in (
        "--size",
        "--shorter",
        "--longer",
        "--scale",
        "--mode",
        "--crop",
        "--no-upscale",
        "--format",
        "--quality",
        "--sample",
        "--seed",
        "--sheet",
    ):
        assert option in result.stdout


def test_compare_runs_as_a_program(small_tree):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "resizer",
            "compare",
            str(small_tree),
            "--shorter",
            "40",
            "--interpolation",
            "area",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert [c["label"] for c in document["configurations"]][:2] == [
        "area/pillow",
        "area/pillow --exact",
    ]


def test_a_decoder_crash_fails_that_image_alone(small_tree):
    """The fault-injection format kills its process with SIGSEGV when opened: the images that
    shared the pool are measured again, each alone; the crashing one is reported."""
    poison = Path(__file__).resolve().parent / "poison"
    sys.path.insert(0, str(poison))
    try:
        from sitecustomize import poison_bytes
    finally:
        sys.path.remove(str(poison))
    (small_tree / "cats" / "crash.jpg").write_bytes(poison_bytes("SEGV"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(poison), *sys.path])}

    done = subprocess.run(
        [sys.executable, "-m", "resizer", "compare", str(small_tree), "--size", "32",
         "--interpolation", "bilinear", "--backend", "pillow", "--jobs", "2", "--json"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    assert "resizer: cats/crash.jpg: worker process crashed (SIGSEGV) while decoding this file" in (
        done.stderr
    )
    document = json.loads(done.stdout)
    measured = [image["source"] for image in document["images"] if image["error"] is None]
    assert measured == ["cats/a.jpg", "cats/b.png", "dogs/c.jpg", "dogs/d.webp"]
    assert all(c["images"] == 4 for c in document["configurations"])


def test_a_target_over_max_pixels_fails_each_image_as_resize_does(tmp_path):
    source = save_photo(tmp_path / "src" / "photo.png", 120, 80, seed=5)
    settings = settings_for(source.parent, sizing=Sizing("scale", factor=Fraction(1000)))

    report = compare.measure_image(str(source), "photo.png", settings, ALL[:2], crop=0)

    written = run_job(source, tmp_path / "out", "png", sizing=settings.sizing)
    assert written.status == "failed" and "too large for this image" in written.error
    assert report.error == written.error and report.measures == []


def test_undecodable_names_are_escaped_in_messages_and_links_to_nothing_left_out(
    run_cli, small_tree
):
    broken = os.fsdecode(b"caf\xe9.jpg")
    (small_tree / "cats" / broken).write_bytes(b"not an image at all")
    (small_tree / "dogs" / "gone.jpg").symlink_to(small_tree / "nowhere.jpg")

    result = run_cli("compare", small_tree, "--size", "32", "-j", "1", "--backend", "pillow",
                     "--interpolation", "area", "--json")  # fmt: skip

    assert result.exit_code == 1
    assert "resizer: cats/caf\\udce9.jpg: not an image" in result.stderr
    document = json.loads(result.stdout)
    assert document["found"] == 5 and "dogs/gone.jpg" not in document["sample"]
    assert os.fsencode(document["sample"][2]) == b"cats/caf\xe9.jpg"


def test_an_empty_file_fails_with_the_cause_resize_gives(tmp_path):
    source = tmp_path / "src" / "empty.jpg"
    source.parent.mkdir()
    source.write_bytes(b"")
    settings = settings_for(source.parent)

    report = compare.measure_image(str(source), "empty.jpg", settings, ALL[:2], crop=0)

    written = run_job(source, tmp_path / "out", "jpeg", sizing=settings.sizing)
    assert report.error == written.error == "empty file"


def test_compare_takes_resizes_recipe_and_rounding(run_cli, small_tree):
    """--recipe torchvision-eval: --shorter 256 --crop 224x224 --rounding floor, PNG."""
    result = run_cli("compare", small_tree, "--recipe", "torchvision-eval", "-j", "1",
                     "--interpolation", "bilinear", "--backend", "pillow", "--json")  # fmt: skip

    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["options"]["sizing"] == {"kind": "shorter", "length": 256}
    assert document["options"]["crop"] == [224, 224]
    assert document["options"]["rounding"] == "floor" and document["options"]["format"] == "png"
    assert [c["label"] for c in document["configurations"]] == [
        "bilinear/pillow", "bilinear/pillow --exact",
    ]  # fmt: skip
    floor = run_cli("compare", small_tree, "--scale", "0.3", "--rounding", "floor", "-j", "1",
                    "--interpolation", "area", "--backend", "pillow", "--json")  # fmt: skip
    assert json.loads(floor.stdout)["options"]["rounding"] == "floor"
