#!/usr/bin/env python3
"""Scan benchmark: `resizer scan` over a tree of many small images (default 100,000).

The tree mixes the formats of real datasets: JPEGs with an EXIF orientation, PNGs with their
eXIf chunk after the image data, and WebPs, in folders of 1,000. Measures the wall time of
`resizer scan TREE --size 224x224 --mode fill --json` (the process as a user starts it: walk,
worker pool, headers, prediction, report) for each --jobs given, checks that the JSON reports
are identical, and prints a Markdown table.

Usage: python bench/scan.py [--count 100000] [--work /tmp/resizer-scan] [--jobs 1 2]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image


def sample_files() -> list[tuple[str, bytes]]:
    """Three small files (96x72) that make the header reader take each of its main paths."""
    image = Image.radial_gradient("L").convert("RGB").resize((96, 72))
    exif = Image.Exif()
    exif[0x0112] = 6
    files = []
    for extension, options in (
        ("jpg", {"format": "JPEG", "quality": 85, "exif": exif}),
        ("png", {"format": "PNG"}),
        ("webp", {"format": "WEBP", "quality": 80, "exif": exif}),
    ):
        buffer = io.BytesIO()
        image.save(buffer, **options)
        data = buffer.getvalue()
        if extension == "png":  # EXIF after the image data: the case getexif() decodes for
            data = data[:-12] + _png_chunk(b"eXIf", exif.tobytes()) + data[-12:]
        files.append((extension, data))
    return files


def _png_chunk(name: bytes, payload: bytes) -> bytes:
    import struct
    import zlib

    crc = zlib.crc32(name + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + name + payload + struct.pack(">I", crc)


def build_tree(root: Path, count: int) -> None:
    """6 JPEGs, 3 PNGs and 1 WebP in every 10 files."""
    marker = root / f".complete-{count}"
    if marker.exists():
        return
    files = sample_files()
    kinds = [files[0]] * 6 + [files[1]] * 3 + [files[2]]
    for index in range(count):
        folder = root / f"class_{index // 1000:03d}"
        if index % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        extension, data = kinds[index % 10]
        (folder / f"img_{index:06d}.{extension}").write_bytes(data)
    marker.touch()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/resizer-scan"))
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()

    tree = options.work / "tree"
    started = time.perf_counter()
    build_tree(tree, options.count)
    print(f"tree of {options.count} images ready in {time.perf_counter() - started:.1f} s")
    reports = {}
    rows = []
    for jobs in options.jobs:
        command = [
            *(sys.executable, "-m", "resizer", "scan", str(tree)),
            *("--size", "224x224", "--mode", "fill", "--jobs", str(jobs), "--json"),
        ]
        times = []
        for _ in range(options.repeat):
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        reports[jobs] = done.stdout
        rows.append(f"| {jobs} | {min(times):.2f} s | {max(times):.2f} s |")
    print(f"\n`resizer scan` of {options.count} files, {options.repeat} runs each:\n")
    print("| --jobs | fastest | slowest |")
    print("| --- | --- | --- |")
    print("\n".join(rows))
    identical = len(set(reports.values())) == 1
    print(f"\nJSON reports identical for every --jobs: {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
