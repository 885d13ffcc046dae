#!/usr/bin/env python3
"""Memory benchmark: the parent process's peak RSS and time when a run plans a million images.

Builds once, and keeps under --work, a real tree of N zero-byte images (`.jpg` names, 1,000 per
folder): planning reads names and file metadata only, so empty files plan exactly as photos do.
For the up-to-date case it also builds OUT with N zero-byte outputs and a synthetic manifest of
N records, each as long as a real one (~560 bytes: every field filled as `resize` fills it,
a SHA-256, the fingerprint of the command's options), all matching their files.

Each run is a fresh `python -m resizer resize ...` whose own peak RSS (VmHWM of the parent
alone: worker processes are not counted) and CPU seconds are taken at its exit:

  dry run          `--dry-run` into an empty OUT: N images planned, `source -> output` printed
                   for each (to /dev/null)
  dry run --json   the same, the plan printed as one JSON document
  no-op re-run     a real run where every image is up to date from the synthetic manifest: the
                   earlier records are read, every source and output is stat'ed, the manifest
                   is written again (and must stay byte-identical), stale outputs are looked for

Usage: PYTHONPATH=. python bench/memory.py [--count 1000000] [--work /tmp/resizer-memory]
The runs use the `resizer` this script imports: PYTHONPATH=other/checkout measures that one.
A million empty files take ~1 GB of kernel memory on tmpfs (mount one at --work: far faster to
make than on a disk). Prints a Markdown table (paste it into bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PER_FOLDER = 1000
MTIME_NS = (
    1_700_000_000_123_456_789  # every file's modification time, so the manifest needs no stat
)
# Run by each measured process: the command itself, then its own peak RSS (VmHWM: of this
# process alone; getrusage's ru_maxrss would also count the parent it was forked from) and CPU
# seconds.
WRAPPER = """
import atexit, os, resource, sys
def report():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["RESIZER_BENCH_USAGE"], "w") as handle:
        handle.write(f"{peak} {usage.ru_utime + usage.ru_stime}")
atexit.register(report)
sys.argv = ["resizer", *sys.argv[1:]]
from resizer.cli import main
main()
"""


def names(count: int):
    for index in range(count):
        yield f"class_{index // PER_FOLDER:04d}/img_{index:07d}.jpg"


def build_files(root: Path, count: int) -> None:
    """`count` zero-byte files under `root`, all with the modification time MTIME_NS."""
    marker = root / f".complete-{count}"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    for index, name in enumerate(names(count)):
        path = root / name
        if index % PER_FOLDER == 0:
            path.parent.mkdir(parents=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        os.utime(path, ns=(MTIME_NS, MTIME_NS))
    marker.touch()


def record_text(name: str, fingerprint: str) -> str:
    from resizer.manifest import to_json
    from resizer.records import Result

    result = Result(
        source=name, output=name, status="ok", src_format="JPEG", src_width=96, src_height=72,
        src_mode="RGB", src_frames=1, orientation=1, width=64, height=48, format="jpeg",
        mode="RGB", bytes=0, sha256=hashlib.sha256(name.encode()).hexdigest(),
        resize=[64, 48], crop_box=[0, 0, 64, 48], pad_offset=[0, 0], decode_scale=None,
        src_bytes=0, src_mtime_ns=MTIME_NS, fingerprint=fingerprint,
        run="20260101T000000Z-0000", seconds=0.0042,
    )  # fmt: skip
    return to_json(result.record())


def build_manifest(out: Path, count: int, fingerprint: str) -> Path:
    manifest = out / "manifest.jsonl"
    with open(manifest, "w", encoding="utf-8") as handle:
        for name in names(count):  # already in sorted order, as resizer writes it
            handle.write(record_text(name, fingerprint) + "\n")
    return manifest


def digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def measured_run(args: list[str], work: Path) -> tuple[float, float, int, int]:
    """Wall seconds, parent CPU seconds, parent peak RSS in KiB, exit code. The command runs
    the `resizer` this script imported (`python -c` would put the current folder first)."""
    import resizer

    code = str(Path(resizer.__file__).resolve().parent.parent)
    with tempfile.NamedTemporaryFile(mode="r", suffix=".usage") as usage:
        environment = {**os.environ, "RESIZER_BENCH_USAGE": usage.name, "PYTHONPATH": code}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", WRAPPER, *args],
            stdout=subprocess.DEVNULL,
            env=environment,
            cwd=work,
        )
        wall = time.perf_counter() - started
        rss, cpu = usage.read().split()
    return wall, float(cpu), int(rss), done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/resizer-memory"))
    parser.add_argument("--only", default="dry-run,dry-run-json,no-op", help="runs, by name")
    options = parser.parse_args()
    from resizer.options import make_settings

    count, work = options.count, options.work
    tree, out, empty = work / "tree", work / "out", work / "empty-out"
    size = ("--size", "64x64")
    fingerprint = make_settings([tree], out, size="64x64").fingerprint
    started = time.perf_counter()
    build_files(tree, count)
    build_files(out, count)
    manifest = build_manifest(out, count, fingerprint)
    before = digest(manifest)
    print(f"{count} sources, outputs and records ready in {time.perf_counter() - started:.0f} s")
    import resizer

    print(f"measuring the resizer in {Path(resizer.__file__).parent}")

    shutil.rmtree(empty, ignore_errors=True)
    runs = {
        "dry-run": ("dry run", ["resize", str(tree), "-o", str(empty), *size, "--dry-run"]),
        "dry-run-json": (
            "dry run --json",
            ["resize", str(tree), "-o", str(empty), *size, "--dry-run", "--json"],
        ),
        "no-op": ("no-op re-run", ["resize", str(tree), "-o", str(out), *size, "-q"]),
    }
    rows = []
    for key in options.only.split(","):
        label, args = runs[key]
        wall, cpu, rss, code = measured_run(args, work)
        rows.append((label, wall, cpu, rss, code))
        print(f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU, {rss / 1024:.0f} MiB, exit {code}")
    unchanged = digest(manifest) == before
    print()
    print(
        f"| run ({count:,} images) | wall s | parent CPU s | CPU s per million "
        "| parent peak RSS MiB | exit |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, wall, cpu, rss, code in rows:
        print(
            f"| {label} | {wall:.1f} | {cpu:.1f} | {cpu * 1e6 / count:.1f} | {rss / 1024:.0f} "
            f"| {code} |"
        )
    print(f"\nmanifest byte-identical after the no-op re-run: {unchanged}")
    return 0 if unchanged and all(row[4] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
