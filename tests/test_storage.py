"""Locations (paths and URLs), storage options, and the credentials rule: secrets come only
from the environment and are never written, printed or recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from s3_server import CREDENTIALS
from test_storage_out import SIZE, run

import resizer
from resizer.storage import (
    StorageError,
    base_name,
    is_url,
    join,
    location,
    parent,
    parse_options,
    shown,
)


def test_urls_stay_text_and_everything_else_is_a_path(tmp_path):
    assert location("s3://bucket/a/b/") == "s3://bucket/a/b"
    assert location("S3://bucket/a") == "s3://bucket/a"
    assert location(f"file://{tmp_path}/x") == tmp_path / "x"  # local guarantees kept
    assert location("photos/2024") == Path("photos/2024")
    assert location(Path("s3:/x")) == Path("s3:/x")  # a Path is never read as a URL
    assert is_url("gs://b/p") and not is_url(Path("gs://b")) and not is_url("a/b")
    assert join("s3://b/out", "cats/a.jpg") == "s3://b/out/cats/a.jpg"
    assert parent("s3://b/out/small.jpg") == "s3://b/out"
    assert base_name("s3://b/out/small.jpg") == "small.jpg" and base_name("s3://b") == "b"


def test_storage_options_are_text_pairs_and_secrets_are_refused():
    assert parse_options(["endpoint_url=http://127.0.0.1:9000", "anon=false"]) == (
        ("anon", "false"),
        ("endpoint_url", "http://127.0.0.1:9000"),
    )
    assert parse_options({"use_ssl": True, "max_concurrency": 4}) == (
        ("max_concurrency", "4"),
        ("use_ssl", "true"),
    )
    for key in ("key", "secret", "token", "password", "aws_secret_access_key", "sas_token"):
        with pytest.raises(StorageError, match="looks like a credential"):
            parse_options([f"{key}=x"])
    with pytest.raises(StorageError, match="is not KEY=VALUE"):
        parse_options(["endpoint_url"])


def test_a_url_with_a_password_is_refused_without_showing_it():
    with pytest.raises(StorageError) as refused:
        location("s3://AKIAUSER:hunter2-secret@bucket/out")
    assert "hunter2" not in str(refused.value) and "'s3://bucket/out'" in str(refused.value)
    assert shown("sftp://someone@host/data") == "sftp://host/data"


@pytest.mark.parametrize(
    "args",
    [
        ["-o", "s3://bucket/out", "--storage-option", "secret=hunter2-secret"],
        ["-o", "s3://AKIAUSER:hunter2-secret@bucket/out"],
        ["-o", "out", "--storage-option", "aws_session_token=hunter2-secret"],
    ],
)
def test_credentials_given_as_options_are_a_usage_error_that_does_not_echo_them(
    tmp_path, run_cli, args
):
    result = run_cli("resize", tmp_path, *args, "--size", "8x8")
    assert result.exit_code == 2
    assert "hunter2" not in result.output and "credential" in result.output + "password"
    assert not (tmp_path / "out").exists()


def test_no_secret_reaches_a_file_an_object_or_any_output(photo_tree, tmp_path, s3):
    """A whole session (s3 -> s3, s3 -> local, with --json and -v, a re-run, a failure): the
    secret credentials in the environment appear nowhere resizer wrote or printed."""
    bucket = s3.bucket()
    (photo_tree / "broken.jpg").write_bytes(b"not a jpeg")
    src = s3.upload(photo_tree, bucket, "src")
    outputs = []
    for out in (f"s3://{bucket}/out", str(tmp_path / "out")):
        for _ in range(2):
            code, stdout, stderr = run(src, "-o", out, *SIZE, "--json", "-vv", *s3.options)
            assert code == 1, stderr  # broken.jpg
            outputs += [stdout, stderr]
    written = [data for data in s3.objects(bucket).values()]
    written += [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert json.loads(outputs[0])["settings"]["out"] == f"s3://{bucket}/out"
    for secret in (CREDENTIALS["AWS_SECRET_ACCESS_KEY"], CREDENTIALS["AWS_ACCESS_KEY_ID"]):
        assert not any(secret in text for text in outputs)
        assert not any(secret.encode() in data for data in written)


def test_the_python_api_takes_storage_options_and_reads_the_manifest_back(photo_tree, s3):
    bucket = s3.bucket()
    src = s3.upload(photo_tree, bucket, "src")
    options = {"endpoint_url": s3.endpoint}
    result = resizer.resize(src, f"s3://{bucket}/out", size="48x48", storage_options=options)
    assert (result.ok, result.exit_code) == (3, 0)
    assert result.manifest == f"s3://{bucket}/out/manifest.jsonl"
    assert [r["source"] for r in result.records] == ["cats/a.jpg", "cats/b.png", "dogs/c.jpg"]
    again = resizer.resize(src, f"s3://{bucket}/out", size="48x48", storage_options=options)
    assert (again.ok, again.skipped) == (0, 3)  # a second run in the same process lists anew


def test_masks_need_local_folders(tmp_path, run_cli):
    (tmp_path / "masks").mkdir()
    result = run_cli("resize", tmp_path, "-o", "s3://bucket/out", "--size", "8x8",
                     "--masks", tmp_path / "masks")  # fmt: skip
    assert result.exit_code == 2
    assert "--masks works with local folders only" in result.output


def test_a_preview_needs_local_folders(tmp_path, run_cli):
    result = run_cli("resize", tmp_path, "-o", "s3://bucket/out", "--size", "8x8",
                     "--preview", tmp_path / "preview.png")  # fmt: skip
    assert result.exit_code == 2
    assert "--preview works with local folders only" in result.output


@pytest.mark.parametrize("fault", ["no credentials", "no server"])
def test_a_store_that_cannot_be_reached_is_a_usage_error_in_words(photo_tree, tmp_path, fault):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1", "HOME": str(tmp_path)}
    if fault == "no server":
        env |= {"AWS_ACCESS_KEY_ID": "AKIAFAKE", "AWS_SECRET_ACCESS_KEY": "fake"}
    endpoint = "endpoint_url=http://127.0.0.1:9"  # nothing listens on the discard port
    done = subprocess.run(
        [sys.executable, "-m", "resizer", "resize", photo_tree, "-o", "s3://bucket/out",
         "--size", "8x8", "--storage-option", endpoint],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot use OUT 's3://bucket/out': " in done.stderr
    expected = "no credentials found" if fault == "no credentials" else "could not connect"
    assert expected in done.stderr
