"""OUT's lock on a real S3 API: an object created only if absent, refused to a second run,
taken over when stale, and a store that ignores the condition said out loud."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest
from test_run import _poisoned_tree, resizer_process
from test_storage_out import SIZE, manifest_records, run


@pytest.fixture
def slow_source(tmp_path, s3):
    src = tmp_path / "src"
    _poisoned_tree(src, good=0, SLOW=16)  # 0.3 s each
    bucket = s3.bucket()
    return bucket, s3.upload(src, bucket, "src")


def _wait_for_lock(s3, bucket: str, process) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            body = s3.client.get_object(Bucket=bucket, Key="out/.resizer.lock")["Body"].read()
            return json.loads(body)
        except s3.client.exceptions.NoSuchKey:
            time.sleep(0.05)
    raise AssertionError(f"the first run never took the lock: {process.poll()=}")


def test_a_second_run_on_the_same_out_is_refused_while_the_first_holds_the_lock(slow_source, s3):
    bucket, src = slow_source
    out = f"s3://{bucket}/out"
    first = resizer_process("resize", src, "-o", out, *SIZE, "--jobs", "2", *s3.options)
    holder = _wait_for_lock(s3, bucket, first)
    assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()
    code, _, stderr = run(src, "-o", out, *SIZE, *s3.options)
    assert code == 2, stderr
    assert f"another resizer run (pid {first.pid} on {socket.gethostname()})" in stderr
    assert f"is writing to {out}" in stderr
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert len(manifest_records(s3, bucket, "out")) == 16  # the first run was not disturbed
    assert ".resizer.lock" not in s3.objects(bucket, "out")


def test_wait_queues_behind_the_run_holding_the_lock(slow_source, s3):
    bucket, src = slow_source
    out = f"s3://{bucket}/out"
    first = resizer_process("resize", src, "-o", out, *SIZE, "--jobs", "2", *s3.options)
    _wait_for_lock(s3, bucket, first)
    code, stdout, stderr = run(src, "-o", out, *SIZE, "--wait", "--json", *s3.options)
    assert code == 0, stderr
    assert first.wait(60) == 0
    assert json.loads(stdout)["summary"]["skipped"] == 16  # planned again after waiting


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    ("holder", "taken", "why"),
    [
        ({"host": "HERE", "pid": "DEAD", "refreshed": "NOW"}, True, "its process"),
        ({"host": "elsewhere", "pid": 4242, "refreshed": "NOW"}, False, None),
        ({"host": "elsewhere", "pid": 4242, "refreshed": "HOUR AGO"}, True, "last refreshed"),
    ],
)
def test_a_stale_lock_is_taken_over_and_a_live_one_is_not(photo_tree, s3, holder, taken, why):
    bucket = s3.bucket()
    src = s3.upload(photo_tree, bucket, "src")
    values = {"HERE": socket.gethostname(), "DEAD": _dead_pid()}
    values |= {"NOW": time.time(), "HOUR AGO": time.time() - 3600}
    left = {key: values.get(value, value) for key, value in holder.items()}
    s3.client.put_object(Bucket=bucket, Key="out/.resizer.lock", Body=json.dumps(left))
    code, _, stderr = run(src, "-o", f"s3://{bucket}/out", *SIZE, *s3.options)
    if taken:
        assert code == 0, stderr
        assert "took over a stale lock" in stderr and why in stderr
        assert ".resizer.lock" not in s3.objects(bucket, "out")
    else:
        assert code == 2, stderr
        assert "another resizer run (pid 4242 on elsewhere)" in stderr
        assert list(s3.objects(bucket, "out")) == [".resizer.lock"]  # nothing else written


def test_a_store_that_ignores_create_if_absent_gets_a_warning(photo_tree, s3):
    bucket = s3.bucket()
    src = s3.upload(photo_tree, bucket, "src")
    s3.proxy.rules.append(
        lambda r: "strip-if-none-match" if r.key.endswith(".resizer.lock") else None
    )
    code, _, stderr = run(src, "-o", f"s3://{bucket}/out", *SIZE, *s3.options)
    assert code == 0, stderr
    assert "ignores create-if-absent writes (If-None-Match)" in stderr
    assert "two runs on this OUT at the same time are not prevented" in stderr
