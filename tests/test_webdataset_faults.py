"""--container webdataset when a run does not end well: killed, stopped early, or out of disk
space while writing the shards. The old shards stay whole and the manifest says what they hold."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import read_records, save_photo
from shard_samples import check_samples, identities, save_noise, shards, wds_args

POISON = Path(__file__).resolve().parent / "poison"
sys.path.insert(0, str(POISON))
from sitecustomize import poison_bytes  # noqa: E402  (the fault-injection format)


def test_a_killed_runs_staged_samples_are_reused_then_removed(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for index in range(24):
        (src / f"slow{index:02d}.png").write_bytes(poison_bytes("SLOW"))
    env = {**os.environ, "PYTHONPATH": f"{POISON}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "resizer", *wds_args(src, out, "--jobs", "2")]
    process = subprocess.Popen(command, env=env, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    journal = out / ".resizer-journal.jsonl"
    deadline = time.monotonic() + 60
    while not (journal.exists() and journal.read_text().count("\n") >= 3):
        assert time.monotonic() < deadline and process.poll() is None, "no progress"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    finished = read_records(journal)
    # One staging file per worker process, holding the finished images the journal points to.
    staged = [p for p in out.iterdir() if p.name.startswith(".resizer-stage-")]
    assert 1 <= len(staged) <= 2 and not shards(out)
    assert {record["staged"][0] for record in finished} <= {p.name for p in staged}

    rerun = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    summary = json.loads(rerun.stdout)["summary"]
    assert summary["skipped"] >= len(finished), rerun.stderr
    assert summary["skipped"] + summary["ok"] == 24
    assert len(check_samples(out)) == 24
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.jsonl", "manifest.run.json", "shard-000000.tar"
    ]  # fmt: skip


def test_a_run_stopped_early_keeps_the_earlier_samples_it_did_not_reach(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    for index in range(1, 7):
        save_photo(src / f"{index}.jpg", 40, 30, seed=index)
    args = wds_args(src, out, "--jobs", "1", "--shard-size", "3")
    run_cli(*args)
    before = identities(out)
    for index in range(1, 7):  # every image must be looked at again
        os.utime(src / f"{index}.jpg", ns=(1_000_000_000, 1_000_000_000 * (index + 1)))
    (src / "0.jpg").write_bytes(b"broken")  # fails first; --fail-fast stops the run there
    result = run_cli(*args, "--fail-fast")
    assert result.exit_code == 1 and "stopped early: fail-fast" in result.stderr
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert records.pop("0.jpg")["status"] == "failed"
    assert {r["status"] for r in records.values()} == {"pending"}
    assert len(check_samples(out)) == 6  # still in their shards, and recorded there
    assert identities(out) == before

    result = run_cli(*args, "--json")
    summary = json.loads(result.stdout)["summary"]
    assert (summary["ok"], summary["failed"], summary["shards_written"]) == (6, 1, 0)
    # The same pixels again: the shards' bytes did not change, so neither did the files.
    assert identities(out) == before
    assert len(check_samples(out)) == 6


@pytest.fixture
def tmpfs_out(tmp_path):
    """OUT on a tmpfs of its own, whose size a test can change (mount -o remount,size=...)."""
    out = tmp_path / "out"
    out.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(out)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield out
    finally:
        subprocess.run(["umount", str(out)], check=True)


def test_a_full_disk_while_writing_shards_keeps_the_old_shards_and_says_so(
    tmp_path, run_cli, tmpfs_out
):
    src, out = tmp_path / "src", tmpfs_out
    src.mkdir()
    for index in range(1, 9):  # noise: 12 kB as PNG, whatever zlib does
        save_noise(src / f"{index}.png", seed=index)
    args = wds_args(src, out, "--jobs", "1", "--size", "64x64", "--shard-size", "4")
    assert run_cli(*args).exit_code == 0
    before = identities(out)
    earlier = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    # The disk fills up: room for new staged images, not for shards written beside the old.
    subprocess.run(["mount", "-o", "remount,size=192k", str(out)], check=True)
    save_noise(src / "0.png", seed=100)  # sorts first: every shard must be written again
    save_noise(src / "5.png", seed=105)  # changed
    result = run_cli(*args)
    assert result.exit_code == 1
    full = "the disk is full (no space left on device)"
    assert f"stopped early: OUT cannot take writes: {full}" in result.stderr
    assert identities(out) == before  # the old shards, untouched
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    why = f"not written to a shard: {full}; run again to finish"
    assert (records["0.png"]["status"], records["0.png"]["error"]) == ("pending", why)
    assert records["0.png"]["shard"] is None  # OUT has no sample of it
    # The changed image's record describes its earlier sample, which the old shards still hold.
    assert records["5.png"] == {**earlier["5.png"], "status": "pending", "error": why,
                                "run": records["5.png"]["run"]}  # fmt: skip
    assert all(records[s] == earlier[s] for s in earlier if s != "5.png")
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []

    subprocess.run(["mount", "-o", "remount,size=4m", str(out)], check=True)
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["ok"] == 2
    assert len(check_samples(out)) == 9


def test_a_killed_runs_staged_image_of_a_source_changed_since_is_not_kept(tmp_path, run_cli):
    """The journal of a killed run points at a staged image; its source changed since and a
    stopped run never reached it: it is pending with no output, in no shard, and the manifest
    keeps no trace of the staging file."""
    src, out = tmp_path / "src", tmp_path / "out"
    save_photo(src / "cats" / "a.jpg", 40, 30, seed=1)
    save_photo(src / "cats" / "b.jpg", 40, 30, seed=2)
    args = wds_args(src, out, "--jobs", "1")
    run_cli(*args)
    [record] = [r for r in read_records(out / "manifest.jsonl") if r["source"] == "cats/a.jpg"]
    (out / ".resizer-stage-1-feed").write_bytes(b"x" * record["bytes"])
    record.update(shard=None, key=None, staged=[".resizer-stage-1-feed", 0])
    (out / ".resizer-journal.jsonl").write_text(json.dumps(record) + "\n")
    save_photo(src / "cats" / "a.jpg", 40, 30, seed=3)  # changed: to be encoded again
    (src / "cats" / "0.jpg").write_bytes(b"broken")  # fails first: --fail-fast stops there
    result = run_cli(*args, "--fail-fast")
    assert result.exit_code == 1
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert records["cats/a.jpg"]["status"] == "pending"
    assert records["cats/a.jpg"]["output"] is None and records["cats/a.jpg"]["shard"] is None
    assert set(check_samples(out)) == {"cats/b"}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
