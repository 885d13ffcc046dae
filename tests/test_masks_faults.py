"""Paired masks whose output cannot be written, for real (a read-only bind mount inside the
masks output): the pair fails as one, naming the mask output and the cause, and OUT holds no
image without its mask, on a first run as on a re-run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import save_photo
from PIL import Image


def pair_tree(tmp_path: Path) -> tuple[Path, Path]:
    """src/ of three images in two classes, masks/ of their label masks (same stored size)."""
    src, masks = tmp_path / "src", tmp_path / "masks"
    for name, (width, height) in {"cats/a": (120, 80), "cats/b": (90, 120),
                                  "dogs/c": (100, 100)}.items():  # fmt: skip
        save_photo(src / f"{name}.jpg", width, height, seed=len(name) + width)
        labels = np.zeros((height, width), np.uint8)
        labels[height // 4 :, : width // 2] = 3
        (masks / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(labels, "L").save(masks / f"{name}.png")
    return src, masks


def records_of(out: Path) -> dict[str, dict]:
    lines = (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return {record["source"]: record for record in map(json.loads, lines)}


def images_in(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))


def test_a_mask_that_cannot_be_written_fails_its_pair_and_leaves_no_image(tmp_path, mount, run_cli):
    src, masks = pair_tree(tmp_path)
    out, masks_out = tmp_path / "out", tmp_path / "out-masks"
    mount("read-only", masks_out / "cats")

    done = run_cli("resize", src, "-o", out, "--size", "48", "--masks", masks, "-j", "1")

    assert done.exit_code == 1
    records = records_of(out)
    for name in ("cats/a", "cats/b"):
        record = records[f"{name}.jpg"]
        assert record["status"] == "failed"
        assert record["error"] == f"cannot write mask {name}.png: the file system is read-only"
        assert record["output"] is None and record["mask_output"] is None
    assert records["dogs/c.jpg"]["status"] == "ok"
    assert images_in(out) == ["dogs/c.jpg"]  # no image of a failed pair, no temporary file
    assert sorted(p.name for p in out.rglob("*")) == [
        "c.jpg", "dogs", "manifest.jsonl", "manifest.run.json"
    ]  # fmt: skip
    assert (masks_out / "dogs" / "c.png").is_file()


def test_on_a_rerun_a_pair_whose_mask_fails_leaves_no_image_and_the_old_one_is_removed(
    tmp_path, mount, run_cli
):
    """The earlier output is still what resizer wrote for the earlier record, so it is removed
    like any output whose source no longer has one; the new image never appeared."""
    src, masks = pair_tree(tmp_path)
    out, masks_out = tmp_path / "out", tmp_path / "out-masks"
    options = ("resize", src, "-o", out, "--size", "48", "--masks", masks, "-j", "1")
    assert run_cli(*options).exit_code == 0
    assert images_in(out) == ["cats/a.jpg", "cats/b.jpg", "dogs/c.jpg"]
    save_photo(src / "cats" / "a.jpg", 120, 80, seed=99)  # new pixels, same size as its mask
    mount("read-only", masks_out / "cats")

    done = run_cli(*options)

    assert done.exit_code == 1
    records = records_of(out)
    assert records["cats/a.jpg"]["status"] == "failed"
    assert records["cats/a.jpg"]["error"] == (
        "cannot write mask cats/a.png: the file system is read-only"
    )
    assert records["cats/b.jpg"]["status"] == records["dogs/c.jpg"]["status"] == "ok"
    assert images_in(out) == ["cats/b.jpg", "dogs/c.jpg"]


def test_an_image_that_cannot_be_written_takes_its_mask_back(tmp_path, mount, run_cli):
    """The mask is written first: when its image then fails, no mask is left without it."""
    src, masks = pair_tree(tmp_path)
    out, masks_out = tmp_path / "out", tmp_path / "out-masks"
    mount("read-only", out / "cats")

    done = run_cli("resize", src, "-o", out, "--size", "48", "--masks", masks, "-j", "1")

    assert done.exit_code == 1
    records = records_of(out)
    assert records["cats/a.jpg"]["error"] == "cannot write cats/a.jpg: the file system is read-only"
    assert records["cats/b.jpg"]["status"] == "failed"
    assert sorted(p.relative_to(masks_out).as_posix() for p in masks_out.rglob("*.png")) == [
        "dogs/c.png"
    ]
