"""Settings.fingerprint decides whether an earlier output is still valid on a re-run.

It must change with every option that changes output bytes (or a stale output would be kept)
and stay put for options that only change how the run goes (or every re-run would redo all).
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from resizer.geometry import Sizing
from resizer.settings import OptionError, Settings, ShardSize

BASE = Settings(
    sources=(Path("src"),),
    out=Path("out"),
    sizing=Sizing("size", width=224, height=224),
    max_pixels=89478485,
)


def test_fingerprint_is_stable_for_equal_options():
    again = Settings(
        sources=(Path("src"),),
        out=Path("out"),
        sizing=Sizing("size", width=224, height=224),
        max_pixels=89478485,
    )
    assert again.fingerprint == BASE.fingerprint
    assert len(BASE.fingerprint) == 16
    int(BASE.fingerprint, 16)


def test_fingerprint_survives_a_pickle_round_trip():
    """Workers receive Settings pickled; their records must carry the parent's fingerprint."""
    fresh = dataclasses.replace(BASE, mode="pad")
    assert pickle.loads(pickle.dumps(fresh)).fingerprint == fresh.fingerprint
    computed = dataclasses.replace(BASE, mode="fill")
    expected = computed.fingerprint
    assert pickle.loads(pickle.dumps(computed)).fingerprint == expected


def test_fingerprint_is_the_same_in_another_interpreter():
    """Hash randomisation and dict order must not leak into the value a manifest stores."""
    code = (
        "from pathlib import Path; from resizer.geometry import Sizing; "
        "from resizer.settings import Settings; "
        "print(Settings(sources=(Path('src'),), out=Path('out'), "
        "sizing=Sizing('size', width=224, height=224), max_pixels=89478485).fingerprint)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert output.stdout.strip() == BASE.fingerprint


OUTPUT_CHANGES = {
    "sizing: other box": {"sizing": Sizing("size", width=224, height=160)},
    "sizing: width only": {"sizing": Sizing("size", width=224)},
    "sizing: height only": {"sizing": Sizing("size", height=224)},
    "sizing: shorter": {"sizing": Sizing("shorter", length=224)},
    "sizing: longer": {"sizing": Sizing("longer", length=224)},
    "sizing: scale": {"sizing": Sizing("scale", factor=Fraction(1, 2))},
    "mode": {"mode": "fill"},
    "crop": {"crop": (200, 200)},
    "upscale": {"upscale": False},
    "interpolation": {"interpolation": "bicubic"},
    "backend": {"backend": "opencv"},
    "exact": {"exact": True},
    "format": {"format": "webp"},
    "keep_extension": {"keep_extension": True},
    "quality": {"quality": 80},
    "pad_color": {"pad_color": (255, 255, 255)},
    "max_pixels": {"max_pixels": 1000},
    "rounding": {"rounding": "floor"},
}


@pytest.mark.parametrize("changes", OUTPUT_CHANGES.values(), ids=OUTPUT_CHANGES.keys())
def test_fingerprint_changes_with_every_output_option(changes):
    assert dataclasses.replace(BASE, **changes).fingerprint != BASE.fingerprint


def test_fingerprints_of_different_output_options_are_all_distinct():
    prints = {dataclasses.replace(BASE, **c).fingerprint for c in OUTPUT_CHANGES.values()}
    assert len(prints) == len(OUTPUT_CHANGES)
    assert BASE.fingerprint not in prints


def test_scale_factors_that_differ_only_slightly_have_different_fingerprints():
    half = dataclasses.replace(BASE, sizing=Sizing("scale", factor=Fraction(1, 2)))
    near = dataclasses.replace(BASE, sizing=Sizing("scale", factor=Fraction(5001, 10000)))
    assert half.fingerprint != near.fingerprint


RUN_ONLY_CHANGES = {
    "sources": {"sources": (Path("elsewhere"), Path("more"))},
    "out": {"out": Path("other-out")},
    "manifest": {"manifest": Path("m.csv")},
    "storage_options": {"storage_options": (("endpoint_url", "http://127.0.0.1:9000"),)},
    "include": {"include": ("*.jpg",)},
    "exclude": {"exclude": ("*.png",)},
    "follow_symlinks": {"follow_symlinks": True},
    "jobs": {"jobs": 7},
    "progress": {"progress": True},
    "verbosity": {"verbosity": -1},
    "dry_run": {"dry_run": True},
    "fail_fast": {"fail_fast": True},
    "force": {"force": True},
    "timeout": {"timeout": 5.0},
    "wait": {"wait": True},
    "masks_output": {"masks": Path("m"), "masks_output": Path("elsewhere")},
    "preview": {"preview": Path("preview.png")},
    "preview_count": {"preview_count": 3},
    "preview_seed": {"preview_seed": 7},
    "output_name": {"output_name": "small.jpg"},
    "engine": {"engine": "dask"},
    "scheduler": {"engine": "dask", "scheduler": "tcp://127.0.0.1:8786"},
    # The same image bytes go into a tree or into shards.
    "container": {"container": "webdataset"},
    "shard_size": {"shard_size": ShardSize(5, "bytes")},
}
# Options of paired masks: they decide the mask outputs, so they count once --masks is given.
MASK_CHANGES = {
    "masks": {"masks": Path("other-masks")},
    "mask_pad": {"mask_pad": 255},
    "mask_resampling": {"mask_resampling": "majority"},
}


@pytest.mark.parametrize("changes", RUN_ONLY_CHANGES.values(), ids=RUN_ONLY_CHANGES.keys())
def test_fingerprint_ignores_run_only_options(changes):
    base = dataclasses.replace(BASE, masks=changes["masks"]) if "masks" in changes else BASE
    assert dataclasses.replace(BASE, **changes).fingerprint == base.fingerprint


@pytest.mark.parametrize("changes", MASK_CHANGES.values(), ids=MASK_CHANGES.keys())
def test_mask_options_change_the_fingerprint_only_with_masks(changes):
    with_masks = dataclasses.replace(BASE, masks=Path("m"))
    assert dataclasses.replace(with_masks, **changes).fingerprint != with_masks.fingerprint
    if "masks" not in changes:
        assert dataclasses.replace(BASE, **changes).fingerprint == BASE.fingerprint


def test_every_option_is_classified():
    """A new option must be listed above as output-affecting or run-only."""
    names = {field.name for field in dataclasses.fields(Settings)}
    output_names = {name.split(":")[0] for name in OUTPUT_CHANGES}
    assert names == output_names | set(RUN_ONLY_CHANGES) | set(MASK_CHANGES)
    added_later = {"rounding"}  # fingerprinted only away from its default
    assert set(BASE.output_options()) == output_names - added_later | {"output_version"}


def test_options_added_later_leave_existing_fingerprints_unchanged():
    """Upgrading resizer must not redo every output of an existing dataset: at their defaults,
    options added later are not part of the fingerprint. The value is what resizer stored for
    these options before --rounding existed (output version 4)."""
    assert BASE.fingerprint == "b1b155c2a01df7c4"
    assert dataclasses.replace(BASE, rounding="half-up").fingerprint == "b1b155c2a01df7c4"
    assert dataclasses.replace(BASE, rounding="floor").fingerprint != "b1b155c2a01df7c4"


def test_manifest_path_defaults_into_out():
    assert BASE.manifest_path == Path("out") / "manifest.jsonl"
    chosen = dataclasses.replace(BASE, manifest=Path("records/m.csv"))
    assert chosen.manifest_path == Path("records/m.csv")


def test_record_of_settings_is_plain_json():
    import json

    record = dataclasses.replace(
        BASE, sizing=Sizing("scale", factor=Fraction(1, 3)), crop=(10, 20)
    ).as_record()
    assert json.loads(json.dumps(record)) == record
    assert record["sizing"] == {"kind": "scale", "factor": "1/3"}
    assert record["crop"] == [10, 20]
    assert record["sources"] == ["src"]


# --- validation: one place, for the command and the Python API -----------------------------


BAD_VALUES = {
    "mode": ({"mode": "cover"}, "--mode 'cover' is not one of fit, fill, pad, stretch"),
    "interpolation": (
        {"interpolation": "linear"},
        "--interpolation 'linear' is not one of nearest, bilinear, bicubic, lanczos, area",
    ),
    "backend": ({"backend": "vips"}, "--backend 'vips' is not one of pillow, opencv"),
    "format": (
        {"format": "avif"},
        "--format 'avif' is not one of keep, jpeg, png, webp, tiff, bmp, gif",
    ),
    "rounding": ({"rounding": "up"}, "--rounding 'up' is not one of half-up, floor"),
    "quality": ({"quality": 0}, "--quality 0 is out of range: it must be from 1 to 100"),
    "quality type": ({"quality": "90"}, "--quality '90' is not a whole number"),
    "max_pixels": ({"max_pixels": 0}, "--max-pixels 0 is out of range: it must be at least 1"),
    "jobs": ({"jobs": -1}, "--jobs -1 is out of range: it must be at least 0"),
    "timeout": ({"timeout": 0}, "--timeout 0 must be a number of seconds greater than 0"),
    "no sizing": (
        {"sizing": None},
        "give exactly one of --size, --shorter, --longer, --scale (given: none)",
    ),
    "shorter": ({"sizing": Sizing("shorter", length=0)}, "--shorter 0 is out of range"),
    "scale": (
        {"sizing": Sizing("scale", factor=Fraction(0))},
        "--scale 0 must be a number greater than 0",
    ),
    "mode needs box": (
        {"sizing": Sizing("shorter", length=9), "mode": "pad"},
        "--mode pad needs --size with both sides (WxH)",
    ),
    "crop": ({"crop": (0, 5)}, "--crop 0 is out of range"),
    "crop beyond fill": (
        {"mode": "fill", "crop": (300, 10)},
        "--crop larger than --size with --mode fill would bring back the pixels",
    ),
    "pad_color": ({"pad_color": (300, 0, 0)}, "--pad-color (300, 0, 0) is not (R, G, B)"),
    "sources": ({"sources": ()}, "give at least one SRC"),
    "mask_pad": ({"mask_pad": 65536}, "--mask-pad 65536 is out of range: it must be from 0 to"),
    "mask_resampling": (
        {"mask_resampling": "mode"},
        "--mask-resampling 'mode' is not one of nearest, majority",
    ),
}


@pytest.mark.parametrize(("changes", "message"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_settings_refuse_bad_values_with_the_commands_message(changes, message):
    """Settings validate themselves: a bad mode can no longer reach the workers and fail
    every image of a run that then "succeeds"."""
    with pytest.raises(OptionError) as caught:
        dataclasses.replace(BASE, **changes)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_manifest_of_one_output_file_sits_beside_it():
    single = dataclasses.replace(BASE, output_name="small.jpg")
    assert single.manifest_path == Path("out") / "small.manifest.jsonl"
