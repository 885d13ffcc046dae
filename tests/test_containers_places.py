"""--container webdataset with OUT on a real S3 API (moto on 127.0.0.1): the shard bytes and the
manifest of a local run, each shard one whole object, staged images under a hidden prefix that
a finished run removes, re-runs that rewrite only the shards whose samples changed, and killed
runs (while images are processed, or while shards are uploaded) finished by the next run."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import threading
from pathlib import Path

import pytest
from conftest import read_records, save_photo
from PIL import Image
from test_run import _poisoned_tree, resizer_process
from test_storage_out import _wait_for_journal_chunk, comparable, manifest_records, run

WDS = ("--size", "32x32", "--container", "webdataset")


def local_shards(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.glob("shard-*.tar"))}


def bucket_shards(s3, bucket: str, prefix: str = "out") -> dict[str, bytes]:
    objects = s3.objects(bucket, prefix)
    return {key: data for key, data in objects.items() if key.startswith("shard-")}


def shard_writes(s3, bucket: str) -> set[str]:
    """Shards written (a PUT, or the POST that completes a multipart upload)."""
    return {r.key.removeprefix("out/") for r in s3.proxy.writes(bucket) if "shard-" in r.key}


def read_back_through_fsspec(s3, url: str) -> dict[str, tuple[str, tuple[int, int]]]:
    """Every sample of the shards under `url`, read with tarfile through fsspec (s3fs):
    key -> (its JSON's source, the image's size)."""
    import fsspec

    fs = fsspec.filesystem("s3", client_kwargs={"endpoint_url": s3.endpoint})
    samples: dict[str, dict] = {}
    for path in sorted(fs.glob(f"{url}/shard-*.tar")):
        with fs.open(path, "rb") as handle, tarfile.open(fileobj=handle) as archive:
            for member in archive:
                key, _, extension = member.name.partition(".")
                samples.setdefault(key, {})[extension] = archive.extractfile(member).read()
    found = {}
    for key, members in samples.items():
        [image] = [data for extension, data in members.items() if extension != "json"]
        with Image.open(io.BytesIO(image)) as opened:
            found[key] = (json.loads(members["json"])["source"], opened.size)
    return found


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_shards_on_s3_are_the_bytes_and_manifest_of_a_local_run(photo_tree, tmp_path, s3, engine):
    if engine == "dask":
        pytest.importorskip("distributed", reason="the Dask engine needs resizer[dask]")
    save_photo(photo_tree / "birds" / "d.webp", 70, 50, seed=4)
    save_photo(photo_tree / "e.tif", 40, 60, seed=5)
    local = tmp_path / "local"
    code, _, stderr = run(str(photo_tree), "-o", str(local), *WDS, "--shard-size", "2")
    assert code == 0, stderr
    bucket = s3.bucket()
    out = f"s3://{bucket}/out"
    engine_args = ("--engine", "dask") if engine == "dask" else ()
    code, stdout, stderr = run(str(photo_tree), "-o", out, *WDS, "--shard-size", "2",
                               "--jobs", "2", "--json", *engine_args, *s3.options)  # fmt: skip
    assert code == 0, stderr
    summary = json.loads(stdout)["summary"]
    assert (summary["shards"], summary["shards_written"]) == (3, 3)
    assert bucket_shards(s3, bucket) == local_shards(local)  # byte for byte
    assert comparable(manifest_records(s3, bucket, "out")) == comparable(
        read_records(local / "manifest.jsonl")
    )
    # OUT holds the shards and the manifest: no staging object, no mark, no lock, no journal.
    assert sorted(s3.objects(bucket, "out")) == [
        "manifest.jsonl", "manifest.run.json", *local_shards(local)
    ]  # fmt: skip
    assert read_back_through_fsspec(s3, out) == {
        "birds/d": ("birds/d.webp", (32, 23)),
        "cats/a": ("cats/a.jpg", (32, 21)),
        "cats/b": ("cats/b.png", (24, 32)),
        "dogs/c": ("dogs/c.jpg", (32, 32)),
        "e": ("e.tif", (21, 32)),
    }


def test_a_changed_source_rewrites_only_its_shard_and_a_noop_rerun_writes_only_the_lock(
    photo_tree, tmp_path, s3
):
    save_photo(photo_tree / "dogs" / "d.png", 50, 70, seed=6)
    save_photo(photo_tree / "dogs" / "e.png", 60, 30, seed=7)
    bucket = s3.bucket()
    src = s3.upload(photo_tree, bucket, "src")
    out = f"s3://{bucket}/out"
    assert run(src, "-o", out, *WDS, "--shard-size", "2", *s3.options)[0] == 0
    before = bucket_shards(s3, bucket)
    assert sorted(before) == [f"shard-00000{n}.tar" for n in range(3)]

    # dogs/d.png (the second shard) gets other pixels: only that shard is uploaded again.
    buffer = io.BytesIO()
    Image.new("RGB", (70, 50), "red").save(buffer, "PNG")
    s3.client.put_object(Bucket=bucket, Key="src/dogs/d.png", Body=buffer.getvalue())
    s3.proxy.clear()
    code, stdout, stderr = run(src, "-o", out, *WDS, "--shard-size", "2", "--json", *s3.options)
    assert code == 0, stderr
    summary = json.loads(stdout)["summary"]
    assert (summary["ok"], summary["skipped"], summary["shards_written"]) == (1, 4, 1)
    assert shard_writes(s3, bucket) == {"shard-000001.tar"}
    reads = [r.key for r in s3.proxy.requests if r.method == "GET" and "shard-" in r.key]
    assert set(reads) == {"out/shard-000001.tar"}  # the one shard whose samples are copied
    after = bucket_shards(s3, bucket)
    assert after["shard-000000.tar"] == before["shard-000000.tar"]
    assert after["shard-000002.tar"] == before["shard-000002.tar"]
    assert after["shard-000001.tar"] != before["shard-000001.tar"]
    assert not [key for key in s3.objects(bucket, "out") if key.startswith(".")]

    # Nothing changed: the only write is the lock; no shard, source or staged object is read.
    local = tmp_path / "local"
    s3.proxy.clear()
    code, stdout, stderr = run(src, "-o", out, *WDS, "--shard-size", "2", "--json", *s3.options)
    assert code == 0, stderr
    assert json.loads(stdout)["summary"]["skipped"] == 5
    assert {r.key for r in s3.proxy.writes(bucket)} == {"out/.resizer.lock"}
    read = {r.key for r in s3.proxy.requests if r.method in ("GET", "HEAD") and r.key}
    assert read <= {"out/manifest.jsonl", "out/manifest.run.json", "out/.resizer.lock"}
    assert bucket_shards(s3, bucket) == after
    # ... and the shards are those a local run makes of the same sources.
    sources = tmp_path / "sources"
    for key, data in s3.objects(bucket, "src").items():
        (sources / key).parent.mkdir(parents=True, exist_ok=True)
        (sources / key).write_bytes(data)
    assert run(str(sources), "-o", str(local), *WDS, "--shard-size", "2")[0] == 0
    assert after == local_shards(local)


def test_a_killed_run_leaves_no_half_shard_and_the_rerun_finishes_and_clears_staging(tmp_path, s3):
    src = tmp_path / "src"
    _poisoned_tree(src, good=0, SLOW=24)  # 0.3 s each
    local = tmp_path / "local"
    assert run(str(src), "-o", str(local), *WDS, "--shard-size", "5")[0] == 0
    bucket = s3.bucket()
    url = s3.upload(src, bucket, "src")
    out = f"s3://{bucket}/out"
    process = resizer_process("resize", url, "-o", out, *WDS, "--shard-size", "5",
                              "--jobs", "2", *s3.options, start_new_session=True)  # fmt: skip
    _wait_for_journal_chunk(s3, bucket, process)
    os.killpg(process.pid, signal.SIGKILL)  # the parent and its workers, as a power cut would
    process.communicate(timeout=60)

    objects = s3.objects(bucket, "out")
    staged = [key for key in objects if key.startswith(".resizer-stage-")]
    assert staged and not [key for key in objects if key.startswith("shard-")]
    assert "manifest.jsonl" not in objects

    s3.proxy.clear()
    code, stdout, stderr = run(url, "-o", out, *WDS, "--shard-size", "5", "--jobs", "2",
                               "--json", *s3.options)  # fmt: skip
    assert code == 0, stderr
    summary = json.loads(stdout)["summary"]
    assert summary["skipped"] >= 1  # staged images the journal names are used as they are
    assert summary["skipped"] + summary["ok"] == 24
    assert bucket_shards(s3, bucket) == local_shards(local)
    assert not [key for key in s3.objects(bucket, "out") if key.startswith(".")]
    records = manifest_records(s3, bucket, "out")
    assert [r["status"] for r in records] == ["ok"] * 24
    assert all("staged" not in r for r in records)


def test_a_run_killed_while_uploading_shards_is_finished_by_the_next(photo_tree, tmp_path, s3):
    for n in range(4):
        save_photo(photo_tree / "dogs" / f"d{n}.png", 40 + n, 50, seed=10 + n)
    bucket = s3.bucket()
    src = s3.upload(photo_tree, bucket, "src")
    out = f"s3://{bucket}/out"
    args = (src, "-o", out, *WDS, "--shard-size", "2", *s3.options)
    assert run(*args)[0] == 0
    # A new first sample moves every sample one place on: every shard is rewritten. The run is
    # killed while the second shard is being uploaded, after the first was overwritten.
    s3.client.put_object(Bucket=bucket, Key="src/aa.png", Body=_png("green"))
    uploading, release = threading.Event(), threading.Event()

    def hold(request):
        if request.method == "PUT" and request.key == "out/shard-000001.tar":
            uploading.set()
            release.wait(60)
            return 500  # the killed upload never completes
        return None

    s3.proxy.rules.append(hold)
    process = resizer_process("resize", *args, start_new_session=True)
    assert uploading.wait(120), process.communicate(timeout=60)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    release.set()
    s3.proxy.rules.clear()
    assert ".resizer-shards-unfinished" in s3.objects(bucket, "out")

    code, _, stderr = run(*args)
    assert code == 0, stderr
    sources = tmp_path / "sources"
    for key, data in s3.objects(bucket, "src").items():
        (sources / key).parent.mkdir(parents=True, exist_ok=True)
        (sources / key).write_bytes(data)
    local = tmp_path / "local"
    assert run(str(sources), "-o", str(local), *WDS, "--shard-size", "2")[0] == 0
    assert bucket_shards(s3, bucket) == local_shards(local)
    assert comparable(manifest_records(s3, bucket, "out")) == comparable(
        read_records(local / "manifest.jsonl")
    )
    assert not [key for key in s3.objects(bucket, "out") if key.startswith(".")]


def test_a_failed_shard_upload_leaves_the_old_shard_and_the_rerun_finishes(
    photo_tree, tmp_path, s3
):
    bucket = s3.bucket()
    src = s3.upload(photo_tree, bucket, "src")
    out = f"s3://{bucket}/out"
    args = (src, "-o", out, *WDS, "--shard-size", "1", *s3.options)
    assert run(*args)[0] == 0
    before = bucket_shards(s3, bucket)
    for name in ("cats/a.jpg", "dogs/c.jpg"):  # the first and last shards change
        s3.client.put_object(Bucket=bucket, Key=f"src/{name}", Body=_png("blue", "JPEG"))
    s3.proxy.rules.append(
        lambda r: 500 if r.method == "PUT" and r.key == "out/shard-000002.tar" else None
    )
    code, _, stderr = run(*args)
    assert code != 0
    assert "OUT cannot take writes" in stderr and "Traceback" not in stderr
    s3.proxy.rules.clear()
    after = bucket_shards(s3, bucket)
    assert after["shard-000000.tar"] != before["shard-000000.tar"]  # uploaded before
    assert after["shard-000002.tar"] == before["shard-000002.tar"]  # never half-written
    records = {r["source"]: r for r in manifest_records(s3, bucket, "out")}
    assert (records["cats/a.jpg"]["status"], records["dogs/c.jpg"]["status"]) == ("ok", "pending")

    code, stdout, stderr = run(*args, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["summary"]["ok"] == 1
    final = bucket_shards(s3, bucket)
    assert final["shard-000000.tar"] == after["shard-000000.tar"]
    assert final["shard-000002.tar"] != before["shard-000002.tar"]
    assert not [key for key in s3.objects(bucket, "out") if key.startswith(".")]


def _png(color: str, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), color).save(buffer, fmt)
    return buffer.getvalue()


def test_an_upload_that_fails_midway_leaves_no_object(s3, monkeypatch):
    from resizer.storage import fsspec as storage

    monkeypatch.setattr(storage, "UPLOAD_PART", 5 << 20)  # S3's smallest part
    bucket = s3.bucket()
    store = storage.ObjectStore(f"s3://{bucket}/out", (("endpoint_url", s3.endpoint),))
    with pytest.raises(RuntimeError), store.open_write("shard-000000.tar") as handle:
        handle.write(bytes(6 << 20))  # one part uploaded
        raise RuntimeError("the data ran out")
    assert s3.objects(bucket) == {}
    assert not s3.client.list_multipart_uploads(Bucket=bucket).get("Uploads")  # aborted
    with store.open_write("shard-000000.tar") as handle:
        handle.write(bytes(6 << 20))
        handle.write(b"end")
    assert s3.objects(bucket) == {"out/shard-000000.tar": bytes(6 << 20) + b"end"}
