"""Benchmark resizer side by side with vipsthumbnail, ImageMagick and a decode-only floor.

    python bench/run.py --corpus /tmp/corpus [--work DIR] [--jobs N] [--only fit-512,fill-224]
                        [--limit N] [--repeat 3] [--skip-peers] [--noop-files N]
                        [--results bench/RESULTS.md]

For each standard job (fit-512, fill-224) every tool runs on the same files, interleaved round by
round (the order rotates each round) so that noise from the machine hits all of them alike; the
best (shortest) wall time of the rounds is reported. Then: a quality check of resizer's output
against its own `--exact` output (PSNR, SSIM), the no-op re-run, the peak memory of the largest
images (48-MP JPEGs) resized alone, and a cProfile breakdown of one in-process run. Everything
is written to a Markdown report (default: bench/RESULTS.md) and the main table is printed.

Needs only the standard library, numpy and Pillow (and resizer itself for the decode floor).
See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import math
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from resizer import quality as metrics

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
JPEG_FORMATS = ("JPEG", "MPO")


@dataclass(frozen=True)
class BenchJob:
    """One standard job: the same work asked of every tool."""

    name: str
    width: int
    height: int
    mode: str  # fit | fill

    def resizer_options(self, fmt: str = "jpeg") -> list[str]:
        return [
            "--size", f"{self.width}x{self.height}", "--mode", self.mode,
            "--interpolation", "lanczos", "--format", fmt, "--quality", "90",
        ]  # fmt: skip

    def vips_options(self, out: Path) -> list[str]:
        options = ["--size", f"{self.width}x{self.height}"]
        if self.mode == "fill":
            options += ["--smartcrop", "centre"]
        return [*options, "-o", f"{out}/%s.jpg[Q=90]"]

    def magick_options(self, out: Path, size_hint: bool) -> list[str]:
        options = ["-path", str(out), "-format", "jpg"]
        if size_hint:  # ImageMagick's shrink-on-load: DCT scaling to at least 2x the target
            options += ["-define", f"jpeg:size={2 * self.width}x{2 * self.height}"]
        options += ["-auto-orient", "-filter", "Lanczos"]
        box = f"{self.width}x{self.height}"
        if self.mode == "fill":
            options += ["-resize", f"{box}^", "-gravity", "center", "-extent", box]
        else:
            options += ["-resize", box]
        return [*options, "-quality", "90"]


JOBS = {
    "fit-512": BenchJob("fit-512", 512, 512, "fit"),
    "fill-224": BenchJob("fill-224", 224, 224, "fill"),
}

TARGET_VS_VIPS = 1.3
TARGET_VS_FLOOR = 0.70
ENCODER_ROW = "JPEG q90 alone"  # quality row: --exact JPEG output vs --exact PNG output
TARGET_PSNR = 40.0
TARGET_SSIM = 0.99
TARGET_BIG_RSS_MB = 300
TARGET_NOOP_S = 1.5  # over the 400-image corpus
TARGET_NOOP_TREE_S = 15.0  # over 100,000 files


# ---------------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class SourceImage:
    path: Path  # absolute path of the corpus file
    name: str  # POSIX path relative to the corpus root
    format: str
    width: int  # stored size
    height: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def find_images(corpus: Path) -> tuple[list[SourceImage], int]:
    """Every image file under `corpus`, found by the same rules as resizer's walk, and the
    number of image-named files Pillow cannot open (left out)."""
    found, unreadable = [], 0
    for folder, dirs, names in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            path = Path(folder, name).resolve()
            try:
                with Image.open(path) as image:
                    fmt, (width, height) = image.format or "", image.size
            except OSError:
                unreadable += 1  # every tool would fail it: leave it out of the timings
                continue
            name_in_corpus = Path(folder, name).relative_to(corpus).as_posix()
            found.append(SourceImage(path, name_in_corpus, fmt, width, height))
    return sorted(found, key=lambda image: image.name), unreadable


def spread(items: list, count: int) -> list:
    """`count` items evenly spaced over `items`, so a small sample still has every kind."""
    if count >= len(items):
        return list(items)
    return [items[index * len(items) // count] for index in range(count)]


def link_tree(images: list[SourceImage], root: Path) -> Path:
    """A folder of symbolic links mirroring the corpus layout, for a subset of the images."""
    shutil.rmtree(root, ignore_errors=True)
    for image in images:
        link = root / image.name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(image.path)
    return root


def warm_cache(images: list[SourceImage]) -> None:
    """Read every file once so the first tool does not pay for a cold page cache."""
    for image in images:
        with open(image.path, "rb") as handle:
            while handle.read(1 << 22):
                pass


# ------------------------------------------------------------------------------ measuring


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
            status = _read(f"/proc/{pid}/status")
            stat = _read(f"/proc/{pid}/stat")
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


def _read(path: str) -> str | None:
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
        text = _read(f"/proc/{pid}/task/{task}/children")
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
    text = (_read(time_file) or "").strip().splitlines()
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


# ----------------------------------------------------------------------------------- tools


@dataclass
class ToolRun:
    measurement: Measurement
    outputs: int  # output files written (decode floor: images decoded)
    failed: int  # images reported failed; -1: a peer exited non-zero (it does not say which)


@dataclass
class Tool:
    """A competitor: its name and how to run it for a job into an output folder."""

    name: str
    run: Callable[[BenchJob, Path], ToolRun]


def find_resizer() -> str:
    beside = Path(sys.executable).with_name("resizer")
    if beside.exists():
        return str(beside)
    found = shutil.which("resizer")
    if not found:
        sys.exit("bench: the resizer console script is not installed (pip install -e .)")
    return found


def count_files(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))


def read_manifest(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def xargs_chunk(count: int, cores: int) -> int:
    """Files per peer process: amortises start-up, keeps the tail short."""
    return max(1, min(8, math.ceil(count / (cores * 8))))


def make_tools(ctx: Context) -> list[Tool]:
    tools = [Tool("resizer", lambda job, out: run_resizer(ctx, job, out))]
    if ctx.skip_peers:
        return tools
    if shutil.which("vipsthumbnail"):
        tools.append(Tool("vipsthumbnail", lambda job, out: run_vips(ctx, job, out)))
    else:
        ctx.notes.append("vipsthumbnail is not installed: its rows are missing.")
    if ctx.mogrify:
        tools.append(Tool("mogrify", lambda job, out: run_magick(ctx, job, out, False)))
        tools.append(Tool("mogrify +jpeg:size", lambda job, out: run_magick(ctx, job, out, True)))
    else:
        ctx.notes.append("ImageMagick mogrify is not installed: its rows are missing.")
    return tools


def run_resizer(ctx: Context, job: BenchJob, out: Path, *extra: str, fmt: str = "jpeg") -> ToolRun:
    fresh(out)
    command = [ctx.resizer, "resize", str(ctx.input_dir), "-o", str(out)]
    command += job.resizer_options(fmt)
    command += ["--jobs", str(ctx.cores), "--no-progress", "-q", *extra]
    measurement = measure(command)
    records = read_manifest(out / "manifest.jsonl")
    failed = sum(1 for record in records if record["status"] == "failed")
    if measurement.returncode not in (0, 1):
        raise RuntimeError(f"resizer exited {measurement.returncode}: {measurement.stderr}")
    ok = sum(1 for record in records if record["status"] == "ok")
    return ToolRun(measurement, ok, failed)


def _file_list(ctx: Context) -> bytes:
    return b"\0".join(os.fsencode(image.path) for image in ctx.images)


def run_vips(ctx: Context, job: BenchJob, out: Path) -> ToolRun:
    fresh(out)
    chunk = xargs_chunk(len(ctx.images), ctx.cores)
    command = ["xargs", "-0", "-P", str(ctx.cores), "-n", str(chunk), "vipsthumbnail"]
    command += job.vips_options(out)
    measurement = measure(command, env={"VIPS_CONCURRENCY": "1"}, stdin=_file_list(ctx))
    return ToolRun(measurement, count_files(out), 0 if measurement.returncode == 0 else -1)


def run_magick(ctx: Context, job: BenchJob, out: Path, size_hint: bool) -> ToolRun:
    fresh(out)
    chunk = xargs_chunk(len(ctx.images), ctx.cores)
    command = ["xargs", "-0", "-P", str(ctx.cores), "-n", str(chunk), ctx.mogrify]
    command += job.magick_options(out, size_hint)
    measurement = measure(command, env={"MAGICK_THREAD_LIMIT": "1"}, stdin=_file_list(ctx))
    return ToolRun(measurement, count_files(out), 0 if measurement.returncode == 0 else -1)


def find_mogrify() -> str | None:
    """ImageMagick's mogrify (another program named `convert` may shadow ImageMagick's)."""
    for candidate in (shutil.which("mogrify"), "/usr/bin/mogrify"):
        if candidate and Path(candidate).exists():
            version = _output([candidate, "-version"])
            if "ImageMagick" in version:
                return candidate
    return None


def _output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout + done.stderr).strip()


# ---------------------------------------------------------------------------- decode floor


def run_floor(ctx: Context, job: BenchJob) -> ToolRun:
    """The decode floor, in a process of its own so that its memory and CPU are its own."""
    list_file = ctx.work / "floor-files.txt"
    list_file.write_text("\n".join(str(image.path) for image in ctx.images) + "\n")
    command = [sys.executable, str(Path(__file__).resolve()), "--internal-floor", str(list_file)]
    command += ["--internal-job", job.name, "--jobs", str(ctx.cores)]
    measurement = measure(command)
    if measurement.returncode != 0:
        raise RuntimeError(f"decode floor failed: {measurement.stderr}")
    summary = json.loads(measurement.stdout.strip().splitlines()[-1])
    ctx.floor_details[job.name] = summary
    return ToolRun(measurement, summary["decoded"], summary["failed"])


def _floor_decode(task: tuple[str, str]) -> tuple[str, str, int, float, str | None]:
    """Decode one file as resizer would before resizing: JPEG DCT-scaled, others fully."""
    path, job_name = task
    from resizer import codecs, geometry

    job = JOBS[job_name]
    started = time.perf_counter()
    try:
        header = codecs.probe(Path(path), None)  # a PNG is fully decoded here
        sizing = geometry.Sizing("size", width=job.width, height=job.height)
        plan = geometry.compute(header.upright_size, sizing, job.mode)
        codecs.shrink_on_load(header, plan.resized)
        header.image.load()
        scale = round(header.stored_size[0] / header.image.size[0])
        header.image.close()
        return path, header.format, scale, time.perf_counter() - started, None
    except Exception as error:  # reported, not fatal: the floor counts what it decoded
        return path, "", 0, time.perf_counter() - started, f"{type(error).__name__}: {error}"


def floor_main(list_file: Path, job_name: str, cores: int) -> None:
    """`--internal-floor`: decode every listed file on all cores; print a JSON summary."""
    import multiprocessing

    paths = [line for line in list_file.read_text().splitlines() if line]
    scales: dict[str, int] = {}
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    failures = []
    with multiprocessing.Pool(cores) as pool:
        tasks = [(path, job_name) for path in paths]
        for path, fmt, scale, spent, error in pool.imap_unordered(_floor_decode, tasks):
            if error:
                failures.append(f"{path}: {error}")
                continue
            scales[path] = scale
            seconds[fmt] = seconds.get(fmt, 0.0) + spent
            counts[fmt] = counts.get(fmt, 0) + 1
    summary = {
        "decoded": len(scales),
        "failed": len(failures),
        "failures": failures[:5],
        "scales": scales,
        "seconds_by_format": seconds,
        "count_by_format": counts,
    }
    print(json.dumps(summary))


# --------------------------------------------------------------------------------- quality


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR over all channels (resizer.quality.psnr, the package's one definition)."""
    return metrics.psnr(a, b)


def luma(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        return array.astype(np.float64)
    if array.shape[2] <= 2:  # L or LA
        return array[..., 0].astype(np.float64)
    rgb = array[..., :3].astype(np.float64)
    return rgb @ np.array([0.299, 0.587, 0.114])


def ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """Mean SSIM on luma (resizer.quality.ssim: 11-tap Gaussian window, sigma 1.5, K1=0.01,
    K2=0.03, range 255; None under 11 pixels)."""
    return metrics.ssim(luma(a), luma(b))


@dataclass
class Quality:
    compared: int = 0
    identical: int = 0
    psnr_values: list[float] = field(default_factory=list)  # finite values only
    worst_psnr: tuple[float, str] = (math.inf, "")
    ssim_values: list[float] = field(default_factory=list)
    worst_ssim: tuple[float, str] = (1.0, "")
    unmatched: int = 0
    per_image: list[tuple[tuple[float, float | None], str]] = field(default_factory=list)

    def add(self, name: str, a: np.ndarray, b: np.ndarray) -> None:
        self.compared += 1
        value = psnr(a, b)
        index = ssim(a, b)
        self.per_image.append(((value, index), name))
        if math.isinf(value):
            self.identical += 1
        else:
            self.psnr_values.append(value)
        if value < self.worst_psnr[0]:
            self.worst_psnr = (value, name)
        if index is not None:
            self.ssim_values.append(index)
            if index < self.worst_ssim[0]:
                self.worst_ssim = (index, name)

    @property
    def mean_psnr(self) -> float:
        return float(np.mean(self.psnr_values)) if self.psnr_values else math.inf

    @property
    def mean_ssim(self) -> float:
        return float(np.mean(self.ssim_values)) if self.ssim_values else 1.0

    @property
    def below_target(self) -> int:
        """Images under either bound (an image under both counts once)."""
        low_psnr = {name for value, name in self.per_image if value[0] < TARGET_PSNR}
        low_ssim = {
            name
            for value, name in self.per_image
            if value[1] is not None and value[1] < TARGET_SSIM
        }
        return len(low_psnr | low_ssim)

    @property
    def met(self) -> bool:
        return (
            self.compared > 0
            and self.unmatched == 0
            and self.worst_psnr[0] >= TARGET_PSNR
            and self.worst_ssim[0] >= TARGET_SSIM
        )


def compare_outputs(normal: Path, exact: Path, flattened: bool = False) -> Quality:
    """PSNR and SSIM of each normal output against the --exact output of the same source.

    With `flattened`, an alpha output is compared by its colour over black, which is what a
    JPEG output of the same image holds.
    """
    quality = Quality()
    exact_outputs = {
        record["source"]: record["output"]
        for record in read_manifest(exact / "manifest.jsonl")
        if record["status"] in ("ok", "skipped")
    }
    for record in read_manifest(normal / "manifest.jsonl"):
        if record["status"] not in ("ok", "skipped"):
            continue
        other = exact_outputs.get(record["source"])
        if other is None:
            quality.unmatched += 1
            continue
        with Image.open(normal / record["output"]) as a, Image.open(exact / other) as b:
            first, second = visible(a), visible(b)
            if flattened:
                first, second = _colour(a, first), _colour(b, second)
            if first.shape != second.shape:
                quality.unmatched += 1
                continue
            quality.add(record["source"], first, second)
    return quality


def _colour(image: Image.Image, array: np.ndarray) -> np.ndarray:
    """The colour channels of `visible(image)`: premultiplied = flattened onto black."""
    if image.mode in ("RGBA", "LA"):
        array = array[..., :-1]
        return array[..., 0] if array.shape[2] == 1 else array
    return array


def visible(image: Image.Image) -> np.ndarray:
    """Pixels as seen: colour premultiplied by alpha where there is alpha.

    The colour of a nearly transparent pixel is ill-conditioned (a resize divides it by an
    alpha of a few units) and invisible; premultiplied, it weighs what it shows.
    """
    array = np.asarray(image)
    if image.mode not in ("RGBA", "LA"):
        return array
    return metrics.visible(array)


# -------------------------------------------------------------------------------- profiling


STAGES = [
    # (label, file suffix, function, caller function or None)
    ("probe: open + header (PNG: full decode)", "resizer/codecs.py", "probe", None),
    ("shrink-on-load setup (draft)", "resizer/codecs.py", "shrink_on_load", None),
    ("decode (JPEG; PNG done in probe) + mode", "resizer/codecs.py", "decode", None),
    ("resize", "resizer/backends/pillow.py", "resize", None),
    ("EXIF turn of the resized image", "resizer/codecs.py", "orient_image", "_process"),
    ("crop window", "resizer/backends/pillow.py", "window", None),
    ("encode", "resizer/codecs.py", "encode", None),
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


# ------------------------------------------------------------------------------ the runs


@dataclass
class Context:
    corpus: Path
    work: Path
    cores: int
    images: list[SourceImage]
    input_dir: Path
    resizer: str
    mogrify: str | None
    skip_peers: bool
    repeat: int
    notes: list[str] = field(default_factory=list)
    floor_details: dict = field(default_factory=dict)

    @property
    def megapixels(self) -> float:
        return sum(image.megapixels for image in self.images)


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def best(runs: list[ToolRun]) -> ToolRun:
    return min(runs, key=lambda run: run.measurement.wall)


def output_folder(ctx: Context, job: BenchJob, tool: str) -> Path:
    """A plain folder name per tool: ImageMagick reads `name:` in a path as a format prefix."""
    slug = "".join(char if char.isalnum() else "-" for char in tool).strip("-")
    return ctx.work / "out" / job.name / slug


def run_rounds(ctx: Context, jobs: list[BenchJob]) -> dict[str, dict[str, list[ToolRun]]]:
    """Every tool on every job, `repeat` rounds, interleaved, with a rotating order."""
    tools = make_tools(ctx)
    tools.append(Tool("decode floor", lambda job, out: run_floor(ctx, job)))
    results: dict[str, dict[str, list[ToolRun]]] = {job.name: {} for job in jobs}
    for round_number in range(ctx.repeat):
        for job in jobs:
            shift = round_number % len(tools)
            for tool in tools[shift:] + tools[:shift]:
                run = tool.run(job, output_folder(ctx, job, tool.name))
                if run.measurement.returncode != 0 and tool.name != "resizer":
                    ctx.notes.append(
                        f"{tool.name} exited {run.measurement.returncode} on {job.name}: "
                        f"{run.measurement.stderr.strip()[-300:]!r}"
                    )
                results[job.name].setdefault(tool.name, []).append(run)
                say(
                    f"round {round_number + 1}/{ctx.repeat} {job.name} {tool.name}: "
                    f"{run.measurement.wall:.2f} s, {run.outputs} outputs"
                )
    return results


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


def memory_section(ctx: Context, rows: list[dict], results: dict) -> tuple[list[str], list[str]]:
    lines = [
        "## Memory",
        "",
        "Each file resized alone to fit 512 with `--jobs 1` (one process: what one worker "
        "holds for that image); `--exact` (full decode) once, for comparison.",
        "",
        "| image | size | MP | peak RSS MB | wall s | `--exact` peak RSS MB | `--exact` wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        peak, wall, code = row["normal"]
        failed = f" (exit {code})" if code else ""
        exact = ("", "")
        if row["exact"] is not None:
            exact = (mb(row["exact"][0]), f"{row['exact'][1]:.2f}")
        lines.append(
            f"| {row['label']}{failed} | {row['size'][0]}x{row['size'][1]} | "
            f"{row['megapixels']:.1f} | {mb(peak)} | {wall:.2f} | {exact[0]} | {exact[1]} |"
        )
    lines.append("")
    for job_name, by_tool in results.items():
        top = best(by_tool["resizer"]).measurement
        lines.append(
            f"- {job_name}, all {len(ctx.images)} images, {ctx.cores} workers (best round): "
            f"largest worker peak {mb(top.others_peak_kb)} MB, parent peak "
            f"{mb(top.root_peak_kb)} MB"
        )
    lines.append("")
    targets = []
    big = [row for row in rows if row["largest_jpeg"]]
    largest = max((row["megapixels"] for row in big), default=0)
    if big:
        worst = max(big, key=lambda row: row["normal"][0])
        peak_mb = worst["normal"][0] / 1024
        met = peak_mb < TARGET_BIG_RSS_MB and all(row["normal"][2] == 0 for row in big)
        targets.append(
            f"| {largest:.0f}-MP JPEG to 512, --jobs 1: peak RSS < {TARGET_BIG_RSS_MB} MB "
            f"| {peak_mb:.0f} MB (worst of {len(big)}: {worst['label']}) | {verdict(met)} |"
        )
    return lines, targets


def package_state() -> str:
    """A hash of the installed package's source, to notice a package that changes mid-run."""
    import hashlib
    from importlib.util import find_spec

    spec = find_spec("resizer")
    if spec is None or not spec.submodule_search_locations:
        return "?"
    root = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


# --------------------------------------------------------------------------------- report


def versions(mogrify: str | None) -> dict[str, str]:
    found = {}
    for label, package in (
        ("resizer", "resizer"),
        ("Pillow", "pillow"),
        ("OpenCV", "opencv-python-headless"),
        ("numpy", "numpy"),
    ):
        try:
            found[label] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[label] = "not installed"
    try:
        from PIL import features

        found["Pillow's libjpeg-turbo"] = features.version("libjpeg_turbo") or "?"
    except Exception:
        found["Pillow's libjpeg-turbo"] = "?"
    found["Python"] = platform.python_version()
    vips = _output(["vipsthumbnail", "--vips-version"]) if shutil.which("vipsthumbnail") else ""
    found["libvips"] = vips or "not installed"
    found["ImageMagick"] = (
        _output([mogrify, "-version"]).splitlines()[0] if mogrify else "not installed"
    )
    return found


def cpu_model() -> str:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def table_rows(ctx: Context, results: dict) -> tuple[list[str], dict[str, dict[str, float]]]:
    header = (
        "| job | tool | best wall s | all runs s | images/s | source MP/s | CPU s | cores busy "
        "| peak RSS MB | outputs | resizer speed ÷ this |"
    )
    lines = [header, "|" + "---|" * 11]
    speeds: dict[str, dict[str, float]] = {}
    for job_name, by_tool in results.items():
        speeds[job_name] = {}
        for tool, runs in by_tool.items():
            speeds[job_name][tool] = len(ctx.images) / best(runs).measurement.wall
        ours = speeds[job_name].get("resizer")
        for tool, runs in by_tool.items():
            top = best(runs)
            m = top.measurement
            speed = speeds[job_name][tool]
            all_runs = ", ".join(f"{run.measurement.wall:.2f}" for run in runs)
            if tool == "resizer":
                peak = f"{mb(m.others_peak_kb)} worker / {mb(m.root_peak_kb)} parent"
            else:
                peak = mb(m.peak_kb)
            ratio = "" if ours is None or tool == "resizer" else f"{ours / speed:.2f}"
            outputs = f"{top.outputs}/{len(ctx.images)}"
            if top.failed:
                outputs += f" ({top.failed} failed)" if top.failed > 0 else " (exit != 0)"
            lines.append(
                f"| {job_name} | {tool} | {m.wall:.2f} | {all_runs} | {speed:.1f} | "
                f"{ctx.megapixels / m.wall:.0f} | {m.cpu:.1f} | {m.cpu / m.wall:.2f} | {peak} | "
                f"{outputs} | {ratio} |"
            )
    return lines, speeds


def write_report(ctx: Context, path: Path, sections: dict) -> str:
    lines = ["# Benchmark results", ""]
    lines += [
        f"Generated by `python bench/run.py {sections['argv']}` on {sections['date']}.",
        "",
        "## Machine and versions",
        "",
        f"- CPU: {cpu_model()}; `nproc`: {os.cpu_count()}; cores used: {ctx.cores}",
        f"- Load average before / after: {sections['load_before']} / {sections['load_after']}",
    ]
    lines += [f"- {name}: {value}" for name, value in sections["versions"].items()]
    formats: dict[str, int] = {}
    for image in ctx.images:
        formats[image.format] = formats.get(image.format, 0) + 1
    kinds = ", ".join(f"{count} {fmt}" for fmt, count in sorted(formats.items()))
    lines += [
        f"- Corpus: `{ctx.corpus}`, {len(ctx.images)} images ({kinds}), "
        f"{ctx.megapixels:.0f} source megapixels",
        "",
        "## Throughput",
        "",
        f"Best of {ctx.repeat} interleaved rounds (the order of the tools rotates each round). "
        f"All tools use {ctx.cores} processes, one per core, each single-threaded "
        "(resizer `--jobs`; peers through `xargs -P` with `VIPS_CONCURRENCY=1` / "
        "`MAGICK_THREAD_LIMIT=1`).",
        "",
        *sections["table"],
        "",
    ]
    lines += ["## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    lines += sections["targets"]
    lines += [""]
    lines += sections["quality"]
    lines += sections["memory"]
    lines += sections["noop"]
    lines += sections["profile"]
    lines += sections["floor"]
    if ctx.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in ctx.notes], ""]
    text = "\n".join(lines).rstrip() + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def quality_section(
    qualities: dict[tuple[str, str], Quality],
) -> tuple[list[str], list[str]]:
    """Rows per (job, output format); the target is judged on the standard job's JPEG outputs."""
    lines = [
        "## Quality against `--exact`",
        "",
        "resizer's normal output vs its `--exact` output of the same job, every image of the "
        "corpus matched by the manifest's output path. PSNR over all channels (mean over images "
        "that are not identical); SSIM on luma, 11-tap Gaussian window (sigma 1.5); colour "
        "premultiplied by alpha where the output has alpha. `jpeg` rows "
        "are the standard job (both sides JPEG q90: the target); `png` rows run the same job "
        "with `--format png`, lossless, so they measure the resize path alone, without the "
        "JPEG encoder's quantisation turning small pixel differences into larger ones. "
        f"`{ENCODER_ROW}` rows compare the `--exact` JPEG output with the `--exact` PNG output "
        "(alpha images flattened onto black, as in the JPEG): the loss of the JPEG q90 encode "
        "itself, for scale.",
        "",
        "| job | outputs | compared | identical | below the target | mean PSNR dB "
        "| worst PSNR dB (image) | mean SSIM | worst SSIM (image) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (job_name, fmt), quality in qualities.items():
        worst_psnr, psnr_name = quality.worst_psnr
        worst_ssim, ssim_name = quality.worst_ssim
        unmatched = f" ({quality.unmatched} unmatched)" if quality.unmatched else ""
        lines.append(
            f"| {job_name} | {fmt} | {quality.compared}{unmatched} | {quality.identical} | "
            f"{quality.below_target} | {quality.mean_psnr:.2f} | {worst_psnr:.2f} ({psnr_name}) "
            f"| {quality.mean_ssim:.5f} | {worst_ssim:.5f} ({ssim_name}) |"
        )
    targets = []
    for (job_name, fmt), quality in qualities.items():
        if fmt != "jpeg":
            continue
        measured = f"worst {quality.worst_psnr[0]:.2f} dB, {quality.worst_ssim[0]:.4f}"
        lossless = qualities.get((job_name, "png"))
        encoder = qualities.get((job_name, ENCODER_ROW))
        if lossless is not None and encoder is not None:
            measured += (
                f"; lossless outputs: worst {lossless.worst_psnr[0]:.2f} dB, "
                f"{lossless.worst_ssim[0]:.4f}; the JPEG q90 encode alone: worst "
                f"{encoder.worst_psnr[0]:.2f} dB, {encoder.worst_ssim[0]:.4f}"
            )
        targets.append(
            f"| {job_name}: PSNR ≥ {TARGET_PSNR:g} dB and SSIM ≥ {TARGET_SSIM} on every image "
            f"| {measured} | {verdict(quality.met)} |"
        )
    return [*lines, ""], targets


def profile_section(profiles: dict[str, dict]) -> list[str]:
    lines = [
        "## Where the time goes (one process, cProfile)",
        "",
        "An in-process run (`--jobs 1`, cProfile on) over an evenly spread sample of the corpus; "
        "cumulative seconds of each stage. cProfile adds some overhead to Python-level calls; "
        "the stages are mostly C.",
        "",
    ]
    for job_name, found in profiles.items():
        wall, count = found["wall"], found["images"]
        lines += [
            f"**{job_name}**: {count} images, {found['megapixels']:.0f} MP, {wall:.2f} s "
            f"({count / wall:.1f} images/s on one core under the profiler)",
            "",
            "| stage | seconds | share | ms per image |",
            "|---|---|---|---|",
        ]
        for label, seconds in found["rows"]:
            lines.append(
                f"| {label} | {seconds:.2f} | {100 * seconds / wall:.1f} % | "
                f"{1000 * seconds / count:.1f} |"
            )
        lines.append("")
    return lines


def floor_section(ctx: Context, results: dict) -> list[str]:
    """Per-format seconds: resizer's workers (manifest `seconds`) next to the floor's decodes."""
    lines = [
        "## Per-format time: resizer workers vs decode floor",
        "",
        "Sum over images of resizer's per-image seconds (manifest `seconds`, measured in the "
        "workers, last round) next to the floor's per-image decode seconds (last round), both "
        "with all cores busy.",
        "",
        "| job | format | images | resizer s | floor s | resizer ÷ floor | scale mismatches |",
        "|---|---|---|---|---|---|---|",
    ]
    for job_name in results:
        records = read_manifest(output_folder(ctx, JOBS[job_name], "resizer") / "manifest.jsonl")
        details = ctx.floor_details.get(job_name, {})
        ours: dict[str, float] = {}
        counts: dict[str, int] = {}
        by_name = {image.name: image for image in ctx.images}
        mismatches = 0
        for record in records:
            fmt = record.get("src_format") or "?"
            ours[fmt] = ours.get(fmt, 0.0) + (record.get("seconds") or 0.0)
            counts[fmt] = counts.get(fmt, 0) + 1
            image = by_name.get(record["source"])
            floor_scale = details.get("scales", {}).get(str(image.path)) if image else None
            if floor_scale is not None and (record.get("decode_scale") or 1) != floor_scale:
                mismatches += 1
        floor_seconds = details.get("seconds_by_format", {})
        for fmt in sorted(set(ours) | set(floor_seconds)):
            a, b = ours.get(fmt, 0.0), floor_seconds.get(fmt, 0.0)
            ratio = f"{a / b:.2f}" if b else ""
            lines.append(
                f"| {job_name} | {fmt} | {counts.get(fmt, 0)} | {a:.1f} | {b:.1f} | {ratio} | "
                f"{mismatches if fmt in JPEG_FORMATS else ''} |"
            )
    return [*lines, ""]


# ---------------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="Folder of images (see bench/README.md).")
    parser.add_argument("--work", type=Path, help="Scratch folder [default: a new temp folder].")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--only", default=",".join(JOBS), help="Comma-separated job names.")
    parser.add_argument("--limit", type=int, help="Use N images spread over the corpus.")
    parser.add_argument("--repeat", type=int, default=3, help="Interleaved rounds per tool.")
    parser.add_argument("--skip-peers", action="store_true", help="No vipsthumbnail/mogrify.")
    parser.add_argument("--skip-quality", action="store_true", help="No --exact comparison.")
    parser.add_argument("--profile-images", type=int, default=40, help="0 = no profile.")
    parser.add_argument(
        "--noop-files", type=int, default=0, help="Also time a no-op re-run over N tiny files."
    )
    parser.add_argument(
        "--results", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md"
    )
    parser.add_argument("--internal-floor", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--internal-job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.internal_floor is None and args.corpus is None:
        parser.error("--corpus is required")
    return args


def speed_targets(jobs: list[BenchJob], speeds: dict[str, dict[str, float]]) -> list[str]:
    targets = []
    for job in jobs:
        speed = speeds[job.name]
        ours = speed["resizer"]
        if "vipsthumbnail" in speed:
            ratio = ours / speed["vipsthumbnail"]
            targets.append(
                f"| {job.name}: resizer ≥ {TARGET_VS_VIPS}× vipsthumbnail (images/s) | "
                f"{ratio:.2f}× | {verdict(ratio >= TARGET_VS_VIPS)} |"
            )
        ratio = ours / speed["decode floor"]
        targets.append(
            f"| {job.name}: resizer ≥ {TARGET_VS_FLOOR:.0%} of the decode floor | "
            f"{ratio:.0%} | {verdict(ratio >= TARGET_VS_FLOOR)} |"
        )
    return targets


def noop_section(ctx: Context, jobs: list[BenchJob]) -> tuple[list[str], list[str]]:
    lines, targets = ["## No-op re-run", ""], []
    for job in jobs:
        times, summaries = noop_rerun(ctx, job, output_folder(ctx, job, "resizer"))
        skipped = [summary.get("skipped") for summary in summaries]
        all_skipped = all(count == len(ctx.images) for count in skipped)
        lines.append(
            f"- {job.name}: {min(times):.2f} s best of {len(times)} "
            f"({', '.join(f'{value:.2f}' for value in times)}); images skipped in each: "
            f"{skipped}; last summary: {json.dumps(summaries[-1])}"
        )
        targets.append(
            f"| {job.name}: no-op re-run < {TARGET_NOOP_S:g} s (stated for 400 images; "
            f"here {len(ctx.images)}) | {min(times):.2f} s, all skipped: {all_skipped} "
            f"| {verdict(min(times) < TARGET_NOOP_S and all_skipped)} |"
        )
    lines += [f"- start-up alone (`resizer --version`): {startup_time(ctx):.2f} s", ""]
    return lines, targets


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.internal_floor is not None:
        floor_main(args.internal_floor, args.internal_job, args.jobs)
        return 0
    unknown = [name for name in args.only.split(",") if name not in JOBS]
    if unknown:
        sys.exit(f"bench: unknown job(s) {', '.join(unknown)}; choose from {', '.join(JOBS)}")
    jobs = [JOBS[name] for name in args.only.split(",")]

    corpus = args.corpus.resolve()
    images, unreadable = find_images(corpus)
    if not images:
        sys.exit(f"bench: no images under {corpus}")
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="resizer-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.limit:
        images = spread(images, args.limit)
    # A tree of links when some files are left out, so that every tool sees the same files.
    subset = args.limit or unreadable
    input_dir = link_tree(images, work / "input") if subset else corpus
    ctx = Context(
        corpus=corpus,
        work=work,
        cores=args.jobs,
        images=images,
        input_dir=input_dir,
        resizer=find_resizer(),
        mogrify=None if args.skip_peers else find_mogrify(),
        skip_peers=args.skip_peers,
        repeat=max(1, args.repeat),
    )
    say(f"{len(images)} images, {ctx.megapixels:.0f} MP; work folder {work}")
    state_before = package_state()
    load_before = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    warm_cache(images)

    results = run_rounds(ctx, jobs)
    table, speeds = table_rows(ctx, results)
    targets = speed_targets(jobs, speeds)

    say("no-op re-run")  # first, on the OUT the last round left
    noop_lines, noop_targets = noop_section(ctx, jobs)

    quality_lines: list[str] = []
    if not args.skip_quality:
        qualities = {}
        for job in jobs:
            say(f"quality: {job.name} with --exact")
            exact_out = ctx.work / "exact" / job.name
            run_resizer(ctx, job, exact_out, "--exact")
            normal_out = output_folder(ctx, job, "resizer")
            qualities[job.name, "jpeg"] = compare_outputs(normal_out, exact_out)
            say(f"quality: {job.name} with --format png, normal and --exact")
            lossless_exact = ctx.work / "exact-png" / job.name
            lossless_normal = ctx.work / "normal-png" / job.name
            run_resizer(ctx, job, lossless_exact, "--exact", fmt="png")
            run_resizer(ctx, job, lossless_normal, fmt="png")
            qualities[job.name, "png"] = compare_outputs(lossless_normal, lossless_exact)
            qualities[job.name, ENCODER_ROW] = compare_outputs(
                exact_out, lossless_exact, flattened=True
            )
        quality_lines, quality_targets = quality_section(qualities)
        targets += quality_targets

    say("memory: the largest images alone")
    memory_lines, memory_targets = memory_section(ctx, memory_runs(ctx), results)
    targets += memory_targets + noop_targets

    if args.noop_files:
        say(f"no-op re-run over {args.noop_files} tiny files")
        tree = noop_tree(ctx, jobs[0], args.noop_files)
        noop_lines += [
            f"- tree of {tree['files']} tiny PNGs ({jobs[0].name}): first run "
            f"{tree['first']:.1f} s, no-op re-run {tree['noop']:.2f} s; "
            f"summary: {json.dumps(tree['summary'])}",
            "",
        ]
        limit = TARGET_NOOP_TREE_S * tree["files"] / 100_000
        all_skipped = tree["summary"].get("skipped") == tree["files"]
        targets.append(
            f"| no-op re-run over {tree['files']} files < {limit:.1f} s "
            f"({TARGET_NOOP_TREE_S:g} s per 100,000) | {tree['noop']:.2f} s | "
            f"{verdict(tree['noop'] < limit and all_skipped)} |"
        )

    profile_lines: list[str] = []
    if args.profile_images > 0:
        say("profile")
        profiles = {job.name: profile_job(ctx, job, args.profile_images) for job in jobs}
        profile_lines = profile_section(profiles)

    state_after = package_state()
    if state_after != state_before:
        ctx.notes.insert(
            0,
            f"**The resizer package changed during this run** (source hash {state_before} -> "
            f"{state_after}): the rows may mix versions; run again.",
        )
    if not args.skip_peers:
        ctx.notes.append(
            "mogrify runs the plain command (full decode of every JPEG); `mogrify +jpeg:size` "
            "adds `-define jpeg:size=2Wx2H`, ImageMagick's own shrink-on-load, for a fairer "
            "comparison. vipsthumbnail always shrinks on load."
        )
    if any(image.format in JPEG_FORMATS for image in images):
        ctx.notes.append(
            "The decode floor decodes each JPEG at the DCT scale resizer picks "
            "(resizer.codecs.shrink_on_load: the largest 1/2^k with the decoded image >= 2x the "
            "resize size on both axes, in stored orientation) and every other image fully; "
            "no resize, no encode, no write."
        )
    versions_found = versions(ctx.mogrify)
    versions_found["resizer source hash"] = state_after
    sections = {
        "argv": " ".join(argv),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "load_before": load_before,
        "load_after": ", ".join(f"{value:.2f}" for value in os.getloadavg()),
        "versions": versions_found,
        "table": table,
        "targets": targets,
        "quality": quality_lines,
        "memory": memory_lines,
        "noop": noop_lines,
        "profile": profile_lines,
        "floor": floor_section(ctx, results),
    }
    write_report(ctx, args.results, sections)
    print("\n".join(table))
    print()
    print("\n".join(["| target | measured | verdict |", "|---|---|---|", *targets]))
    say(f"results written to {args.results}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
