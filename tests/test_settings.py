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
from resizer.settings import Settings

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
    "json": {"json": True},
    "masks_output": {"masks": Path("m"), "masks_output": Path("elsewhere")},
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
    assert set(BASE.output_options()) == output_names | {"output_version"}


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
