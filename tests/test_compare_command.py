"""`resizer compare` behaves as a command: table, JSON, sample and options, usage errors, exit
codes, as a program."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


# --- on an object store (moto's S3 server on 127.0.0.1) ----------------------------------------

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
QUICK = ("--size", "64x64", "--interpolation", "bilinear", "--backend", "pillow", "-j", "1")


def _untimed(document: dict) -> dict:
    document.pop("seconds")
    for row in document["configurations"]:
        row.pop("ms_per_image")
    for image in document["images"]:
        for result in image["results"]:
            result.pop("ms")
    document["facts"] = [f for f in document["facts"] if not f.startswith("fastest")]
    return document


def test_a_bucket_compares_as_the_same_files_on_disk(s3):
    url = s3.upload(SAMPLES, s3.bucket(), "data/raw")
    s3.proxy.clear()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "resizer",
            "compare",
            url,
            *QUICK,
            "--sample",
            "4",
            "--json",
            *s3.options,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    remote = json.loads(done.stdout)
    gets = [r.key for r in s3.proxy.requests if r.key]
    assert len(gets) == 4 and len(set(gets)) == 4  # one whole GET per sampled image
    local = subprocess.run(
        [sys.executable, "-m", "resizer", "compare", SAMPLES, *QUICK, "--sample", "4", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    local = json.loads(local.stdout)
    assert (remote.pop("sources"), local.pop("sources")) == ([url], [str(SAMPLES)])
    assert _untimed(remote) == _untimed(local)


def test_compare_library_call_reads_objects(s3):
    from resizer import compare
    from resizer.options import make_settings

    url = s3.upload(SAMPLES / "coffee", s3.bucket(), "coffee")
    configs = compare.configurations(["bilinear"], ["pillow"])
    settings = make_settings(url, Path(), size="48", storage_options={"endpoint_url": s3.endpoint})
    remote = compare.compare(settings, configs, sample=3, seed=0)
    local = compare.compare(make_settings(SAMPLES / "coffee", Path(), size="48"), configs, 3, 0)
    assert [(i.source, i.size, i.error) for i in remote.images] == [
        (i.source, i.size, i.error) for i in local.images
    ]
    assert [m.psnr for i in remote.images for m in i.measures] == [
        m.psnr for i in local.images for m in i.measures
    ]


def test_an_unreadable_object_is_that_images_error(s3, run_cli):
    url = s3.upload(SAMPLES / "coffee", s3.bucket(), "coffee")
    s3.proxy.rules.append(lambda request: 403 if request.key.endswith("coffee.jpg") else None)
    result = run_cli("compare", url, *QUICK, "--json", *s3.options)
    assert result.exit_code == 1
    errors = {image["source"]: image["error"] for image in json.loads(result.stdout)["images"]}
    assert errors == {
        "coffee.jpg": "cannot read: access denied",
        "coffee_palette.png": None,
        "coffee_portrait.webp": None,
    }


def test_store_usage_errors_exit_2(s3, run_cli):
    bucket = s3.bucket()
    for url, cause in {
        f"s3://no-such-bucket-{bucket}/raw": "cannot be listed: no such bucket",
        f"s3://{bucket}/nothing": "does not exist (no object under it)",
    }.items():
        result = run_cli("compare", url, "--size", "32", *s3.options)
        assert result.exit_code == 2
        assert f"SRC {url!r} {cause}" in result.stderr
    result = run_cli(
        "compare", f"s3://{bucket}/x", "--size", "32", "--storage-option", "password=x"
    )
    assert result.exit_code == 2 and "looks like a credential" in result.stderr
