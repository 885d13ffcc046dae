"""Timing and memory: one command measured from outside, the no-op re-run, the largest images
alone, and a cProfile breakdown of one in-process run.

Peak memory is each process's own high-water mark (VmHWM), sampled from /proc while it runs:
resizer's workers are children of a forkserver, which /usr/bin/time does not see.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bench.corpus import JOBS, JPEG_FORMATS, BenchJob, Context, fresh, link_tree, spread


@dataclass
class Measurement:
    """One timed command: wall time, CPU time and the peak memory of its processes."""

    wall: float
    returncode: int
    cpu: float  # user + system seconds of all its processes
    peak_kb: int  # largest peak RSS of any single process in the tree
    root_peak_kb: int  # peak RSS of the command's own (first) process
    others_peak_kb: int  # largest peak RSS of any process it started (workers)
    stdout: str = ""
    stderr: str = ""


class TreeSampler(threading.Thread):
    """Polls /proc for a process tree: each process's VmHWM (its peak RSS) and CPU time.

    /usr/bin/time sees only the processes its child waited for; resizer's workers are children
    of a forkserver, so their peaks are read here while they live (VmHWM never goes down).
    """

    def __init__(self, root_pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.stopped = threading.Event()
        self.peak_kb: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self.parent: dict[int, int] = {}
        self.ticks = os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.interval)

    def sample(self) -> None:
        stack = [self.root_pid]
        while stack:
            pid = stack.pop()
            status = read_text(f"/proc/{pid}/status")
            stat = read_text(f"/proc/{pid}/stat")
            if status is None or stat is None:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), int(line.split()[1]))
            fields = stat[stat.rindex(")") + 2 :].split()
            self.cpu[pid] = (int(fields[11]) + int(fields[12])) / self.ticks
            for child in _children(pid):
                self.parent[child] = pid
                stack.append(child)


def read_text(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    children = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return children
    for task in tasks:
        text = read_text(f"/proc/{pid}/task/{task}/children")
        if text:
            children.extend(int(part) for part in text.split())
    return children


TIME = shutil.which("time", path="/usr/bin:/bin") or None


def measure(command: list[str], env: dict | None = None, stdin: bytes | None = None) -> Measurement:
    """Run `command` (under /usr/bin/time -f when present) and measure it."""
    with tempfile.NamedTemporaryFile(prefix="bench-time-", delete=False) as handle:
        time_file = handle.name
    wrapped = [TIME, "-f", "%M %U %S", "-o", time_file, *command] if TIME else command
    started = time.perf_counter()
    process = subprocess.Popen(
        wrapped,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    sampler = TreeSampler(process.pid)
    sampler.start()
    stdout, stderr = process.communicate(stdin)
    wall = time.perf_counter() - started
    sampler.stopped.set()
    sampler.join()

    time_peak_kb, time_cpu = 0, 0.0
    text = (read_text(time_file) or "").strip().splitlines()
    os.unlink(time_file)
    if TIME and text:
        try:
            peak, user, system = text[-1].split()
            time_peak_kb, time_cpu = int(peak), float(user) + float(system)
        except ValueError:
            pass
    # The command's own process: the child of /usr/bin/time (or the Popen'd process itself).
    root = process.pid
    if TIME:
        root = next((pid for pid, parent in sampler.parent.items() if parent == process.pid), root)
    others = [kb for pid, kb in sampler.peak_kb.items() if pid not in (process.pid, root)]
    sampled_peak = max(sampler.peak_kb.values(), default=0)
    return Measurement(
        wall=wall,
        returncode=process.returncode,
        cpu=max(time_cpu, sum(sampler.cpu.values())),
        peak_kb=max(time_peak_kb, sampled_peak),
        root_peak_kb=sampler.peak_kb.get(root, time_peak_kb),
        others_peak_kb=max(others, default=0),
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
    )


def noop_rerun(ctx: Context, job: BenchJob, out: Path) -> tuple[list[float], list[dict]]:
    """Re-run resizer on an up-to-date OUT (no --force): the time of deciding to do nothing."""
    command = [ctx.resizer, "resize", str(ctx.input_dir), "-o", str(out), *job.resizer_options()]
    command += ["--jobs", str(ctx.cores), "--no-progress", "-q", "--json"]
    times, summaries = [], []
    for _ in range(ctx.repeat):
        measurement = measure(command)
        times.append(measurement.wall)
        try:
            summaries.append(json.loads(measurement.stdout).get("summary", {}))
        except json.JSONDecodeError:
            summaries.append({"error": measurement.stderr.strip()[-300:]})
    return times, summaries


def startup_time(ctx: Context) -> float:
    return min(measure([ctx.resizer, "--version"]).wall for _ in range(3))


def noop_tree(ctx: Context, job: BenchJob, count: int) -> dict:
    """A tree of `count` tiny PNGs: resize once, then time the no-op re-run."""
    root = ctx.work / "noop-tree"
    shutil.rmtree(root, ignore_errors=True)
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (90, 120, 150)).save(buffer, "PNG")
    data = buffer.getvalue()
    for index in range(count):
        folder = root / f"{index // 1000:03d}"
        if index % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"{index:06d}.png").write_bytes(data)
    out = ctx.work / "noop-tree-out"
    shutil.rmtree(out, ignore_errors=True)
    command = [ctx.resizer, "resize", str(root), "-o", str(out), *job.resizer_options()]
    command += ["--jobs", str(ctx.cores), "--no-progress", "-q"]
    first = measure(command)
    again = measure([*command, "--json"])
    try:
        summary = json.loads(again.stdout).get("summary", {})
    except json.JSONDecodeError:
        summary = {"error": again.stderr.strip()[-300:]}
    return {"files": count, "first": first.wall, "noop": again.wall, "summary": summary}


def memory_cases(ctx: Context) -> list[tuple[str, Path, tuple[int, int], bool]]:
    """The files whose peak memory matters: the largest JPEGs (>= 90 % of the largest, e.g. all
    48-MP ones), a progressive copy of the largest (libjpeg keeps every DCT coefficient of a
    progressive file in memory, even when it scales on load), and the largest PNG.
    Each case: label, path, stored size, whether it counts for the largest-JPEG target."""
    cases = []
    jpegs = [image for image in ctx.images if image.format in JPEG_FORMATS]
    if jpegs:
        largest = max(image.megapixels for image in jpegs)
        for image in jpegs:
            if image.megapixels >= 0.9 * largest:
                cases.append((image.name, image.path, (image.width, image.height), True))
        biggest = max(jpegs, key=lambda item: item.megapixels)
        copy = ctx.work / "memory" / "progressive" / Path(biggest.name).name
        copy.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(biggest.path) as image:
            exif = image.info.get("exif", b"")
            image.save(copy, "JPEG", quality=90, progressive=True, exif=exif)
        size = (biggest.width, biggest.height)
        cases.append((f"progressive copy of {biggest.name}", copy, size, True))
    pngs = [image for image in ctx.images if image.format == "PNG"]
    if pngs:
        image = max(pngs, key=lambda item: item.megapixels)
        cases.append((image.name, image.path, (image.width, image.height), False))
    return cases


def memory_runs(ctx: Context) -> list[dict]:
    """Each memory case resized alone to fit 512 with --jobs 1: one process is the worker."""
    job = JOBS["fit-512"]
    found = []
    for label, path, size, largest_jpeg in memory_cases(ctx):
        row = {"label": label, "size": size, "megapixels": size[0] * size[1] / 1e6}
        row["largest_jpeg"] = largest_jpeg
        for mode, extra in (("normal", []), ("exact", ["--exact"])):
            if mode == "exact" and found:  # the full decode once, for scale
                row[mode] = None
                continue
            out = fresh(ctx.work / "memory" / "out")
            command = [ctx.resizer, "resize", str(path), "-o", str(out), *job.resizer_options()]
            command += ["--jobs", "1", "--no-progress", "-q", *extra]
            measurement = measure(command)
            row[mode] = (measurement.peak_kb, measurement.wall, measurement.returncode)
        found.append(row)
    return found


STAGES = [
    # (label, file suffix, function, caller function or None)
    ("probe: open + header (PNG: full decode)", "resizer/codecs/probe.py", "probe", None),
    ("shrink-on-load setup (draft)", "resizer/codecs/probe.py", "shrink_on_load", None),
    ("decode (JPEG; PNG done in probe) + mode", "resizer/codecs/decode.py", "decode", None),
    ("resize", "resizer/backends/pillow.py", "resize", None),
    ("EXIF turn of the resized image", "resizer/codecs/pixels.py", "orient_image", "transform"),
    ("crop window", "resizer/backends/pillow.py", "window", None),
    ("encode", "resizer/codecs/encode.py", "encode", None),
    ("write (atomic)", "resizer/files.py", "write_atomic", None),
]


def cumulative(stats: pstats.Stats, suffix: str, function: str, caller: str | None) -> float:
    total = 0.0
    for (filename, _line, name), (_cc, _nc, _tt, ct, callers) in stats.stats.items():
        if name != function or not filename.replace(os.sep, "/").endswith(suffix):
            continue
        if caller is None:
            total += ct
        else:
            total += sum(value[3] for key, value in callers.items() if key[2] == caller)
    return total


def builtin_time(stats: pstats.Stats, fragment: str) -> float:
    return sum(
        value[3] for (filename, _line, name), value in stats.stats.items() if fragment in name
    )


def profile_job(ctx: Context, job: BenchJob, count: int) -> dict:
    """cProfile of one in-process resizer run with --jobs 1 on `count` images of the corpus."""
    from resizer.cli import cli

    sample = spread(ctx.images, count)
    source = link_tree(sample, ctx.work / "profile-input")
    out = fresh(ctx.work / "profile-out" / job.name)
    args = ["resize", str(source), "-o", str(out), *job.resizer_options()]
    args += ["--jobs", "1", "--no-progress", "-q"]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    try:
        cli.main(args=args, prog_name="resizer", standalone_mode=False)
    except SystemExit:
        pass
    finally:
        profiler.disable()
    wall = time.perf_counter() - started
    stats = pstats.Stats(profiler, stream=io.StringIO())
    per_image = cumulative(stats, "resizer/process.py", "process_image", None)
    rows = [(label, cumulative(stats, *where)) for label, *where in STAGES]
    rows.append(("sha256 of output", builtin_time(stats, "sha256")))
    accounted = sum(seconds for label, seconds in rows if not label.startswith("  "))
    rows.append(("other per-image work (stat, records)", per_image - accounted))
    rows.append(("outside images: plan, manifest, journal", wall - per_image))
    return {
        "images": len(sample),
        "wall": wall,
        "rows": rows,
        "megapixels": sum(image.megapixels for image in sample),
    }
