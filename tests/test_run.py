"""Whole runs: re-runs, determinism, the lock, and faults injected into real worker processes."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import photo_array, read_records, save_photo
from PIL import Image

import resizer.codecs
import resizer.engines.local
import resizer.faults
import resizer.run
from resizer.files import TEMP_MARK
from resizer.manifest import read_manifest

POISON = Path(__file__).resolve().parent / "poison"
sys.path.insert(0, str(POISON))
from sitecustomize import poison_bytes  # noqa: E402  (the fault-injection format)


def resize_args(src: Path, out: Path, *extra: str) -> list[str]:
    return ["resize", str(src), "-o", str(out), "--size", "32x32", *extra]


def file_digests(folder: Path) -> dict[str, str]:
    digests = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".resizer" not in path.parts and "manifest" not in path.name:
            digests[path.relative_to(folder).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    return digests


def temp_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if TEMP_MARK in path.name]


def resizer_process(
    *args: str, env_poison: bool = True, env_extra: dict | None = None, **kwargs
) -> subprocess.Popen:
    env = {**os.environ, **(env_extra or {})}
    if env_poison:
        env["PYTHONPATH"] = str(POISON) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "resizer", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_a_rerun_skips_everything_up_to_date_and_changes_nothing_in_out(
    photo_tree, tmp_path, run_cli
):
    out = tmp_path / "out"
    assert run_cli(*resize_args(photo_tree, out, "--jobs", "1")).exit_code == 0
    before = _snapshot(out)
    again = run_cli(*resize_args(photo_tree, out, "--jobs", "1", "--json"))
    assert again.exit_code == 0
    summary = json.loads(again.stdout)["summary"]
    assert (summary["found"], summary["ok"], summary["skipped"], summary["failed"]) == (3, 0, 3, 0)
    # Every file, the manifest and the run record included, byte for byte and untouched.
    assert _snapshot(out) == before
    records = read_records(out / "manifest.jsonl")
    assert [r["status"] for r in records] == ["ok"] * 3
    assert all(r["sha256"] and max(r["width"], r["height"]) == 32 for r in records)


def _snapshot(folder: Path) -> dict[Path, tuple[bytes | None, int]]:
    """Every file's bytes and every entry's modification time under `folder`."""
    return {
        path: (path.read_bytes() if path.is_file() else None, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
    }


def test_a_changed_source_changed_options_or_missing_output_means_redo(
    photo_tree, tmp_path, run_cli
):
    out = tmp_path / "out"
    run_cli(*resize_args(photo_tree, out, "--jobs", "1"))
    save_photo(photo_tree / "cats" / "a.jpg", 60, 60, seed=9)  # changed source
    (out / "dogs" / "c.jpg").unlink()  # lost output
    first_run = {r["source"]: r["run"] for r in read_records(out / "manifest.jsonl")}
    records = _run(run_cli, photo_tree, out)
    assert {r["source"]: r["status"] for r in records} == dict.fromkeys(first_run, "ok")
    second_run = json.loads((out / "manifest.run.json").read_text())["run"]
    assert second_run not in first_run.values()
    # Which records this run wrote, and which it kept from the first.
    assert {r["source"]: r["run"] for r in records} == {
        "cats/a.jpg": second_run,
        "cats/b.png": first_run["cats/b.png"],
        "dogs/c.jpg": second_run,
    }
    for extra in (("--quality", "70"), ("--quality", "70", "--force")):
        records = _run(run_cli, photo_tree, out, *extra)
        this_run = json.loads((out / "manifest.run.json").read_text())["run"]
        assert {(r["status"], r["run"]) for r in records} == {("ok", this_run)}


def _run(run_cli, src: Path, out: Path, *extra: str) -> list[dict]:
    result = run_cli(*resize_args(src, out, "--jobs", "1", *extra))
    assert result.exit_code == 0, result.output
    return read_records(out / "manifest.jsonl")


def test_outputs_are_byte_identical_whatever_jobs_is(photo_tree, tmp_path, run_cli):
    for jobs in ("1", "2"):
        result = run_cli(*resize_args(photo_tree, tmp_path / jobs, "--jobs", jobs))
        assert result.exit_code == 0, result.output
    assert file_digests(tmp_path / "1") == file_digests(tmp_path / "2")
    first = [{**r, "seconds": 0, "run": 0} for r in read_records(tmp_path / "1" / "manifest.jsonl")]
    second = [
        {**r, "seconds": 0, "run": 0} for r in read_records(tmp_path / "2" / "manifest.jsonl")
    ]
    assert first == second


def test_manifest_has_one_record_per_image_and_the_run_record(photo_tree, tmp_path, run_cli):
    (photo_tree / "cats" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    out = tmp_path / "out"
    result = run_cli(*resize_args(photo_tree, out, "--jobs", "1", "--mode", "pad"))
    assert result.exit_code == 1
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert sorted(records) == ["cats/a.jpg", "cats/b.png", "cats/broken.jpg", "dogs/c.jpg"]
    broken = records["cats/broken.jpg"]
    assert (broken["status"], broken["output"]) == ("failed", None)
    assert broken["error"]
    a = records["cats/a.jpg"]  # 120x80 padded into 32x32
    assert (a["width"], a["height"], a["resize"], a["pad_offset"]) == (32, 32, [32, 21], [0, 5])
    run = json.loads((out / "manifest.run.json").read_text())
    assert run["settings"]["mode"] == "pad"
    assert run["versions"]["pillow"] and run["versions"]["opencv"]
    assert run["started"] and run["finished"]
    assert run["summary"]["failed"] == 1
    assert {r["run"] for r in records.values()} == {run["run"]}


def test_csv_manifest_supports_reruns(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    manifest = tmp_path / "records.csv"
    run_cli(*resize_args(photo_tree, out, "--jobs", "1", "--manifest", str(manifest)))
    first = manifest.read_bytes()
    again = run_cli(*resize_args(photo_tree, out, "--jobs", "1", "--manifest", str(manifest)))
    assert "0 ok, 3 skipped, 0 failed" in again.stderr
    assert manifest.read_text().startswith("source,output,status,error")
    assert manifest.read_bytes() == first


def test_a_second_run_on_the_same_out_fails_at_once(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".resizer.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        result = run_cli(*resize_args(photo_tree, out, "--jobs", "1"))
    assert result.exit_code == 2
    assert "another resizer run" in result.output
    assert not (out / "manifest.jsonl").exists()


def test_a_killed_runs_journal_is_honoured_and_its_temp_files_removed(
    photo_tree, tmp_path, run_cli
):
    out = tmp_path / "out"
    run_cli(*resize_args(photo_tree, out, "--jobs", "1"))
    # Make it look as if the run was killed before compacting: records only in the journal,
    # a half-written temporary file beside the outputs.
    (out / ".resizer-journal.jsonl").write_text((out / "manifest.jsonl").read_text())
    (out / "manifest.jsonl").unlink()
    stale = out / "cats" / f".a.jpg{TEMP_MARK}deadbeef"
    stale.write_bytes(b"half")
    result = run_cli(*resize_args(photo_tree, out, "--jobs", "1"))
    assert "0 ok, 3 skipped" in result.stderr
    assert not stale.exists()
    assert not (out / ".resizer-journal.jsonl").exists()
    assert len(read_records(out / "manifest.jsonl")) == 3


def _poisoned_tree(src: Path, good: int, **poison: int) -> None:
    src.mkdir(parents=True, exist_ok=True)
    for index in range(good):
        save_photo(src / f"good{index:02d}.jpg", 48, 40, seed=index)
    for action, count in poison.items():
        for index in range(count):
            (src / f"{action.lower()}{index:02d}.png").write_bytes(poison_bytes(action))


def test_a_worker_killed_by_a_crashing_decoder_fails_only_that_image(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _poisoned_tree(src, good=6, SEGV=1)
    process = resizer_process(*resize_args(src, out, "--jobs", "2"))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert records["segv00.png"]["status"] == "failed"
    assert "crashed (SIGSEGV)" in records["segv00.png"]["error"]
    assert [r["status"] for name, r in records.items() if name.startswith("good")] == ["ok"] * 6
    assert temp_files(out) == []


def test_a_worker_killed_for_memory_fails_only_its_image(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _poisoned_tree(src, good=4, KILL=1)
    process = resizer_process(*resize_args(src, out, "--jobs", "2"))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert "killed (SIGKILL; out of memory?)" in records["kill00.png"]["error"]
    assert sum(r["status"] == "ok" for r in records.values()) == 4


def test_wait_queues_behind_the_run_holding_the_lock(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    out.mkdir()
    lock = open(out / ".resizer.lock", "a+")  # noqa: SIM115 (released by the thread)
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    releaser = threading.Timer(0.5, lock.close)
    releaser.start()
    started = time.monotonic()
    result = run_cli(*resize_args(photo_tree, out, "--jobs", "1", "--wait"))
    releaser.join()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 0.4
    assert len(read_records(out / "manifest.jsonl")) == 3


def test_a_hanging_decoder_is_failed_after_the_timeout(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _poisoned_tree(src, good=3, HANG=1)
    process = resizer_process(*resize_args(src, out, "--jobs", "2", "--timeout", "1"))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert "timed out after 1 s" in records["hang00.png"]["error"]
    assert sum(r["status"] == "ok" for r in records.values()) == 3


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_cleanly_and_the_rerun_finishes(tmp_path, sig, code):
    src, out = tmp_path / "src", tmp_path / "out"
    _poisoned_tree(src, good=0, SLOW=24)  # 0.3 s each: about 4 s on 2 workers
    process = resizer_process(*resize_args(src, out, "--jobs", "2"))
    _wait_for_progress(out, process)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    records = read_records(out / "manifest.jsonl")
    assert len(records) == 24  # every source found has a record
    done = [r for r in records if r["status"] == "ok"]
    pending = [r for r in records if r["status"] != "ok"]
    assert 0 < len(done) < 24
    assert {r["status"] for r in pending} == {"pending"}
    assert {r["error"] for r in pending} == {
        f"not processed: the run stopped early ({sig.name}); run again to finish"
    }
    assert all(r["output"] is None for r in pending)
    assert temp_files(out) == []
    rerun = resizer_process(*resize_args(src, out, "--jobs", "2", "--json"))
    stdout, stderr = rerun.communicate(timeout=120)
    summary = json.loads(stdout)["summary"]
    assert (summary["skipped"], summary["ok"]) == (len(done), 24 - len(done)), stderr


def test_a_second_signal_abandons_an_image_being_retried_alone(tmp_path):
    """After a worker crash the suspects are retried one at a time; a hung one must not hold
    a second Ctrl-C until --timeout."""
    src, out, log = tmp_path / "src", tmp_path / "out", tmp_path / "decodes.log"
    src.mkdir()
    (src / "0hang.png").write_bytes(poison_bytes("HANG"))
    (src / "1crash.png").write_bytes(poison_bytes("LATESEGV"))  # breaks the pool after 1 s
    # A third worker's result makes the pool look at every worker again: without one,
    # Python 3.11's pool can miss a worker that died while the others hang.
    save_photo(src / "2good.jpg", 48, 40)
    process = resizer_process(
        *resize_args(src, out, "--jobs", "3", "--timeout", "90"),
        env_extra={"POISON_LOG": str(log)},
        start_new_session=True,
    )
    try:
        # Decoded once in the pool, then again alone: the run now waits on the retry.
        _wait_for(lambda: log.exists() and log.read_text().count("HANG") >= 2, process)
        hung = int([line for line in log.read_text().splitlines() if "HANG" in line][-1][5:])
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)  # not --timeout's 90 s
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert not _alive(hung)
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert records["2good.jpg"]["status"] == "ok"
    assert records["0hang.png"]["status"] == "pending"
    assert temp_files(out) == []


def _wait_for(condition, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition never met: {process.poll()=}")


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its exited parent to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_sigkill_leaves_only_complete_files_and_the_rerun_skips_finished_work(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _poisoned_tree(src, good=0, SLOW=24)
    process = resizer_process(*resize_args(src, out, "--jobs", "2"), start_new_session=True)
    _wait_for_progress(out, process)
    os.killpg(process.pid, signal.SIGKILL)  # the parent and its workers, as a power cut would
    process.communicate(timeout=60)
    journal = read_records(out / ".resizer-journal.jsonl")
    assert journal, "finished work must be on disk before the run ends"
    for record in journal:
        assert (out / record["output"]).stat().st_size == record["bytes"]
    rerun = resizer_process(*resize_args(src, out, "--jobs", "2", "--json"))
    stdout, stderr = rerun.communicate(timeout=120)
    summary = json.loads(stdout)["summary"]
    assert summary["skipped"] >= len(journal), stderr
    assert summary["skipped"] + summary["ok"] == 24
    assert temp_files(out) == []


def _wait_for_progress(out: Path, process: subprocess.Popen) -> None:
    """Until the run has journaled a few finished images (or a generous deadline passes)."""
    journal = out / ".resizer-journal.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 3:
            return
        time.sleep(0.05)
    raise AssertionError(f"no progress: {process.poll()=}")


@pytest.mark.parametrize("out_takes_writes", [True, False])
def test_a_write_error_stops_the_run_only_when_out_itself_cannot_take_writes(
    tmp_path, run_cli, monkeypatch, out_takes_writes
):
    """The errno alone does not decide: after a failed write the parent probes OUT's root with
    as many bytes as failed. (The same with real full and read-only mounts: test_faults.py.)"""
    src, out = tmp_path / "src", tmp_path / "out"
    _poisoned_tree(src, good=8)
    failed_sizes, probes = [], []

    def full_disk(path, data, fsync=False):
        failed_sizes.append(len(data))
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    real_probe = resizer.faults.probe

    def probe(folder, size=resizer.faults.PROBE_BYTES):
        if not failed_sizes:  # the check before any work
            return real_probe(folder, size)
        probes.append((folder, size))
        if out_takes_writes:
            return real_probe(folder, size)
        return OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("resizer.process.write_atomic", full_disk)
    monkeypatch.setattr(resizer.faults, "probe", probe)
    result = run_cli(*resize_args(src, out, "--jobs", "1"))
    assert result.exit_code == 1
    assert probes[0] == (out, max(resizer.faults.PROBE_BYTES, failed_sizes[0]))
    records = read_records(out / "manifest.jsonl")
    failed = [r for r in records if r["status"] == "failed"]
    assert failed[0]["error"] == (
        "cannot write good00.jpg: the disk is full (no space left on device)"
    )
    if out_takes_writes:  # a disk mounted below OUT is full, say: only these images fail
        assert len(failed_sizes) == len(failed) == 8
        assert "stopped early" not in result.stderr
    else:
        assert len(failed_sizes) == len(failed) == 1  # the first failure stopped the run
        stop = "OUT cannot take writes: the disk is full (no space left on device)"
        assert f"stopped early: {stop}" in result.stderr
        pending = [r for r in records if r["status"] == "pending"]
        assert len(pending) == 7
        assert all(stop in r["error"] for r in pending)


def test_a_source_that_vanishes_before_it_is_read_is_one_failed_record(
    tmp_path, run_cli, monkeypatch
):
    src, out = tmp_path / "src", tmp_path / "out"
    _poisoned_tree(src, good=3)
    real_make_plan = resizer.run.make_plan

    def plan_then_delete(settings, previous=None):
        made = real_make_plan(settings, previous)
        (src / "good01.jpg").unlink(missing_ok=True)
        return made

    monkeypatch.setattr(resizer.run, "make_plan", plan_then_delete)
    result = run_cli(*resize_args(src, out, "--jobs", "1"))
    assert result.exit_code == 1
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert records["good01.jpg"]["error"] == "source vanished before it could be read"
    assert [records[name]["status"] for name in ("good00.jpg", "good02.jpg")] == ["ok", "ok"]


def test_a_source_changed_while_being_read_is_failed_not_half_used(tmp_path, run_cli, monkeypatch):
    src, out = tmp_path / "src", tmp_path / "out"
    _poisoned_tree(src, good=2)
    real_decode = resizer.codecs.decode

    def decode_while_someone_writes(header, orient=True):
        decoded = real_decode(header, orient)
        if header.image.filename.endswith("good00.jpg"):
            save_photo(src / "good00.jpg", 50, 50, seed=99)  # rewritten mid-run
        return decoded

    monkeypatch.setattr(resizer.codecs, "decode", decode_while_someone_writes)
    result = run_cli(*resize_args(src, out, "--jobs", "1"))
    assert result.exit_code == 1
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert "source changed while it was being read" in records["good00.jpg"]["error"]
    assert not (out / "good00.jpg").exists()
    assert records["good01.jpg"]["status"] == "ok"


@pytest.mark.parametrize(
    "name",
    [
        "with space.jpg",
        'quote\'d "name".jpg',
        "comma,semi;colon.jpg",
        "new\nline.jpg",
        "caf\u00e9 nfc.jpg",
        "cafe\u0301 nfd.jpg",
        "\u732b.jpg",
        "x" * 200 + ".jpg",
    ],
)
def test_awkward_names_give_correct_outputs_and_a_parseable_manifest(tmp_path, run_cli, name):
    src, out = tmp_path / "src", tmp_path / "out"
    deep = src.joinpath(*["deeply nested folder"] * 12)
    save_photo(deep / name, 40, 20)
    for manifest in ("manifest.jsonl", "manifest.csv"):
        result = run_cli(*resize_args(src, out, "--jobs", "1", "--manifest", str(out / manifest)))
        assert result.exit_code == 0, result.output
        [record] = read_manifest(out / manifest).values()
        assert record["source"].endswith(name)
        assert record["output"] == record["source"]
        assert (out / record["output"]).stat().st_size == record["bytes"]


def test_fuzzed_files_each_become_one_record_and_never_stop_the_run(tmp_path):
    """Hundreds of bit-flipped and truncated files in every format, in one parallel run."""
    src, out = tmp_path / "src", tmp_path / "out"
    rng = random.Random(20261124)
    pristine = {}
    for extension, options in FUZZ_FORMATS.items():
        buffer = io.BytesIO()
        image = Image.fromarray(photo_array(64, 48, seed=len(pristine)))
        if extension == ".gif":
            image = image.convert("P")
        image.save(buffer, format=options[0], **options[1])
        pristine[extension] = buffer.getvalue()
    count = 0
    for extension, data in pristine.items():
        for index in range(50):
            mutated = bytearray(data)
            if index % 3 == 0:
                mutated = mutated[: rng.randrange(0, len(mutated))]
            else:
                for _ in range(rng.randint(1, 8)):
                    position = rng.randrange(len(mutated))
                    mutated[position] ^= 1 << rng.randrange(8)
            (src / f"f{count:04d}{extension}").parent.mkdir(parents=True, exist_ok=True)
            (src / f"f{count:04d}{extension}").write_bytes(bytes(mutated))
            count += 1
    process = resizer_process(*resize_args(src, out, "--jobs", "2", "--timeout", "20"))
    _, stderr = process.communicate(timeout=600)
    assert process.returncode in (0, 1), stderr
    records = read_records(out / "manifest.jsonl")
    assert len(records) == count
    for record in records:
        if record["status"] == "ok":
            with Image.open(out / record["output"]) as written:
                assert written.size == (record["width"], record["height"])
                assert max(written.size) == 32
        else:
            assert record["status"] == "failed" and record["error"], record
            assert record["output"] is None
    assert sum(r["status"] == "failed" for r in records) > count // 4  # the fuzz did bite
    outputs = {r["output"] for r in records if r["output"]}
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.suffix != ".jsonl"}
    written -= {"manifest.run.json"}
    assert written == outputs  # no output for a failed file, no temp file, no state file
    assert temp_files(out) == []


FUZZ_FORMATS = {
    ".jpg": ("JPEG", {"quality": 90}),
    ".png": ("PNG", {}),
    ".webp": ("WEBP", {"quality": 80}),
    ".tif": ("TIFF", {"compression": "tiff_adobe_deflate"}),
    ".gif": ("GIF", {}),
}


def test_without_a_process_pool_the_run_goes_on_in_one_process(
    photo_tree, tmp_path, run_cli, monkeypatch
):
    def no_semaphores(workers):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(resizer.engines.local, "new_pool", no_semaphores)
    result = run_cli(*resize_args(photo_tree, tmp_path / "out", "--jobs", "2"))
    assert result.exit_code == 0, result.output
    assert "no worker processes" in result.stderr
    assert "3 ok, 0 skipped, 0 failed" in result.stderr
