"""File-system faults, for real: a full tmpfs, read-only bind mounts, files in the way, missing
permissions. Each mount is made by a fixture that always unmounts; where mounting is refused
(not root, no mount namespace) those tests skip and say why."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import read_records, save_photo
from PIL import Image

from resizer import faults
from resizer.engines.local import BATCH_LIMIT
from resizer.files import TEMP_MARK
from resizer.manifest import read_manifest
from resizer.state import journal_path


def resizer_run(*args, user_limits: bool = False) -> subprocess.CompletedProcess:
    """A real `resizer` process; with `user_limits`, without root's power over permissions."""
    return subprocess.run(
        [sys.executable, "-m", "resizer", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_drop_permission_override if user_limits else None,
    )


def _drop_permission_override() -> None:
    """Root ignores file modes; without these capabilities it obeys them like any user."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search, cap_fowner = 24, 1, 2, 3
    for capability in (cap_dac_override, cap_dac_read_search, cap_fowner):
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot drop capabilities")


def tree(src: Path) -> Path:
    save_photo(src / "cats" / "a.jpg", 120, 80, seed=1)
    save_photo(src / "cats" / "b.png", 90, 120, seed=2)
    save_photo(src / "dogs" / "c.jpg", 100, 100, seed=3)
    return src


def noise_tree(src: Path, count: int, width: int, height: int) -> Path:
    """PNGs of noise: they do not compress, so each output takes a known amount of disk."""
    src.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        pixels = np.random.default_rng(index).integers(0, 256, (height, width, 3), np.uint8)
        Image.fromarray(pixels).save(src / f"n{index:03d}.png")
    return src


def everything_under(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


def assert_clean_errors(records: list[dict], tmp_path: Path) -> None:
    """Errors name outputs relative to OUT: no temporary name, no absolute path."""
    for record in records:
        assert TEMP_MARK not in (record["error"] or ""), record
        assert str(tmp_path) not in (record["error"] or ""), record


# OUT that cannot take writes: one line, exit 2, nothing written, before any work.


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_read_only_out_is_one_usage_error_and_nothing_is_written(tmp_path, mount, dry_run):
    src, out = tree(tmp_path / "src"), tmp_path / "out"
    mount("read-only", out)
    result = resizer_run("resize", src, "-o", out, "--size", "32", *["--dry-run"] * dry_run)
    assert result.returncode == 2
    assert (
        result.stderr
        == f"resizer: cannot write to OUT {str(out)!r}: the file system is read-only\n"
    )
    assert result.stdout == ""  # not even the dry run's plan
    assert everything_under(out) == []


def test_an_out_that_cannot_be_created_in_a_read_only_folder(tmp_path, mount):
    src, parent = tree(tmp_path / "src"), mount("read-only", tmp_path / "shelf")
    result = resizer_run("resize", src, "-o", parent / "new" / "out", "--size", "32")
    assert result.returncode == 2
    out = str(parent / "new" / "out")
    assert result.stderr == f"resizer: cannot create OUT {out!r}: the file system is read-only\n"
    assert everything_under(parent) == []


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_out_below_a_regular_file(tmp_path, dry_run):
    src, blocker = tree(tmp_path / "src"), tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    out = blocker / "out"
    result = resizer_run("resize", src, "-o", out, "--size", "32", *["--dry-run"] * dry_run)
    assert result.returncode == 2
    assert result.stderr == (
        f"resizer: cannot create OUT {str(out)!r}: {str(blocker)!r} is a file, not a folder\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "src"]


def test_an_out_in_a_folder_without_write_permission(tmp_path):
    try:
        subprocess.run(["true"], preexec_fn=_drop_permission_override, check=True)
    except (subprocess.SubprocessError, OSError) as error:
        pytest.skip(f"cannot give up root's power over file modes here: {error}")
    src, locked = tree(tmp_path / "src"), tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = resizer_run("resize", src, "-o", locked / "out", "--size", "32", user_limits=True)
    finally:
        locked.chmod(0o755)
    assert result.returncode == 2, result.stderr
    out = str(locked / "out")
    assert result.stderr == f"resizer: cannot create OUT {out!r}: permission denied\n"
    assert list(locked.iterdir()) == []


def test_a_manifest_folder_that_cannot_take_writes_is_found_before_any_work(tmp_path, mount):
    src, out = tree(tmp_path / "src"), tmp_path / "out"
    shelf = mount("read-only", tmp_path / "shelf")
    result = resizer_run("resize", src, "-o", out, "--manifest", shelf / "m.jsonl", "--size", "32")
    assert result.returncode == 2
    assert "cannot write to the manifest's folder" in result.stderr
    assert "read-only" in result.stderr
    assert not out.exists()  # not even OUT was created


# A fault of one output folder fails its images; the rest of the run goes on.


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_read_only_subfolder_fails_only_the_images_that_go_there(tmp_path, mount, jobs):
    src, out = tree(tmp_path / "src"), tmp_path / "out"
    mount("read-only", out / "cats")
    result = resizer_run("resize", src, "-o", out, "--size", "32", "--jobs", jobs)
    assert result.returncode == 1, result.stderr
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert records["cats/a.jpg"]["error"] == "cannot write cats/a.jpg: the file system is read-only"
    assert records["cats/b.png"]["error"] == "cannot write cats/b.png: the file system is read-only"
    assert records["dogs/c.jpg"]["status"] == "ok"
    assert (out / "dogs" / "c.jpg").stat().st_size == records["dogs/c.jpg"]["bytes"]
    assert "stopped early" not in result.stderr
    assert "resizer: 1 ok, 0 skipped, 2 failed" in result.stderr
    assert_clean_errors(list(records.values()), tmp_path)


def test_an_output_folder_that_would_replace_a_file_fails_those_images_only(tmp_path):
    src, out = tree(tmp_path / "src"), tmp_path / "out"
    out.mkdir()
    (out / "cats").write_text("a file where a class folder would go")
    result = resizer_run("resize", src, "-o", out, "--size", "32", "--format", "png")
    assert result.returncode == 1, result.stderr
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert (
        records["cats/a.jpg"]["error"] == "cannot write cats/a.png: 'cats' is a file, not a folder"
    )
    assert (
        records["cats/b.png"]["error"] == "cannot write cats/b.png: 'cats' is a file, not a folder"
    )
    assert records["dogs/c.jpg"]["status"] == "ok"
    assert (out / "cats").read_text() == "a file where a class folder would go"
    assert_clean_errors(list(records.values()), tmp_path)


def test_a_folder_where_an_output_file_goes_fails_that_image(tmp_path):
    src, out = tree(tmp_path / "src"), tmp_path / "out"
    (out / "dogs" / "c.jpg").mkdir(parents=True)
    result = resizer_run("resize", src, "-o", out, "--size", "32")
    assert result.returncode == 1, result.stderr
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert records["dogs/c.jpg"]["error"] == (
        "cannot write dogs/c.jpg: a folder of that name is in the way"
    )
    assert [records[name]["status"] for name in ("cats/a.jpg", "cats/b.png")] == ["ok", "ok"]


# OUT itself fills up: the run stops early; what a user then sees and can do.


def test_a_full_disk_stops_the_run_early_and_leaves_no_partial_files(tmp_path, mount):
    src = noise_tree(tmp_path / "src", 160, 48, 40)  # 8 KiB of disk each: ~120 fit
    out = mount("full", tmp_path / "out")
    manifest = tmp_path / "manifest.jsonl"  # on a disk with room
    result = resizer_run(
        "resize", src, "-o", out, "--scale", "1", "--manifest", manifest, "--jobs", "2"
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    summary = result.stderr.splitlines()[-1]
    assert summary.endswith(
        "stopped early: OUT cannot take writes: the disk is full (no space left on device)"
    )
    records = read_records(manifest)
    ok = [r for r in records if r["status"] == "ok"]
    failed = [r for r in records if r["status"] == "failed"]
    assert 100 < len(ok) < 128
    # The first failure and the images in flight with it (two batches per worker).
    assert 1 <= len(failed) <= 2 * 2 * BATCH_LIMIT
    assert len(ok) + len(failed) < 160  # stopped early: the rest was never started
    for record in failed:
        assert record["error"] == (
            f"cannot write {record['output'] or record['source']}: "
            "the disk is full (no space left on device)"
        )
    for record in ok:
        assert (out / record["output"]).stat().st_size == record["bytes"]
    pending = [r for r in records if r["status"] == "pending"]
    assert len(ok) + len(failed) + len(pending) == 160  # every source has its record
    assert all("OUT cannot take writes: the disk is full" in r["error"] for r in pending)
    assert set(everything_under(out)) == {r["output"] for r in ok}  # no temp, probe or state
    assert_clean_errors(records, tmp_path)


def test_a_manifest_that_cannot_be_written_on_a_full_disk_is_said_and_the_journal_kept(
    tmp_path, mount
):
    src = noise_tree(tmp_path / "src", 160, 48, 40)
    out = mount("full", tmp_path / "out")
    # Outputs of ~6 KiB fill the disk to under one output's size; the manifest needs more.
    result = resizer_run("resize", src, "-o", out, "--scale", "1", "--json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    journal = journal_path(out)
    assert (
        f"resizer: cannot write the manifest {str(out / 'manifest.jsonl')!r}: the disk is full "
        f"(no space left on device); the finished work is kept in {str(journal)!r} for the next "
        "run\n"
    ) in result.stderr
    summary = json.loads(result.stdout)["summary"]  # --json still prints the whole document
    assert summary["exit_code"] == 1
    assert "cannot write the manifest" in summary["manifest_error"]
    assert not (out / "manifest.jsonl").exists()
    assert not [path for path in out.rglob("*") if TEMP_MARK in path.name]
    kept = [r for r in read_manifest(journal).values() if r["status"] == "ok"]
    assert kept
    for record in kept:
        assert (out / record["output"]).stat().st_size == record["bytes"]

    # Room is made; the next run takes the journal's finished work and does the rest.
    subprocess.run(["mount", "-o", "remount,size=4m", str(out)], check=True)
    again = resizer_run("resize", src, "-o", out, "--scale", "1", "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)["summary"]
    assert summary["skipped"] >= len(kept)
    assert summary["skipped"] + summary["ok"] == 160
    assert not journal.exists()
    assert len(read_records(out / "manifest.jsonl")) == 160


# The pieces: causes in words, obstacles, the probe.


def test_causes_are_words_without_paths():
    error = OSError(28, "No space left on device", "/abs/out/.a.jpg.resizer-tmp-1234")
    assert faults.cause(error) == "the disk is full (no space left on device)"
    assert faults.write_error(error, Path("/abs/out"), "cats/a.jpg") == (
        "cannot write cats/a.jpg: the disk is full (no space left on device)"
    )
    assert faults.cause(OSError(95, "Operation not supported")) == "operation not supported"


def test_obstacles_are_named_relative_to_out(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "file").write_text("x")
    assert (
        faults.obstacle(tmp_path, "a/b/file/deeper/x.jpg") == "'a/b/file' is a file, not a folder"
    )
    assert faults.obstacle(tmp_path, "a/b") == "a folder of that name is in the way"
    assert faults.obstacle(tmp_path, "a/new/x.jpg") is None


def test_the_probe_leaves_nothing_and_reports_a_full_disk(tmp_path, mount):
    assert faults.probe(tmp_path, 10_000) is None
    assert list(tmp_path.iterdir()) == []
    full = mount("full", tmp_path / "full")
    assert faults.probe(full, 512 * 1024) is None
    error = faults.probe(full, 2 * 1024 * 1024)
    assert isinstance(error, OSError) and error.errno == 28
    assert list(full.iterdir()) == []


# Paired masks have their own output root (OUT-masks beside OUT, or --masks-output).


def pairs(root: Path, count: int) -> tuple[Path, Path]:
    """Images with their label masks (random labels 0-3, as noise they do not compress)."""
    src, masks = root / "src", root / "masks"
    for index in range(count):
        save_photo(src / "scene" / f"i{index:02d}.jpg", 48, 40, seed=index)
        labels = np.random.default_rng(index).integers(0, 4, (40, 48), np.uint8)
        (masks / "scene").mkdir(parents=True, exist_ok=True)
        Image.fromarray(labels, "L").save(masks / "scene" / f"i{index:02d}.png")
    return src, masks


def test_a_masks_folder_that_cannot_be_written_is_a_usage_error(tmp_path, mount):
    src, masks = pairs(tmp_path, 2)
    shelf = mount("read-only", tmp_path / "shelf")
    args = ("resize", src, "-o", tmp_path / "out", "--size", "24", "--masks", masks)
    result = resizer_run(*args, "--masks-output", shelf)
    assert result.returncode == 2
    assert result.stderr == (
        f"resizer: cannot write to the masks folder {str(shelf)!r}: the file system is read-only\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_mask_that_cannot_be_written_fails_its_image_naming_the_mask(tmp_path):
    src, masks = pairs(tmp_path, 2)
    out, masks_out = tmp_path / "out", tmp_path / "labels"
    masks_out.mkdir()
    (masks_out / "scene").write_text("a file where the masks' folder would go")
    args = ("resize", src, "-o", out, "--size", "24", "--masks", masks)
    result = resizer_run(*args, "--masks-output", masks_out)
    assert result.returncode == 1, result.stderr
    errors = {r["source"]: r["error"] for r in read_records(out / "manifest.jsonl")}
    assert errors == {
        f"scene/i{index:02d}.jpg": (
            f"cannot write mask scene/i{index:02d}.png: 'scene' is a file, not a folder"
        )
        for index in range(2)
    }
    assert "stopped early" not in result.stderr


def test_a_full_masks_folder_stops_the_run(tmp_path, mount):
    src, masks = pairs(tmp_path, 12)
    masks_out = mount("full", tmp_path / "labels", size="16k")  # four pages: a few masks
    args = ("resize", src, "-o", tmp_path / "out", "--size", "48", "--masks", masks)
    result = resizer_run(*args, "--masks-output", masks_out, "--jobs", "1")
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].endswith(
        "stopped early: the masks folder cannot take writes: "
        "the disk is full (no space left on device)"
    )
    statuses = [r["status"] for r in read_records(tmp_path / "out" / "manifest.jsonl")]
    assert statuses.count("failed") == 1 and statuses.count("pending") >= 1
    assert not [path for path in masks_out.rglob("*") if TEMP_MARK in path.name]
