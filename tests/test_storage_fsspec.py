"""ObjectStore against a real S3 API: one recursive listing with sizes and ETags, whole-object
writes, create-if-absent and replace-if-unchanged."""

from __future__ import annotations

import hashlib

from resizer.storage.fsspec import open_store, read_url


def test_one_listing_gives_every_object_with_its_size_and_etag(s3):
    bucket = s3.bucket()
    for key, body in {
        "p/a.jpg": b"abc",
        "p/sub/b.png": b"hello",
        "p/.hidden": b"",
        "q/c": b"",
    }.items():
        s3.client.put_object(Bucket=bucket, Key=key, Body=body)
    store = open_store(f"s3://{bucket}/p", (("endpoint_url", s3.endpoint),))
    s3.proxy.clear()
    entries = store.entries()
    assert list(entries) == [".hidden", "a.jpg", "sub/b.png"]  # sorted; hidden: the caller skips
    assert entries["sub/b.png"].size == 5
    assert entries["sub/b.png"].etag == hashlib.md5(b"hello").hexdigest()
    assert [r.method for r in s3.proxy.requests] == ["GET"]  # one ListObjectsV2 page
    assert read_url(f"s3://{bucket}/p/a.jpg", (("endpoint_url", s3.endpoint),)) == b"abc"


def test_create_only_if_absent_and_replace_only_the_version_seen(s3):
    bucket = s3.bucket()
    store = open_store(f"s3://{bucket}/p", (("endpoint_url", s3.endpoint),))
    assert store.create("lock", b"first") is True
    assert store.create("lock", b"second") is False
    assert store.read("lock") == b"first"
    seen = store.info("lock").etag
    assert store.replace("lock", b"third", seen) is True
    assert store.replace("lock", b"fourth", seen) is False  # someone else's version now
    assert store.read("lock") == b"third"
    store.remove("lock")
    assert store.info("lock") is None
