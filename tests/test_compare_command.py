"""`resizer compare` behaves as a command: table, JSON, sample and options, usage errors, exit
codes, as a program."""

from __future__ import annotations

import json
import subprocess
import sys

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
