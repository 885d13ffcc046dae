"""OUT's state (lock, journal) never becomes part of the dataset; runs on one OUT never collide."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from conftest import read_records, save_photo

from resizer.state import JOURNAL_NAME, LOCK_NAME, BusyError, locked

IMAGE_SUFFIXES = {".jpg", ".png"}


def resize_args(src: Path, out: Path, *extra: str) -> list[str]:
    return ["resize", str(src), "-o", str(out), "--size", "32x32", "--jobs", "1", *extra]


def image_folder_classes(root: Path) -> list[str]:
    """Class discovery as torchvision's ImageFolder does it: every sub-folder of the root,
    dot-folders included, is a class."""
    return sorted(entry.name for entry in os.scandir(root) if entry.is_dir())


def folders_holding_images(root: Path) -> set[str]:
    return {
        path.parent.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.suffix in IMAGE_SUFFIXES
    }


@pytest.fixture
def class_tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    save_photo(src / "cat" / "a.jpg", 60, 40)
    save_photo(src / "cat" / "young" / "b.png", 40, 60, seed=1)
    save_photo(src / "dog" / "c.jpg", 50, 50, seed=2)
    (src / "empty_notes").mkdir()
    (src / "empty_notes" / "readme.txt").write_text("not an image")
    return src


def test_out_is_a_dataset_a_loader_takes_as_it_is(class_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    result = run_cli(*resize_args(class_tree, out))
    assert result.exit_code == 0, result.output
    assert image_folder_classes(out) == ["cat", "dog"]  # no state folder as class 0
    folders = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_dir()}
    assert folders == folders_holding_images(class_tree)
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == [
        "manifest.jsonl",
        "manifest.run.json",
    ]


def test_a_failed_run_and_a_fail_fast_stop_leave_no_state_behind(class_tree, tmp_path, run_cli):
    (class_tree / "cat" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    out = tmp_path / "out"
    result = run_cli(*resize_args(class_tree, out, "--fail-fast"))
    assert result.exit_code == 1
    assert not (out / LOCK_NAME).exists() and not (out / JOURNAL_NAME).exists()
    assert not (out / ".resizer").exists()


def test_fail_fast_records_every_source_it_did_not_reach_as_pending(class_tree, tmp_path, run_cli):
    (class_tree / "cat" / "a0_broken.jpg").write_bytes(b"")
    out = tmp_path / "out"
    result = run_cli(*resize_args(class_tree, out, "--fail-fast"))
    assert result.exit_code == 1
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert sorted(records) == ["cat/a.jpg", "cat/a0_broken.jpg", "cat/young/b.png", "dog/c.jpg"]
    assert records["cat/a0_broken.jpg"]["status"] == "failed"
    pending = [r for r in records.values() if r["status"] == "pending"]
    assert pending, "the run stopped at the first image"
    for record in pending:
        assert record["error"] == (
            "not processed: the run stopped early (fail-fast); run again to finish"
        )
        assert record["output"] is None
    again = run_cli(*resize_args(class_tree, out))
    assert again.exit_code == 1  # the broken file still fails; the rest is done now
    statuses = {r["source"]: r["status"] for r in read_records(out / "manifest.jsonl")}
    assert sorted(statuses.values()) == ["failed", "ok", "ok", "ok"]


def test_a_pending_record_describes_the_earlier_output_still_in_out(class_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    run_cli(*resize_args(class_tree, out))
    earlier = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    save_photo(class_tree / "dog" / "c.jpg", 70, 30, seed=5)  # changed: to be redone
    (class_tree / "cat" / "0_broken.jpg").write_bytes(b"")  # fails first, stops the run
    run_cli(*resize_args(class_tree, out, "--fail-fast"))
    record = {r["source"]: r for r in read_records(out / "manifest.jsonl")}["dog/c.jpg"]
    assert record["status"] == "pending"
    assert (record["output"], record["sha256"]) == (
        earlier["dog/c.jpg"]["output"],
        earlier["dog/c.jpg"]["sha256"],
    )
    assert (out / record["output"]).stat().st_size == record["bytes"]


def test_a_killed_runs_state_left_in_an_older_state_folder_is_finished_and_removed(
    class_tree, tmp_path, run_cli
):
    out = tmp_path / "out"
    run_cli(*resize_args(class_tree, out))
    legacy = out / ".resizer"
    legacy.mkdir()
    (legacy / "lock").write_text("pid 1")
    (legacy / "journal.jsonl").write_text((out / "manifest.jsonl").read_text())
    (out / "manifest.jsonl").unlink()
    result = run_cli(*resize_args(class_tree, out))
    assert "0 ok, 3 skipped, 0 failed" in result.stderr
    assert not legacy.exists()
    assert image_folder_classes(out) == ["cat", "dog"]


def test_an_older_state_folder_holding_anything_else_is_left_alone(class_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    (out / ".resizer").mkdir(parents=True)
    (out / ".resizer" / "mine.txt").write_text("a user's file")
    run_cli(*resize_args(class_tree, out))
    assert (out / ".resizer" / "mine.txt").read_text() == "a user's file"


def test_no_images_found_is_said_on_stderr_and_is_not_an_error(tmp_path, run_cli):
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.txt").write_text("no images here")
    result = run_cli(*resize_args(src, tmp_path / "out", "--json"))
    assert result.exit_code == 0
    assert "resizer: no images found (1 other files ignored); nothing to do" in result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert (summary["found"], summary["ok"], summary["ignored_files"]) == (0, 0, 1)


def test_the_lock_is_exclusive_and_its_file_is_removed_after_the_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with locked(out, wait=False) as waited:
        assert not waited
        assert (out / LOCK_NAME).read_text() == f"pid {os.getpid()}"
        busy = pytest.raises(BusyError, match=f"another resizer run \\(pid {os.getpid()}\\)")
        with busy, locked(out, wait=False):
            pass
    assert not (out / LOCK_NAME).exists()


def _until_a_lock_is_waited_for() -> None:
    """Linux lists a blocked flock in /proc/locks with a '->' mark."""
    proc_locks = Path("/proc/locks")
    if not proc_locks.exists():
        pytest.skip("needs /proc/locks to see that the waiter is blocked")
    deadline = time.monotonic() + 10
    while "->" not in proc_locks.read_text():
        assert time.monotonic() < deadline, "the waiter never blocked on the lock"
        time.sleep(0.01)


def test_a_waiter_whose_lock_file_was_removed_under_it_locks_the_new_one(tmp_path):
    """The holder removes the lock file on release; the waiter must not end up holding a lock
    on that removed file while a third run locks a new one."""
    out = tmp_path / "out"
    out.mkdir()
    holder_in, release, waiter_in, waiter_done = (threading.Event() for _ in range(4))
    errors: list[BaseException] = []

    def holder():
        with locked(out, wait=False):
            holder_in.set()
            release.wait(10)

    def waiter():
        try:
            with locked(out, wait=True) as waited:
                assert waited
                waiter_in.set()
                waiter_done.wait(10)
        except BaseException as error:  # reported to the test thread
            errors.append(error)
            waiter_in.set()

    first = threading.Thread(target=holder)
    first.start()
    assert holder_in.wait(10)
    second = threading.Thread(target=waiter)
    second.start()
    _until_a_lock_is_waited_for()
    release.set()
    assert waiter_in.wait(10)
    try:
        assert not errors
        with pytest.raises(BusyError), locked(out, wait=False):  # a third run sees the lock
            pass
    finally:
        waiter_done.set()
        first.join(10)
        second.join(10)
    assert not (out / LOCK_NAME).exists()
