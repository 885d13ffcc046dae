#!/usr/bin/env python3
"""Engine benchmark: the fill-224 job on local worker processes and on a Dask cluster.

Both engines get the same number of single-threaded workers on this machine. The Dask cluster is
started once, before timing (`--scheduler` to a LocalCluster on 127.0.0.1), so the numbers
compare dispatch and processing, not cluster start-up (measured separately). Runs alternate
between the engines and the best of `--rounds` counts: machines here are shared and noisy.

Usage: python bench/engines.py --corpus DIR [--count 120] [--jobs 2] [--rounds 3]
Needs the `resizer` console script and `resizer[dask]`; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

EXTENSIONS = {".jpg", ".jpeg", ".png"}


def sample(corpus: Path, count: int, into: Path) -> int:
    """The first `count` images of the corpus (sorted), linked into one folder."""
    images = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in EXTENSIONS)[:count]
    into.mkdir(parents=True)
    for index, path in enumerate(images):
        os.symlink(path.resolve(), into / f"{index:05d}{path.suffix.lower()}")
    return len(images)


def timed_run(src: Path, out: Path, jobs: int, engine_args: list[str]) -> tuple[float, dict]:
    shutil.rmtree(out, ignore_errors=True)
    command = ["resizer", "resize", str(src), "-o", str(out), "--size", "224x224"]
    command += ["--mode", "fill", "--format", "jpeg", "--jobs", str(jobs), "--json", "-q"]
    started = time.perf_counter()
    done = subprocess.run(command + engine_args, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from distributed import LocalCluster

    work = Path(tempfile.mkdtemp(prefix="resizer-engines-"))
    try:
        count = sample(args.corpus, args.count, work / "src")
        started = time.perf_counter()
        cluster = LocalCluster(
            n_workers=args.jobs,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        )
        cluster_start = time.perf_counter() - started
        times: dict[str, list[float]] = {"local": [], "dask": []}
        digests: dict[str, set] = {"local": set(), "dask": set()}
        engines = {"local": [], "dask": ["--scheduler", cluster.scheduler_address]}
        try:
            for _ in range(args.rounds):
                for name, engine_args in engines.items():
                    seconds, document = timed_run(work / "src", work / name, args.jobs, engine_args)
                    assert document["summary"]["ok"] == count, document["summary"]
                    times[name].append(seconds)
                    records = (work / name / "manifest.jsonl").read_text().splitlines()
                    digests[name].add(tuple(sorted(json.loads(line)["sha256"] for line in records)))
        finally:
            cluster.close()
        same = digests["local"] == digests["dask"] and len(digests["local"]) == 1
        best = {name: min(values) for name, values in times.items()}
        print(f"{count} images, fill-224 JPEG q90, {args.jobs} workers, best of {args.rounds}")
        print()
        print("| engine | best s | images/s | all runs (s) |")
        print("| --- | --- | --- | --- |")
        for name in ("local", "dask"):
            runs = ", ".join(f"{value:.2f}" for value in times[name])
            print(f"| {name} | {best[name]:.2f} | {count / best[name]:.1f} | {runs} |")
        print()
        print(f"dask / local throughput: {best['local'] / best['dask']:.1%}")
        print(f"LocalCluster start-up (not in the times): {cluster_start:.1f} s")
        print(f"outputs byte-identical across engines and rounds: {same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
