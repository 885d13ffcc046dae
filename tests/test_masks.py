"""Paired masks (`resize --masks`): the image's geometry, label values and PNG format kept,
failures per pair, re-runs; and the mask resampling itself."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from labels_scene import BOXES, save_scene, stored_scene
from PIL import Image

from resizer.geometry import Sizing
from resizer.masks import transform_mask
from resizer.settings import Settings

LABELS = {colour: index for index, colour in enumerate(BOXES, 1)}


def scene_mask(orientation: int) -> Image.Image:
    """The label mask of the scene as stored: box k has label k, background 0 (palette PNG)."""
    pixels = np.asarray(stored_scene(orientation))
    labels = np.zeros(pixels.shape[:2], dtype=np.uint8)
    for colour, label in LABELS.items():
        labels[np.all(pixels == colour, axis=2)] = label
    mask = Image.fromarray(labels, "P")
    grey = [50, 50, 50] * 4  # labels 6-9: unused, but in the palette (9 pads)
    mask.putpalette([0, 0, 0, *(value for colour in BOXES for value in colour), *grey])
    return mask


def chunks(data: bytes) -> dict[bytes, bytes]:
    found, position = {}, 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        found.setdefault(kind, data[position + 8 : position + 8 + length])
        position += 12 + length
    return found


@pytest.fixture
def pairs(tmp_path) -> tuple[Path, Path]:
    src, masks = tmp_path / "src", tmp_path / "masks"
    for orientation in range(1, 9):
        save_scene(src / "scene" / f"o{orientation}.jpg", orientation)
        (masks / "scene").mkdir(parents=True, exist_ok=True)
        scene_mask(orientation).save(masks / "scene" / f"o{orientation}.png")
    return src, masks


@pytest.mark.parametrize(
    "options",
    [["--size", "96x96", "--mode", "fill"], ["--size", "96x96", "--mode", "pad"],
     ["--shorter", "80", "--crop", "72x72"], ["--size", "100x90", "--mode", "stretch"]],
    ids=["fill", "pad", "shorter-crop", "stretch"],
)  # fmt: skip
def test_masks_get_the_geometry_of_their_image(pairs, tmp_path, run_cli, options):
    """Each label's region in the output mask is where its colour is in the output image."""
    src, masks = pairs
    out = tmp_path / "out"
    done = run_cli("resize", src, "-o", out, *options, "--masks", masks, "--mask-pad", "9",
                   "--pad-color", "#808080", "-j", "1")  # fmt: skip
    assert done.exit_code == 0, done.output
    records = {r["source"]: r for r in map(json.loads, (out / "manifest.jsonl").open())}
    for orientation in range(1, 9):
        record = records[f"scene/o{orientation}.jpg"]
        assert record["mask_output"] == f"scene/o{orientation}.png"
        data = (tmp_path / "out-masks" / record["mask_output"]).read_bytes()
        assert record["mask_bytes"] == len(data)
        mask = Image.open(tmp_path / "out-masks" / record["mask_output"])
        assert mask.mode == "P" and mask.size == (record["width"], record["height"])
        labels = np.asarray(mask)
        image = np.asarray(Image.open(out / record["output"]).convert("RGB")).astype(int)
        for colour, label in LABELS.items():
            near = np.abs(image - colour).max(axis=2) < 40  # clearly this box's colour
            if not near.any():
                continue
            # Nearest sampling may move an edge by one pixel, never more.
            inside = labels[near]
            assert np.mean(inside == label) > 0.97, (orientation, label)
            ys, xs = np.nonzero(labels == label)
            ys2, xs2 = np.nonzero(near)
            assert abs(xs.min() - xs2.min()) <= 1 and abs(xs.max() - xs2.max()) <= 1
            assert abs(ys.min() - ys2.min()) <= 1 and abs(ys.max() - ys2.max()) <= 1
        assert set(np.unique(labels)) <= {0, *LABELS.values(), 9}
        if record["pad_offset"] != [0, 0]:
            assert labels[0, 0] == 9  # padding takes --mask-pad


@pytest.mark.parametrize(
    ("mode", "bits", "colours"),
    [("P", 4, 16), ("P", 8, 3), ("P", 2, 4), ("P", 1, 2), ("L", 8, None), ("I;16", 16, None),
     ("1", 1, None)],
)  # fmt: skip
def test_palette_bit_depth_and_transparency_are_kept_byte_for_byte(tmp_path, mode, bits, colours):
    rng = np.random.default_rng(bits)
    top = (colours or 2) - 1 if mode in ("P", "1") else (1000 if mode == "I;16" else 200)
    values = rng.integers(0, top + 1, size=(160, 240))  # the scene's size
    if mode == "I;16":
        source = Image.fromarray(values.astype("<u2"))
        source = source if source.mode == "I;16" else source.convert("I;16")
    elif mode == "1":
        source = Image.fromarray((values * 255).astype(np.uint8)).convert("1")
    else:
        source = Image.fromarray(values.astype(np.uint8), mode)
    options = {}
    if mode == "P":
        source.putpalette([(i * 37 + c * 11) % 256 for i in range(colours) for c in range(3)])
        options = {"bits": bits, "transparency": bytes(range(colours))[:2]}
    path = tmp_path / "masks" / "a.png"
    path.parent.mkdir()
    source.save(path, **options)
    save_scene(tmp_path / "src" / "a.jpg", 1)
    from conftest import run_job

    result = run_job(tmp_path / "src" / "a.jpg", tmp_path / "out", "jpeg",
                     sizing=Sizing("size", 50, 50), mode="pad", masks=tmp_path / "masks",
                     masks_output=tmp_path / "mo")  # fmt: skip
    assert result.status == "ok", result.error
    before, after = chunks(path.read_bytes()), chunks((tmp_path / "mo" / "a.png").read_bytes())
    assert after[b"IHDR"][8:10] == before[b"IHDR"][8:10]  # bit depth and colour type
    assert after.get(b"PLTE") == before.get(b"PLTE") and after.get(b"tRNS") == before.get(b"tRNS")
    written = np.asarray(Image.open(tmp_path / "mo" / "a.png"))
    assert set(np.unique(written)) <= set(np.unique(np.asarray(source)))


def test_majority_keeps_the_label_covering_most_and_nearest_samples(tmp_path):
    # 4x4 blocks: 10 pixels of label 1, 6 of label 2, with label 2 where nearest samples.
    block = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 2, 2], [2, 2, 2, 2]], dtype=np.uint8)
    mask = Image.fromarray(np.tile(block, (2, 2)), "L")
    nearest = transform_mask(mask, 1, (2, 2), (0, 0, 2, 2))
    majority = transform_mask(mask, 1, (2, 2), (0, 0, 2, 2), resampling="majority")
    assert np.asarray(nearest).tolist() == [[2, 2], [2, 2]]
    assert np.asarray(majority).tolist() == [[1, 1], [1, 1]]
    colour = Image.fromarray(np.stack([np.tile(block, (2, 2)) * 100] * 3, axis=2), "RGB")
    voted = np.asarray(transform_mask(colour, 1, (2, 2), (0, 0, 2, 2), resampling="majority"))
    assert voted.reshape(-1, 3).tolist() == [[100, 100, 100]] * 4


def test_random_labels_never_gain_a_value(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.choice([0, 3, 7, 200], size=(97, 131)).astype(np.uint8)
    for resampling in ("nearest", "majority"):
        for size in ((13, 17), (40, 30), (300, 250)):
            out = transform_mask(Image.fromarray(values, "L"), 6, size, (-3, -2, *size), 0,
                                 resampling)  # fmt: skip
            assert set(np.unique(np.asarray(out))) <= {0, 3, 7, 200}


def test_a_bad_pair_fails_alone_and_reruns_follow_the_mask(tmp_path, run_cli):
    src, masks, out = tmp_path / "src", tmp_path / "masks", tmp_path / "out"
    for name in ("good", "missing", "small", "upright"):
        save_scene(src / f"{name}.jpg", 6)
    masks.mkdir()
    scene_mask(6).save(masks / "good.png")
    scene_mask(6).resize((10, 10)).save(masks / "small.png")
    scene_mask(1).save(masks / "upright.png")  # drawn on the upright image: no turn needed
    options = ("resize", src, "-o", out, "--size", "60x60", "--masks", masks, "-j", "1")
    done = run_cli(*options)
    assert done.exit_code == 1
    records = {r["source"]: r for r in map(json.loads, (out / "manifest.jsonl").open())}
    assert records["missing.jpg"]["error"] == f"mask missing.png is missing from {masks}"
    assert records["small.jpg"]["error"] == (
        "mask small.png: mask is 10x10, but its image is 160x240 as stored (240x160 upright)"
    )
    assert not (out / "missing.jpg").exists() and not (out / "small.jpg").exists()
    good = np.asarray(Image.open(tmp_path / "out-masks" / "good.png"))
    assert np.array_equal(good, np.asarray(Image.open(tmp_path / "out-masks" / "upright.png")))

    scene_mask(6).save(masks / "missing.png")
    done = run_cli(*options, "-v")
    assert done.exit_code == 1 and "missing.jpg" in done.stderr and "good.jpg" not in done.stderr
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert run_cli(*options).exit_code == 1  # small.jpg still fails, and is retried
    again = (out / "manifest.jsonl").read_text().splitlines()
    ok = [line for line in lines if '"status": "ok"' in line]
    assert len(ok) == 3 and all(line in again for line in ok)  # the pairs done stay as they were
    (tmp_path / "out-masks" / "good.png").unlink()
    done = run_cli(*options, "-v")
    assert "good.jpg" in done.stderr and (tmp_path / "out-masks" / "good.png").exists()
    os.utime(masks / "good.png", ns=(1, 1))  # an edited mask: its pair is redone
    done = run_cli(*options, "-v")
    assert "good.jpg" in done.stderr and "upright.jpg" not in done.stderr


def test_mask_locations_and_pad_values_are_checked(tmp_path, run_cli):
    src, masks = tmp_path / "src", tmp_path / "masks"
    save_scene(src / "a.jpg", 1)
    masks.mkdir()
    scene_mask(1).save(masks / "a.png")
    base = ("resize", src, "-o", tmp_path / "out", "--size", "60x60")
    done = run_cli(*base, "--masks", tmp_path / "nowhere")
    assert done.exit_code == 2 and "is not a folder" in done.stderr
    done = run_cli(*base, "--masks", masks, "--masks-output", masks / "small")
    assert done.exit_code == 2 and "inside the input" in done.stderr
    save_scene(src / "a.png", 1)
    done = run_cli(*base, "--masks", masks)
    assert done.exit_code == 2 and "would both write the mask 'a.png'" in done.stderr
    (src / "a.png").unlink()
    done = run_cli(*base, "--mode", "pad", "--masks", masks, "--mask-pad", "255")
    assert done.exit_code == 1
    assert "--mask-pad 255 is not in the mask's palette of 10 colours" in done.stderr


def test_runs_without_masks_keep_their_fingerprint():
    plain = Settings(sources=(Path("s"),), out=Path("o"), sizing=Sizing("size", 8, 8))
    assert not any(name.startswith("mask") for name in plain.output_options())
    paired = Settings(
        sources=(Path("s"),), out=Path("o"), sizing=Sizing("size", 8, 8), masks=Path("m")
    )
    assert paired.output_options()["mask_pad"] == 0 and paired.fingerprint != plain.fingerprint
    assert paired.masks_out == Path("o").absolute().with_name("o-masks")
