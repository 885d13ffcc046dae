"""The tools side by side: resizer, vipsthumbnail, ImageMagick's mogrify and the decode floor,
each run for one job into its own output folder, round after round in a rotating order.

The decode floor decodes each image as resizer would before resizing (JPEGs at the DCT scale
resizer picks) on all cores, and writes nothing: no resizer can be faster with the same decoder.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.corpus import JOBS, BenchJob, Context, fresh, output_folder, read_manifest, say
from bench.timing import Measurement, measure

# `python bench/run.py --internal-floor LIST` runs the floor in a process of its own.
RUN_SCRIPT = Path(__file__).resolve().with_name("run.py")


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


def xargs_chunk(count: int, cores: int) -> int:
    """Files per peer process: amortises start-up, keeps the tail short."""
    return max(1, min(8, math.ceil(count / (cores * 8))))


def make_tools(ctx: Context) -> list[Tool]:
    tools = [Tool("resizer", lambda job, out: run_resizer(ctx, job, out))]
    for label, executable in ctx.other_resizers.items():  # another build, e.g. the last release
        tools.append(Tool(f"resizer {label}", partial(run_other, ctx, executable)))
    if ctx.skip_peers:
        return tools
    if shutil.which("vipsthumbnail"):
        tools.append(Tool("vipsthumbnail", lambda job, out: run_vips(ctx, job, out)))
    else:
        ctx.notes.append("vipsthumbnail is not installed: its rows are missing.")
    if ctx.mogrify:
        tools.append(Tool("mogrify", lambda job, out: run_magick(ctx, job, out, False)))
        tools.append(Tool("mogrify +jpeg:size", lambda job, out: run_magick(ctx, job, out, True)))
    elif ctx.skip_magick:
        ctx.notes.append("mogrify was left out (--skip-magick).")
    else:
        ctx.notes.append("ImageMagick mogrify is not installed: its rows are missing.")
    return tools


def run_resizer(
    ctx: Context, job: BenchJob, out: Path, *extra: str, fmt: str = "jpeg", executable: str = ""
) -> ToolRun:
    fresh(out)
    command = [executable or ctx.resizer, "resize", str(ctx.input_dir), "-o", str(out)]
    command += job.resizer_options(fmt)
    command += ["--jobs", str(ctx.cores), "--no-progress", "-q", *extra]
    measurement = measure(command)
    records = read_manifest(out / "manifest.jsonl")
    failed = sum(1 for record in records if record["status"] == "failed")
    if measurement.returncode not in (0, 1):
        raise RuntimeError(f"resizer exited {measurement.returncode}: {measurement.stderr}")
    ok = sum(1 for record in records if record["status"] == "ok")
    return ToolRun(measurement, ok, failed)


def run_other(ctx: Context, executable: str, job: BenchJob, out: Path) -> ToolRun:
    return run_resizer(ctx, job, out, executable=executable)


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
            version = command_output([candidate, "-version"])
            if "ImageMagick" in version:
                return candidate
    return None


def command_output(command: list[str]) -> str:
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
    command = [sys.executable, str(RUN_SCRIPT), "--internal-floor", str(list_file)]
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
