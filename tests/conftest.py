"""Shared fixtures: small generated images, a CLI runner, the one-image pipeline and image metrics.

Images are made in tmp_path by code, so every test states the pixels it depends on.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from resizer.cli import cli
from resizer.process import Job, Result, process_image
from resizer.quality import psnr, ssim  # noqa: F401  (the package's metrics, for the tests)
from resizer.settings import Settings

SAMPLE_IMAGES = Path(__file__).resolve().parent.parent / "sample_images"
# Output file extension for each encoder format.
EXTENSIONS = {
    "jpeg": "jpg",
    "png": "png",
    "webp": "webp",
    "tiff": "tif",
    "bmp": "bmp",
    "gif": "gif",
}


def photo_array(width: int, height: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    """A smooth, photo-like uint8 image: low-frequency colour fields plus a little texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = []
    for channel in range(channels):
        fx, fy = rng.uniform(1, 4, size=2)
        phase = rng.uniform(0, 6.3)
        plane = 127 + 90 * np.sin(fx * x / max(width, 1) * 6.3 + phase) * np.cos(
            fy * y / max(height, 1) * 6.3 + channel
        )
        plane += rng.normal(0, 6, size=(height, width))
        planes.append(plane)
    array = np.stack(planes, axis=2) if channels > 1 else planes[0]
    return np.clip(array, 0, 255).astype(np.uint8)


def save_photo(path: Path, width: int, height: int, seed: int = 0, **save_options) -> Path:
    """Write an RGB photo-like image; the format follows the file extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo_array(width, height, seed)).save(path, **save_options)
    return path


def png_chunk(name: bytes, payload: bytes) -> bytes:
    """One PNG chunk with its length and checksum, to build files Pillow will not write."""
    crc = zlib.crc32(name + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + name + payload + struct.pack(">I", crc)


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_job(source: Path, out: Path, fmt: str = "png", **settings_options) -> Result:
    """Run one image through the real per-image pipeline, without the CLI or the worker pool.

    The output is `<source stem>.<extension of fmt>` in `out`; the record is returned whatever
    its status, so failures can be asserted on.
    """
    settings = Settings(sources=(source.parent,), out=out, **settings_options)
    output = f"{source.stem}.{EXTENSIONS[fmt]}"
    return process_image(Job(str(source), source.name, output, fmt), settings)


def resize_file(
    source: Path, out: Path, fmt: str = "png", **settings_options
) -> tuple[Result, Path]:
    """`run_job` for an image that must succeed: returns its record and the written file."""
    result = run_job(source, out, fmt, **settings_options)
    assert result.status == "ok", result.error
    return result, out / result.output


@pytest.fixture
def mount(tmp_path):
    """mount(kind, folder): 'full' puts a 1 MiB tmpfs on `folder`, 'read-only' bind-mounts it
    read-only on itself. Everything mounted is unmounted, deepest first, whatever happens."""
    mounted: list[Path] = []

    def make(kind: str, folder: Path, size: str = "1m") -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "full":
            commands = [["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]]
        else:
            commands = [
                ["mount", "--bind", str(folder), str(folder)],
                ["mount", "-o", "remount,bind,ro", str(folder)],
            ]
        for number, command in enumerate(commands):
            done = subprocess.run(command, capture_output=True, text=True)
            if number == 0 and done.returncode == 0:
                mounted.append(folder)
            if done.returncode != 0:
                pytest.skip(f"cannot mount here ({' '.join(command[:3])}): {done.stderr.strip()}")
        return folder

    try:
        yield make
    finally:
        for folder in reversed(mounted):
            if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def run_cli():
    """Invoke `resizer` in-process; returns click's Result (exit_code, stdout, stderr)."""

    def invoke(*args: str | Path):
        runner = CliRunner()
        return runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    """src/ of four small images in two classes, in the formats `compare` samples."""
    src = tmp_path / "src"
    save_photo(src / "cats" / "a.jpg", 120, 90, seed=1)
    save_photo(src / "cats" / "b.png", 90, 120, seed=2)
    save_photo(src / "dogs" / "c.jpg", 100, 100, seed=3)
    save_photo(src / "dogs" / "d.webp", 160, 100, seed=4)
    return src


@pytest.fixture
def photo_tree(tmp_path: Path) -> Path:
    """src/ with two class folders of small JPEGs and PNGs."""
    src = tmp_path / "src"
    save_photo(src / "cats" / "a.jpg", 120, 80, seed=1)
    save_photo(src / "cats" / "b.png", 90, 120, seed=2)
    save_photo(src / "dogs" / "c.jpg", 100, 100, seed=3)
    return src


class S3:
    """A real S3 API on 127.0.0.1 (moto's server behind the recording proxy of s3_server.py)."""

    def __init__(self, endpoint: str, proxy, client):
        self.endpoint, self.proxy, self.client = endpoint, proxy, client
        self.count = 0

    @property
    def options(self) -> list[str]:
        """The command-line options that point resizer at this server."""
        return ["--storage-option", f"endpoint_url={self.endpoint}"]

    def bucket(self) -> str:
        """A new, empty bucket of its own for a test."""
        self.count += 1
        name = f"bucket-{self.count:03d}"
        self.client.create_bucket(Bucket=name)
        return name

    def upload(self, folder: Path, bucket: str, prefix: str) -> str:
        """Every file under `folder` as objects under `prefix`; returns the prefix's URL."""
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                key = f"{prefix}/{path.relative_to(folder).as_posix()}"
                self.client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        return f"s3://{bucket}/{prefix}"

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Key (relative to `prefix`) -> content of every object under it."""
        found = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if prefix and not key.startswith(prefix + "/"):
                    continue
                body = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
                found[key[len(prefix) + 1 :] if prefix else key] = body
        return found


@pytest.fixture(scope="session")
def s3_server():
    """One moto S3 server on 127.0.0.1 for the session, with fake credentials in the
    environment (inherited by every resizer process and Dask worker)."""
    pytest.importorskip("moto", reason="object-storage tests need moto[s3] (the test extra)")
    pytest.importorskip("s3fs", reason="object-storage tests need resizer[s3]")
    import logging

    import boto3
    from moto.server import ThreadedMotoServer
    from s3_server import CREDENTIALS, start_proxy

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    proxy, front = start_proxy(server.get_host_and_port())
    endpoint = f"http://127.0.0.1:{front.server_address[1]}"
    try:
        yield S3(endpoint, proxy, boto3.client("s3", endpoint_url=endpoint))
    finally:
        front.shutdown()
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3(s3_server):
    """The session's S3 server, with no proxy rules or recorded requests left by other tests."""
    s3_server.proxy.rules.clear()
    s3_server.proxy.clear()
    yield s3_server
    s3_server.proxy.rules.clear()
