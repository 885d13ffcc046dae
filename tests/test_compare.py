"""`resizer compare`: the pipeline it measures is the one `resize` writes with, every number is
checked against an independent computation, and the sample is deterministic (the command:
test_compare_command.py; images that cannot be measured: test_compare_faults.py)."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from compare_cases import ALL, settings_for
from conftest import run_job, save_photo
from PIL import Image
from skimage.metrics import structural_similarity
from test_compare_render import cutout_png, turned_jpeg

from resizer import compare
from resizer.geometry import Sizing
from resizer.plan import make_plan
from resizer.settings import BACKENDS, INTERPOLATIONS, Settings


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
