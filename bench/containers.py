"""Writing WebDataset shards beside writing the file tree: the fill-224 job, side by side.

Each round runs the job once per container into a fresh OUT, the order alternating from round
to round so that machine noise hits both alike; the best (shortest) wall time of the rounds
counts. Then a no-op re-run of each (everything up to date). Prints a Markdown section for
bench/RESULTS.md.

    python bench/containers.py --corpus /tmp/corpus [--rounds 5] [--jobs 2] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOB = [
    "--size",
    "224x224",
    "--mode",
    "fill",
    "--interpolation",
    "lanczos",
    "--format",
    "jpeg",
    "--quality",
    "90",
]
CONTAINERS = {
    "files": ["--container", "files"],
    "webdataset": ["--container", "webdataset"],  # 1000 samples per shard, the default
}


def read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def sample_tree(root: int, cpu: dict[int, float]) -> int:
    """CPU seconds of every process in the tree under `root` (updated in `cpu`, per pid: a
    process's last sample stands once it is gone) and the root's peak RSS in KiB."""
    ticks = os.sysconf("SC_CLK_TCK")
    stack = [root]
    while stack:
        pid = stack.pop()
        stat = read(f"/proc/{pid}/stat")
        if not stat:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
        for task in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}") else []:
            stack.extend(int(c) for c in read(f"/proc/{pid}/task/{task}/children").split())
    for line in read(f"/proc/{root}/status").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run(corpus: Path, out: Path, container: str, jobs: int) -> tuple[float, dict, int, dict]:
    """Wall seconds, CPU seconds by process id (the parent's first), the parent's peak RSS
    (KiB) and the JSON summary of one resizer run."""
    command = [
        sys.executable,
        "-m",
        "resizer",
        "resize",
        str(corpus),
        "-o",
        str(out),
        *JOB,
        *CONTAINERS[container],
        "--jobs",
        str(jobs),
        "--no-progress",
        "-q",
        "--json",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak, cpu = 0, {}
    while process.poll() is None:
        peak = max(peak, sample_tree(process.pid, cpu))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"resizer failed ({process.returncode}): {stderr.decode()}")
    return seconds, {process.pid: 0.0, **cpu}, peak, json.loads(stdout)["summary"]


def outputs(out: Path, container: str) -> int:
    """Images OUT holds, counted from the files themselves."""
    if container == "files":
        return sum(1 for p in out.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    count = 0
    for shard in sorted(out.glob("shard-*.tar")):
        with tarfile.open(shard) as archive:
            count += sum(1 for name in archive.getnames() if name.endswith(".jpg"))
    return count


def limited_corpus(corpus: Path, limit: int, work: Path) -> Path:
    """A tree of links to `limit` images spread evenly over the corpus."""
    images = sorted(p for p in corpus.rglob("*") if p.is_file())
    step = max(1, len(images) // limit)
    root = work / "corpus"
    for image in images[::step][:limit]:
        link = root / image.relative_to(corpus)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(image)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit", type=int, help="only N images, spread over the corpus")
    parser.add_argument("--work", type=Path, help="scratch folder [default: a temporary one]")
    options = parser.parse_args()

    work = options.work or Path(tempfile.mkdtemp(prefix="resizer-containers-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = options.corpus
    if options.limit:
        corpus = limited_corpus(corpus, options.limit, work)
    for path in corpus.rglob("*"):  # read once: no run pays for a cold page cache
        if path.is_file():
            path.read_bytes()
    times: dict[str, list[float]] = {name: [] for name in CONTAINERS}
    cpus: dict[str, list[float]] = {name: [] for name in CONTAINERS}
    parent_cpus: dict[str, list[float]] = {name: [] for name in CONTAINERS}
    peaks: dict[str, int] = dict.fromkeys(CONTAINERS, 0)
    found = 0
    order = list(CONTAINERS)
    for round_number in range(options.rounds):
        for container in order if round_number % 2 == 0 else order[::-1]:
            out = work / container
            shutil.rmtree(out, ignore_errors=True)
            seconds, cpu, peak, summary = run(corpus, out, container, options.jobs)
            assert summary["ok"] == summary["found"] == outputs(out, container), summary
            found = summary["found"]
            times[container].append(seconds)
            cpus[container].append(sum(cpu.values()))
            parent_cpus[container].append(next(iter(cpu.values())))
            peaks[container] = max(peaks[container], peak)
    noop = {}
    for container in CONTAINERS:
        seconds, _, _, summary = run(corpus, work / container, container, options.jobs)
        assert summary["skipped"] == found and summary.get("shards_written", 0) == 0, summary
        noop[container] = seconds
    if not options.work:
        shutil.rmtree(work, ignore_errors=True)

    best = {name: min(values) for name, values in times.items()}
    best_cpu = {name: min(values) for name, values in cpus.items()}
    ratio = best["webdataset"] / best["files"]
    cpu_ratio = best_cpu["webdataset"] / best_cpu["files"]
    # Each round's two runs are minutes apart at most: their ratio is the least noisy figure.
    median = statistics.median(
        w / f for w, f in zip(times["webdataset"], times["files"], strict=True)
    )
    command = " ".join(
        [
            "python bench/containers.py",
            "--corpus",
            str(options.corpus),
            "--rounds",
            str(options.rounds),
            "--jobs",
            str(options.jobs),
        ]
        + (["--limit", str(options.limit)] if options.limit else [])
    )
    print("## Output containers: shards beside the file tree (fill-224)\n")
    print(f"Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; ")
    print(
        f"{platform.processor() or platform.machine()}, `nproc` {os.cpu_count()}, load "
        f"average {', '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; {found} "
        f"images. Best of {options.rounds} interleaved rounds, a fresh OUT each run.\n"
    )
    print(
        "| container | best wall s | all runs s | images/s | best CPU s | all runs CPU s "
        "| parent CPU s | parent peak RSS MB | no-op re-run s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in CONTAINERS:
        runs = ", ".join(f"{value:.2f}" for value in times[name])
        cpu_runs = ", ".join(f"{value:.1f}" for value in cpus[name])
        parent = ", ".join(f"{value:.2f}" for value in parent_cpus[name])
        print(
            f"| {name} | {best[name]:.2f} | {runs} | {found / best[name]:.1f} | "
            f"{best_cpu[name]:.1f} | {cpu_runs} | {parent} | {peaks[name] / 1024:.0f} | "
            f"{noop[name]:.2f} |"
        )
    print(
        f"\nwebdataset ÷ files: best wall time **{ratio:.3f}**, best CPU time (all processes) "
        f"**{cpu_ratio:.3f}**, median of the rounds' wall-time ratios **{median:.3f}** "
        f"(below 1: shards are faster)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
