#!/usr/bin/env python3
"""Scale benchmark: a tree of many small images (default 100,000).

Measures, for `resizer resize TREE -o OUT --size 64x64`:
  - the first run: wall time, images/s, peak RSS of the parent process (it must stay bounded:
    no per-image state beyond the manifest record);
  - the no-op re-run (everything up to date): wall time and parent peak RSS; it must decide
    "skip" from file metadata alone, without decoding anything.

Usage: python bench/scale.py [--count 100000] [--work /tmp/resizer-scale] [--jobs N]
                             [--noop-runs R]
CPU seconds are shown for the no-op re-runs: the parent's own (they start no worker).
The runs use the `resizer` this script imports, started in --work so that the current folder
cannot shadow it: PYTHONPATH=other/checkout measures that one, side by side.
Appends nothing to the repository; prints a Markdown table (paste it into bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image


def build_tree(root: Path, count: int) -> None:
    """`count` small JPEGs in folders of 1,000; distinct bytes are not needed for this test."""
    if root.is_dir() and sum(1 for _ in root.rglob("*.jpg")) == count:
        return
    shutil.rmtree(root, ignore_errors=True)
    buffer = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").resize((96, 72)).save(buffer, "JPEG", quality=85)
    data = buffer.getvalue()
    for index in range(count):
        folder = root / f"class_{index // 1000:03d}"
        if index % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"img_{index:06d}.jpg").write_bytes(data)


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set size so far (VmHWM), in KiB; 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def timed_run(args: list[str], cwd: Path, env: dict) -> tuple[float, int, int, float]:
    """Wall seconds, the parent's peak RSS in KiB, the exit code, and the CPU seconds of the
    process (with those of children it waited for: worker processes are not all among them)."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, cwd=cwd, env=env)
    peak = 0
    while True:
        peak = max(peak, peak_rss_kib(process.pid))
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.02)
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, peak, process.returncode, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/resizer-scale"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--noop-runs", type=int, default=1, help="no-op re-runs, each reported")
    options = parser.parse_args()

    tree, out = options.work / "tree", options.work / "out"
    started = time.perf_counter()
    build_tree(tree, options.count)
    print(f"tree of {options.count} images ready in {time.perf_counter() - started:.1f} s")
    shutil.rmtree(out, ignore_errors=True)
    command = [
        *(sys.executable, "-m", "resizer", "resize", str(tree), "-o", str(out)),
        *("--size", "64x64", "--jobs", str(options.jobs), "--no-progress", "-q"),
    ]
    import resizer

    root = Path(resizer.__file__).resolve().parent.parent
    print(f"measuring the resizer in {root / 'resizer'}")
    env = {**os.environ, "PYTHONPATH": str(root)}
    first = timed_run(command, options.work, env)
    again = [timed_run(command, options.work, env) for _ in range(options.noop_runs)]
    manifest_lines = (out / "manifest.jsonl").read_text(encoding="utf-8").count("\n")
    print()
    print(
        f"| run ({options.count} images, {options.jobs} workers) | wall s | images/s "
        "| parent CPU s | parent peak RSS MiB | exit |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (seconds, peak, code, cpu) in (
        ("first run", first),
        *(("no-op re-run", run) for run in again),
    ):
        shown = f"{cpu:.1f}" if name != "first run" else "—"  # workers' CPU not all counted
        print(
            f"| {name} | {seconds:.1f} | {options.count / seconds:.0f} | {shown} "
            f"| {peak / 1024:.0f} | {code} |"
        )
    print(f"\nmanifest records: {manifest_lines}")
    codes = {first[2], *(run[2] for run in again)}
    return 0 if codes == {0} and manifest_lines == options.count else 1


if __name__ == "__main__":
    sys.exit(main())
