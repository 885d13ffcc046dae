"""Runs with SRC and OUT on a real S3 API (moto on 127.0.0.1): the same bytes and manifest as a
local run, incremental re-runs decided from one listing, whole-object writes, a killed run
finished by the next, storage faults stopping the run before work or failing one image."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import time
from pathlib import Path

import pytest
from conftest import read_records
from PIL import Image
from test_run import _poisoned_tree, file_digests, resizer_process

SIZE = ("--size", "48x48", "--mode", "fill")


def run(*args: str, timeout: float = 300, **kwargs) -> tuple[int, str, str]:
    process = resizer_process("resize", *args, **kwargs)
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def digests(objects: dict[str, bytes]) -> dict[str, str]:
    return {
        key: hashlib.sha256(data).hexdigest()
        for key, data in objects.items()
        if "manifest" not in key and not key.startswith(".")
    }


def comparable(records: list[dict]) -> list[dict]:
    """Records without what differs between stores and runs by nature: the source's version
    (mtime locally, ETag on S3), timings and the run id."""
    ignored = ("seconds", "run", "src_mtime_ns", "src_etag")
    return [{k: v for k, v in r.items() if k not in ignored} for r in records]


def manifest_records(s3, bucket: str, prefix: str) -> list[dict]:
    text = s3.objects(bucket, prefix)["manifest.jsonl"].decode()
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("engine", ["local", "dask"])
@pytest.mark.parametrize("combination", ["local-to-s3", "s3-to-local", "s3-to-s3"])
def test_every_combination_writes_the_bytes_and_manifest_of_a_local_run(
    photo_tree, tmp_path, s3, engine, combination
):
    if engine == "dask":
        pytest.importorskip("distributed", reason="the Dask engine needs resizer[dask]")
    local = tmp_path / "local"
    assert run(str(photo_tree), "-o", str(local), *SIZE, "--jobs", "2")[0] == 0
    bucket = s3.bucket()
    src = str(photo_tree)
    if combination.startswith("s3"):
        src = s3.upload(photo_tree, bucket, "src")
    out = tmp_path / "out" if combination.endswith("local") else f"s3://{bucket}/out"
    engine_args = ("--engine", "dask") if engine == "dask" else ()
    code, _, stderr = run(src, "-o", str(out), *SIZE, "--jobs", "2", *engine_args, *s3.options)
    assert code == 0, stderr
    if isinstance(out, Path):
        assert file_digests(out) == file_digests(local)
        records = read_records(out / "manifest.jsonl")
    else:
        assert digests(s3.objects(bucket, "out")) == file_digests(local)
        records = manifest_records(s3, bucket, "out")
        assert sorted(s3.objects(bucket, "out")) == sorted(
            [*file_digests(local), "manifest.jsonl", "manifest.run.json"]
        )  # nothing else is left in OUT: no lock, no journal, no temporary object
    assert comparable(records) == comparable(read_records(local / "manifest.jsonl"))
    if combination.startswith("s3"):
        etags = {
            item["Key"].removeprefix("src/"): item["ETag"].strip('"')
            for item in s3.client.list_objects_v2(Bucket=bucket, Prefix="src/")["Contents"]
        }
        assert {r["source"]: r["src_etag"] for r in records} == etags
        assert all(r["src_mtime_ns"] is None for r in records)


def test_a_rerun_redoes_only_what_changed_and_a_noop_rerun_writes_nothing(photo_tree, s3):
    bucket = s3.bucket()
    src = s3.upload(photo_tree, bucket, "src")
    out = f"s3://{bucket}/out"
    code, _, stderr = run(src, "-o", out, *SIZE, *s3.options)
    assert code == 0, stderr
    before = s3.objects(bucket, "out")

    # One source rewritten with other pixels, one output deleted: only those two are redone.
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), "red").save(buffer, "JPEG")
    s3.client.put_object(Bucket=bucket, Key="src/cats/a.jpg", Body=buffer.getvalue())
    s3.client.delete_object(Bucket=bucket, Key="out/dogs/c.jpg")
    s3.proxy.clear()
    code, stdout, stderr = run(src, "-o", out, *SIZE, "--json", *s3.options)
    assert code == 0, stderr
    summary = json.loads(stdout)["summary"]
    assert (summary["ok"], summary["skipped"]) == (2, 1)
    written = {r.key.removeprefix("out/") for r in s3.proxy.writes(bucket) if r.method == "PUT"}
    outputs = {key for key in written if not key.startswith(".") and "manifest" not in key}
    assert outputs == {"cats/a.jpg", "dogs/c.jpg"}
    after = s3.objects(bucket, "out")
    assert after["cats/a.jpg"] != before["cats/a.jpg"]
    assert after["dogs/c.jpg"] == before["dogs/c.jpg"]
    assert after["cats/b.png"] == before["cats/b.png"]

    # Nothing changed: the only write is the lock, created and removed; every object stays.
    s3.proxy.clear()
    code, stdout, stderr = run(src, "-o", out, *SIZE, "--json", *s3.options)
    assert code == 0, stderr
    assert json.loads(stdout)["summary"]["skipped"] == 3
    assert {r.key for r in s3.proxy.writes(bucket)} == {"out/.resizer.lock"}
    assert s3.objects(bucket, "out") == after
    sources_read = [r for r in s3.proxy.requests if r.method == "GET" and r.key.startswith("src/")]
    assert sources_read == []  # decided from the listing: no source object is read


def test_a_listing_not_a_request_per_object_decides_what_is_up_to_date(tmp_path, s3):
    src = tmp_path / "src"
    _poisoned_tree(src, good=12)
    bucket = s3.bucket()
    url = s3.upload(src, bucket, "src")
    out = f"s3://{bucket}/out"
    assert run(url, "-o", out, *SIZE, *s3.options)[0] == 0
    s3.proxy.clear()
    assert run(url, "-o", out, *SIZE, *s3.options)[0] == 0
    per_object = [r for r in s3.proxy.requests if r.method == "HEAD" and r.key.endswith(".jpg")]
    listings = [r for r in s3.proxy.requests if r.method == "GET" and not r.key]
    assert per_object == []
    assert len(listings) == 2  # SRC once, OUT once


def test_a_killed_run_leaves_only_whole_objects_and_the_rerun_finishes(tmp_path, s3):
    src = tmp_path / "src"
    _poisoned_tree(src, good=0, SLOW=24)  # 0.3 s each
    bucket = s3.bucket()
    url = s3.upload(src, bucket, "src")
    out = f"s3://{bucket}/out"
    process = resizer_process(
        "resize", url, "-o", out, *SIZE, "--jobs", "2", *s3.options, start_new_session=True
    )
    chunks = _wait_for_journal_chunk(s3, bucket, process)
    os.killpg(process.pid, signal.SIGKILL)  # the parent and its workers, as a power cut would
    process.communicate(timeout=60)

    objects = s3.objects(bucket, "out")
    journaled = [
        json.loads(line)
        for key, data in objects.items()
        if key.startswith(".resizer-journal-")
        for line in data.decode().splitlines()
    ]
    assert journaled and chunks
    for record in journaled:  # finished work is durable, and whole
        assert len(objects[record["output"]]) == record["bytes"]
    for key, data in objects.items():
        if key.endswith(".png"):
            assert Image.open(io.BytesIO(data)).size == (48, 48)
    assert "manifest.jsonl" not in objects

    code, stdout, stderr = run(url, "-o", out, *SIZE, "--jobs", "2", "--json", *s3.options)
    assert code == 0, stderr
    summary = json.loads(stdout)["summary"]
    assert summary["skipped"] >= len(journaled)
    assert summary["skipped"] + summary["ok"] == 24
    left = s3.objects(bucket, "out")
    assert not [key for key in left if key.startswith(".")]  # journal chunks and lock gone
    assert [r["status"] for r in manifest_records(s3, bucket, "out")] == ["ok"] * 24


def _wait_for_journal_chunk(s3, bucket: str, process) -> list[str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        listed = s3.client.list_objects_v2(Bucket=bucket, Prefix="out/.resizer-journal-")
        chunks = [item["Key"] for item in listed.get("Contents", [])]
        if chunks:
            return chunks
        time.sleep(0.1)
    raise AssertionError(f"no journal chunk appeared: {process.poll()=}")


@pytest.mark.parametrize(
    ("fault", "cause"),
    [("missing bucket", "no such bucket"), ("denied", "access denied"), ("no PUT", "denied")],
)
def test_an_out_that_cannot_be_used_stops_the_run_before_any_work(photo_tree, s3, fault, cause):
    bucket = s3.bucket()
    src = s3.upload(photo_tree, bucket, "src")
    out_bucket = "no-such-bucket" if fault == "missing bucket" else s3.bucket()
    if fault == "denied":  # S3's answer to credentials without rights on the bucket
        s3.proxy.rules.append(lambda r: 403 if r.bucket == out_bucket else None)
    if fault == "no PUT":  # may list and read, not write
        s3.proxy.rules.append(
            lambda r: 403 if r.bucket == out_bucket and r.method == "PUT" else None
        )
    s3.proxy.clear()
    code, _, stderr = run(src, "-o", f"s3://{out_bucket}/out", *SIZE, *s3.options)
    assert code == 2, stderr
    assert f"OUT 's3://{out_bucket}/out'" in stderr and cause in stderr
    assert "Traceback" not in stderr
    read = [r for r in s3.proxy.requests if r.bucket == bucket and r.key and r.method == "GET"]
    assert read == []  # no image was read, let alone processed
    s3.proxy.rules.clear()
    if fault != "missing bucket":
        assert s3.objects(out_bucket) == {}


def test_transient_errors_are_retried_and_lasting_ones_fail_one_image_for_the_rerun(tmp_path, s3):
    src = tmp_path / "src"
    _poisoned_tree(src, good=4)
    bucket = s3.bucket()
    url = s3.upload(src, bucket, "src")
    out = f"s3://{bucket}/out"
    failures = {"good00.jpg": 0}

    def flaky(request):  # good00: two SlowDowns, then served; good01: always an error
        name = request.key.removeprefix("src/")
        if request.method != "GET" or request.bucket != bucket:
            return None
        if name == "good00.jpg" and failures[name] < 2:
            failures[name] += 1
            return 503
        return 500 if name == "good01.jpg" else None

    s3.proxy.rules.append(flaky)
    code, _, stderr = run(url, "-o", out, *SIZE, *s3.options)
    assert code == 1, stderr
    records = {r["source"]: r for r in manifest_records(s3, bucket, "out")}
    assert failures["good00.jpg"] == 2 and records["good00.jpg"]["status"] == "ok"
    assert records["good01.jpg"]["status"] == "failed"
    assert records["good01.jpg"]["error"].startswith("cannot read the source: ")
    assert "good01.jpg" not in s3.objects(bucket, "out")

    s3.proxy.rules.clear()  # the store recovers: the re-run redoes the failed image only
    code, stdout, stderr = run(url, "-o", out, *SIZE, "--json", *s3.options)
    assert code == 0, stderr
    assert json.loads(stdout)["summary"]["ok"] == 1
    assert all(r["status"] == "ok" for r in manifest_records(s3, bucket, "out"))


def test_a_failed_output_write_is_one_failed_record_and_stops_nothing_else(tmp_path, s3):
    src = tmp_path / "src"
    _poisoned_tree(src, good=4)
    bucket = s3.bucket()
    url = s3.upload(src, bucket, "src")
    out = f"s3://{bucket}/out"
    s3.proxy.rules.append(
        lambda r: 500 if r.method == "PUT" and r.key == "out/good02.jpg" else None
    )
    code, _, stderr = run(url, "-o", out, *SIZE, *s3.options)
    assert code == 1, stderr
    records = {r["source"]: r for r in manifest_records(s3, bucket, "out")}
    assert records["good02.jpg"]["status"] == "failed"
    assert records["good02.jpg"]["error"].startswith("cannot write good02.jpg: ")
    assert [records[f"good0{i}.jpg"]["status"] for i in (0, 1, 3)] == ["ok"] * 3


def test_an_output_whose_source_is_gone_is_removed_from_the_bucket(photo_tree, s3):
    bucket = s3.bucket()
    src = s3.upload(photo_tree, bucket, "src")
    out = f"s3://{bucket}/out"
    assert run(src, "-o", out, *SIZE, *s3.options)[0] == 0
    s3.client.delete_object(Bucket=bucket, Key="src/dogs/c.jpg")
    s3.client.put_object(Bucket=bucket, Key="out/cats/mine.jpg", Body=b"not resizer's")
    code, stdout, stderr = run(src, "-o", out, *SIZE, "--json", *s3.options)
    assert code == 0, stderr
    assert json.loads(stdout)["summary"]["removed_outputs"] == 1
    left = s3.objects(bucket, "out")
    assert "dogs/c.jpg" not in left and "cats/mine.jpg" in left  # only what resizer wrote
    assert [r["source"] for r in manifest_records(s3, bucket, "out")] == [
        "cats/a.jpg",
        "cats/b.png",
    ]


def test_an_unreachable_scheduler_is_a_usage_error_and_nothing_is_written(photo_tree, s3):
    bucket = s3.bucket()
    src = s3.upload(photo_tree, bucket, "src")
    s3.proxy.clear()
    code, _, stderr = run(
        src, "-o", f"s3://{bucket}/out", *SIZE, "--scheduler", "tcp://127.0.0.1:9", *s3.options
    )
    assert code == 2, stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in stderr
    assert s3.proxy.writes(bucket) == []  # not even the lock
    assert sorted(s3.objects(bucket)) == [
        f"src/{name}" for name in sorted(file_digests(photo_tree))
    ]


def test_a_listing_of_many_pages_plans_every_object_in_name_order(tmp_path, s3):
    bucket = s3.bucket()
    names = [f"img{i:04d}.png" for i in range(1003)]  # two ListObjectsV2 pages
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, "PNG")
    for name in reversed(names):
        s3.client.put_object(Bucket=bucket, Key=f"src/{name}", Body=buffer.getvalue())
    s3.proxy.clear()
    code, stdout, stderr = run(f"s3://{bucket}/src", "-o", str(tmp_path / "out"), *SIZE,
                               "--dry-run", "--json", *s3.options)  # fmt: skip
    assert code == 0, stderr
    assert [item["source"] for item in json.loads(stdout)["to_do"]] == names
    listings = [r for r in s3.proxy.requests if r.method == "GET" and not r.key]
    assert len(listings) == 2  # one request per page of 1,000 keys
