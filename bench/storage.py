#!/usr/bin/env python3
"""Object-storage overhead: fill-224 local -> local against s3 -> s3 (moto on 127.0.0.1).

The same images, the same options and the same number of workers, in interleaved rounds (local,
S3, local, S3, ...) so that noise from the machine hits both alike; each round writes into a
fresh OUT. Every round runs the whole corpus and its first half, so that the cost per run
(starting the store's client in each worker, the listings, the lock object) and the cost per
image (one GET, one PUT, the journal chunks) can be told apart: per image is the slope between
the two sizes, per run the rest. Best of the rounds for each. On loopback, the store's own work
(moto, in this process) shares the machine's cores with the workers; a real bucket instead adds
its network latency per request, which the workers overlap only as far as there are workers.

With `--container webdataset` (and `--shard-size`, default 20 samples) both OUTs get shards
instead of a file tree: local shards against shards in the bucket (staged objects, streaming
uploads). Each round also times a no-op re-run into the OUT of the whole corpus.

Usage: python bench/storage.py [--corpus DIR] [--count 60] [--rounds 3] [--jobs N]
                               [--container files|webdataset] [--shard-size 20]
Without --corpus, `--count` camera-like JPEGs (1600x1200, q90) are generated once into --work.
Needs moto[s3] and s3fs (the test extra). Prints a Markdown table; writes nothing in the
repository.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

IMAGES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}
FILL_224 = ["--size", "224x224", "--mode", "fill", "--format", "jpeg", "--quality", "90"]


def make_corpus(folder: Path, count: int) -> None:
    """Smooth colour fields plus noise: JPEGs that cost what photos cost to decode."""
    if folder.is_dir() and len(list(folder.rglob("*.jpg"))) == count:
        return
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1200, 0:1600].astype(np.float32)
    for index in range(count):
        planes = [
            127 + 100 * np.sin(x / rng.uniform(40, 200) + c) * np.cos(y / rng.uniform(40, 200))
            for c in range(3)
        ]
        array = np.stack(planes, axis=2) + rng.normal(0, 8, (1200, 1600, 3))
        path = folder / f"class_{index % 4}" / f"img_{index:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(path, quality=90)


def images(corpus: Path) -> list[Path]:
    return sorted(
        p
        for p in corpus.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGES and not p.name.startswith(".")
    )


def timed(args: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr.decode()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/resizer-bench-storage"))
    parser.add_argument("--container", choices=("files", "webdataset"), default="files")
    parser.add_argument("--shard-size", default="20")
    options = parser.parse_args()

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    corpus = options.corpus or options.work / "corpus"
    if options.corpus is None:
        make_corpus(corpus, options.count)
    files = images(corpus)
    env = {**os.environ, **CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="bench")
    for path in files:
        key = "src/" + path.relative_to(corpus).as_posix()
        client.put_object(Bucket="bench", Key=key, Body=path.read_bytes())

    half = options.work / "half"
    shutil.rmtree(half, ignore_errors=True)
    for path in files[: len(files) // 2]:
        target = half / path.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
        key = "half/" + path.relative_to(corpus).as_posix()
        client.put_object(Bucket="bench", Key=key, Body=path.read_bytes())

    base = [sys.executable, "-m", "resizer", "resize", *FILL_224, "--jobs", str(options.jobs)]
    base += ["--no-progress", "-q", "--container", options.container]
    if options.container == "webdataset":
        base += ["--shard-size", options.shard_size]
    sizes = {"all": (corpus, "src", len(files)), "half": (half, "half", len(files) // 2)}
    counts = {"all": len(files), "half": len(files) // 2, "no-op": len(files)}
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for round_ in range(options.rounds):
            for size, (folder, prefix, _) in sizes.items():
                out = options.work / f"out-{round_}-{size}"
                shutil.rmtree(out, ignore_errors=True)
                local_args = [*base, str(folder), "-o", str(out)]
                times.setdefault(("local -> local", size), []).append(timed(local_args, env))
                s3_args = [f"s3://bench/{prefix}", "-o", f"s3://bench/out-{round_}-{size}"]
                s3_args = [*base, *s3_args, "--storage-option", f"endpoint_url={endpoint}"]
                times.setdefault(("s3 -> s3", size), []).append(timed(s3_args, env))
                if size == "all":  # nothing changed: the up-to-date check alone
                    rerun = timed(local_args, env)
                    times.setdefault(("local -> local", "no-op"), []).append(rerun)
                    times.setdefault(("s3 -> s3", "no-op"), []).append(timed(s3_args, env))
                shutil.rmtree(out, ignore_errors=True)
    finally:
        server.stop()

    best = {key: min(values) for key, values in times.items()}
    count, fewer = sizes["all"][2], sizes["half"][2]
    what = "a file tree" if options.container == "files" else f"shards of {options.shard_size}"
    print(f"fill-224 on {count} images ({corpus}) and on the first {fewer}, --jobs {options.jobs},")
    print(f"--container {options.container} ({what}); no-op: a re-run into the first OUT,")
    print(f"best of {options.rounds} interleaved rounds, moto {_version('moto')} on 127.0.0.1\n")
    print("| SRC -> OUT | run | images | best wall (s) | images/s | all rounds (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (name, size), values in sorted(times.items(), key=lambda item: item[0][1]):
        rounds = ", ".join(f"{v:.2f}" for v in values)
        n = counts[size]
        print(
            f"| {name} | {size} | {n} | {best[name, size]:.2f} | {n / best[name, size]:.1f} "
            f"| {rounds} |"
        )
    slope = {
        name: (best[name, "all"] - best[name, "half"]) / (count - fewer)
        for name in ("local -> local", "s3 -> s3")
    }
    fixed = {name: best[name, "all"] - slope[name] * count for name in slope}
    per_image = 1000 * (slope["s3 -> s3"] - slope["local -> local"])
    per_run = fixed["s3 -> s3"] - fixed["local -> local"]
    print(
        f"\nper image: local {1000 * slope['local -> local']:.1f} ms, "
        f"s3 {1000 * slope['s3 -> s3']:.1f} ms (wall, {options.jobs} workers)"
    )
    print(f"object-storage overhead: {per_image:+.1f} ms per image, {per_run:+.2f} s per run")
    return 0


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
