"""Benchmark resizer side by side with vipsthumbnail, ImageMagick and a decode-only floor.

    python bench/run.py --corpus /tmp/corpus [--work DIR] [--jobs N] [--only fit-512,fill-224]
                        [--limit N] [--repeat 3] [--skip-peers] [--skip-magick] [--noop-files N]
                        [--also-resizer LABEL=PATH]
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
import datetime
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable, after site-packages
    sys.path.append(str(Path(__file__).resolve().parent.parent))

from bench.corpus import (
    ENCODER_ROW,
    JOBS,
    JPEG_FORMATS,
    TARGET_NOOP_TREE_S,
    Context,
    find_images,
    link_tree,
    output_folder,
    package_state,
    say,
    spread,
    warm_cache,
)
from bench.peers import find_mogrify, find_resizer, floor_main, run_resizer, run_rounds
from bench.quality import compare_outputs
from bench.report import (
    floor_section,
    memory_section,
    noop_section,
    profile_section,
    quality_section,
    speed_targets,
    table_rows,
    verdict,
    versions,
    write_report,
)
from bench.timing import memory_runs, noop_tree, profile_job


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="Folder of images (see bench/README.md).")
    parser.add_argument("--work", type=Path, help="Scratch folder [default: a new temp folder].")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--only", default=",".join(JOBS), help="Comma-separated job names.")
    parser.add_argument("--limit", type=int, help="Use N images spread over the corpus.")
    parser.add_argument("--repeat", type=int, default=3, help="Interleaved rounds per tool.")
    parser.add_argument("--skip-peers", action="store_true", help="No vipsthumbnail/mogrify.")
    parser.add_argument("--skip-magick", action="store_true", help="No mogrify (the slowest).")
    parser.add_argument(
        "--also-resizer",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="Time another resizer build too (its console script), e.g. old=/tmp/v0/bin/resizer.",
    )
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
        mogrify=None if args.skip_peers or args.skip_magick else find_mogrify(),
        skip_peers=args.skip_peers,
        skip_magick=args.skip_magick,
        other_resizers=dict(item.split("=", 1) for item in args.also_resizer),
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
    if ctx.mogrify:
        ctx.notes.append(
            "mogrify runs the plain command (full decode of every JPEG); `mogrify +jpeg:size` "
            "adds `-define jpeg:size=2Wx2H`, ImageMagick's own shrink-on-load, for a fairer "
            "comparison. vipsthumbnail always shrinks on load."
        )
    if any(image.format in JPEG_FORMATS for image in images):
        from resizer.codecs.probe import SHRINK_BOUND

        ctx.notes.append(
            "The decode floor decodes each JPEG at the DCT scale resizer picks "
            "(resizer.codecs.shrink_on_load: the largest 1/2^k with the decoded image >= "
            f"{SHRINK_BOUND:g}x the resize size on both axes, in stored orientation) and every "
            "other image fully; no resize, no encode, no write."
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
