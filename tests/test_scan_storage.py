"""`resizer scan` on an object store (moto's S3 server on 127.0.0.1, through the recording
proxy of s3_server.py): the same report as on disk, from small ranged reads, and resize's
usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from images import bmp_bytes, gif_bytes, tiff_bytes
from odd_images import odd_images
from PIL import Image
from s3_server import CREDENTIALS

from resizer.headers.objects import BLOCK_BYTES, HEAD_BYTES
from resizer.scan import make_scan_settings, scan

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
JOB = ("--size", "224x224", "--mode", "fill")


def _scan(*args, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "resizer", "scan", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in done.stderr
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in done.stdout + done.stderr
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_a_bucket_scans_as_the_same_files_on_disk(s3, tmp_path):
    url = s3.upload(SAMPLES, s3.bucket(), "data/raw")
    remote = _scan(url, *JOB, *s3.options, "--json", "--records", tmp_path / "remote.jsonl")
    local = _scan(SAMPLES, *JOB, "--json", "--records", tmp_path / "local.jsonl")
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    remote_records = (tmp_path / "remote.jsonl").read_text()
    assert remote_records == (tmp_path / "local.jsonl").read_text()
    assert len(remote_records.splitlines()) == 15
    text = _scan(url, *JOB, *s3.options).stdout
    assert text == _scan(SAMPLES, *JOB).stdout


def test_headers_are_read_by_small_ranged_reads(s3):
    """No whole object for a format whose header is at the start (JPEG, WebP: the first
    HEAD_BYTES, and a JPEG's last bytes for its end-of-image marker); a PNG's chunk walk reads
    on, in a few growing blocks; the size comes from the listing (no HEAD request)."""
    bucket = s3.bucket()
    s3.upload(SAMPLES, bucket, "raw")
    sizes = {p.relative_to(SAMPLES).as_posix(): p.stat().st_size for p in SAMPLES.rglob("*.*")}
    s3.proxy.clear()
    _scan(f"s3://{bucket}/raw", *JOB, *s3.options, "-j", "2")
    reads: dict[str, list[int]] = {}
    for request in s3.proxy.requests:
        assert request.method == "GET", request
        if request.key:
            reads.setdefault(request.key.removeprefix("raw/"), []).append(request.sent)
    assert sorted(reads) == sorted(name for name in sizes if not name.endswith(".md"))
    for name, sent in reads.items():
        if name.endswith((".jpg", ".webp")) and sizes[name] > HEAD_BYTES:
            assert len(sent) <= 2 and sum(sent) <= HEAD_BYTES + 64, (name, sent)
        elif name.endswith(".png"):
            assert sent[0] == min(HEAD_BYTES, sizes[name]) and len(sent) <= 4, (name, sent)
            assert sent[1:2] in ([], [min(BLOCK_BYTES, sizes[name] - HEAD_BYTES)], [12])
        assert sum(sent) <= sizes[name]


def test_python_api_takes_storage_options(s3):
    url = s3.upload(SAMPLES / "animals", s3.bucket(), "animals")
    settings = make_scan_settings(
        url, size="100x100", storage_options={"endpoint_url": s3.endpoint}
    )
    remote = list(scan(settings).records())
    local = list(scan(make_scan_settings(SAMPLES / "animals", size="100x100")).records())
    assert remote == local and len(remote) == 4


def test_store_errors_are_resizes_usage_errors(s3):
    bucket = s3.bucket()
    s3.upload(SAMPLES / "coffee", bucket, "raw")
    cases = {
        f"s3://no-such-bucket-{bucket}/raw": "cannot be listed: no such bucket",
        f"s3://{bucket}/nothing": "does not exist (no object under it)",
    }
    for url, cause in cases.items():
        done = _scan(url, *s3.options, check=False)
        assert done.returncode == 2
        assert f"SRC {url!r} {cause}" in done.stderr
    s3.proxy.rules.append(lambda request: 403 if "list-type" in request.query else None)
    done = _scan(f"s3://{bucket}/raw", *s3.options, check=False)
    assert done.returncode == 2 and "cannot be listed: access denied" in done.stderr
    done = _scan(f"s3://{bucket}/raw", "--storage-option", "secret=x", check=False)
    assert done.returncode == 2 and "looks like a credential" in done.stderr


def test_an_unreadable_object_is_that_files_error(s3):
    bucket = s3.bucket()
    url = s3.upload(SAMPLES / "coffee", bucket, "raw")
    s3.proxy.rules.append(lambda request: 403 if request.key.endswith("coffee.jpg") else None)
    done = _scan(url, *s3.options, "--json", "--fail-on", "unreadable", check=False)
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["images"] == 2
    assert document["unreadable"] == [
        {"source": "coffee.jpg", "error": "cannot read: access denied"}
    ]


def test_a_url_is_never_collapsed_into_a_path(s3):
    for command in ("scan", "compare"):
        url = "s3://no-such-bucket-anywhere/data/raw"
        done = subprocess.run(
            [sys.executable, "-m", "resizer", command, url, "--size", "32", *s3.options],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 2, done.stderr
        assert url in done.stderr and "s3:/no-such" not in done.stderr
        assert "Traceback" not in done.stderr


def test_every_odd_format_scans_in_a_bucket_as_on_disk(s3, tmp_path):
    """TIFF (both byte orders, planar, 16-bit, float), BMP (RGB565), GIF and APNG (frames
    counted), colour keys: through the ranged reads of a store, including files larger than
    the first read, whose IFD, palette or later frames lie beyond it."""
    folder = tmp_path / "odd"
    for odd in odd_images():
        odd.write(folder / "small")
    noise = np.random.default_rng(7).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    large = folder / "large"
    large.mkdir(parents=True)
    (large / "big_be.tif").write_bytes(tiff_bytes([noise.astype(np.uint16) * 257], order=">"))
    (large / "big_planar.tif").write_bytes(tiff_bytes([noise, noise[::-1]], planar=2))
    (large / "big565.bmp").write_bytes(bmp_bytes(noise))
    frames = [Image.fromarray(np.roll(noise, shift, axis=1)) for shift in (0, 40, 80, 120)]
    (large / "big_animated.gif").write_bytes(gif_bytes(frames, duration=50, loop=0))
    sizes = [path.stat().st_size for path in large.iterdir()]
    assert min(sizes) > 4 * HEAD_BYTES  # every large file needs more than the first read
    url = s3.upload(folder, s3.bucket(), "odd")
    job = (*JOB, "--json", "-j", "2")
    remote = _scan(url, *job, *s3.options, "--records", tmp_path / "remote.jsonl", check=False)
    local = _scan(folder, *job, "--records", tmp_path / "local.jsonl", check=False)
    assert remote.returncode == local.returncode
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    remote_records = (tmp_path / "remote.jsonl").read_text()
    assert remote_records == (tmp_path / "local.jsonl").read_text()
    frames_of = {
        record["source"]: record.get("src_frames")
        for record in map(json.loads, remote_records.splitlines())
    }
    assert frames_of["large/big_animated.gif"] == 4
    assert len(frames_of) == len(odd_images()) + 4
