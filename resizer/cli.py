"""Command line: parse options into one Settings, make one library call, print, exit.

No image logic lives here; see run.resize for what a run does.
"""

from __future__ import annotations

import json
import re
import sys
from fractions import Fraction
from pathlib import Path

import click

from . import __version__
from .faults import OutError
from .geometry import MODES, Sizing
from .names import escape
from .plan import PlanError
from .report import EXIT_USAGE, say, write_out
from .run import BusyError, resize
from .settings import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_MAX_PIXELS,
    DEFAULT_QUALITY,
    DEFAULT_TIMEOUT,
    FORMATS,
    INTERPOLATIONS,
    Settings,
)

SIZE_PATTERN = re.compile(r"^\s*(\d+)?\s*(?:[x×X]\s*(\d+))?\s*$")


class SizeType(click.ParamType):
    """WxH, W (width only) or xH (height only); with `box=True` both sides are required."""

    name = "WxH"

    def __init__(self, box: bool = False):
        self.box = box

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        match = SIZE_PATTERN.match(str(value))
        width, height = (match.group(1), match.group(2)) if match else (None, None)
        if not match or (width is None and height is None):
            self.fail(f"{value!r} is not a size: use WxH (224x224), W (640) or xH (x480)")
        if self.box and (width is None or height is None):
            self.fail(f"{value!r} needs both sides, e.g. 224x224")
        width = int(width) if width is not None else None
        height = int(height) if height is not None else None
        if width == 0 or height == 0:
            self.fail(f"{value!r}: sides must be at least 1 pixel")
        return width, height


class ColorType(click.ParamType):
    """Any colour Pillow understands: black, white, #ff8800, #00000000, rgb(1,2,3)."""

    name = "COLOR"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        from PIL import ImageColor

        try:
            return tuple(ImageColor.getrgb(value))
        except ValueError:
            self.fail(f"{value!r} is not a colour: try a name (white), #rrggbb or #rrggbbaa")


class PositiveFraction(click.ParamType):
    name = "FACTOR"

    def convert(self, value, param, ctx):
        if isinstance(value, Fraction):
            return value
        try:
            factor = Fraction(str(value))
        except (ValueError, ZeroDivisionError):
            self.fail(f"{value!r} is not a number")
        if factor <= 0:
            self.fail(f"{value!r} must be greater than 0")
        return factor


EPILOG = """\b
Sizes are WIDTHxHEIGHT (torchvision and Keras take height, width).
\b
Examples:
  resizer resize photos -o small --size 512x512           # fit inside 512x512
  resizer resize train -o train224 --size 224x224 --mode fill
  resizer resize val -o val224 --shorter 256 --crop 224x224   # ImageNet eval
  resizer resize a.jpg b.png -o thumbs --longer 128 --format webp
  resizer resize data -o out --scale 0.5 --json > summary.json
\b
Exit status: 0 all images ok or up to date; 1 some image failed (the
others were still processed) or OUT filled up; 2 usage error or an OUT
that cannot be written, nothing written; 130/143 stopped by
SIGINT/SIGTERM (finished work is kept in the manifest).
"""


@click.group()
@click.version_option(__version__, prog_name="resizer")
def cli():
    """Batch image resizer for datasets: parallel, EXIF-aware, with a manifest."""


@cli.command("resize", epilog=EPILOG)
@click.argument(
    "sources", metavar="SRC...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder; the folder tree of SRC is mirrored into it.",
)
@click.option("--size", type=SizeType(), help="Target WxH, or W (width only), or xH (height only).")
@click.option("--shorter", type=click.IntRange(min=1), help="Scale so the shorter side is N.")
@click.option("--longer", type=click.IntRange(min=1), help="Scale so the longer side is N.")
@click.option("--scale", type=PositiveFraction(), help="Scale both sides by a factor, e.g. 0.5.")
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="fit",
    show_default=True,
    help="With --size WxH: fit inside; fill and centre-crop; pad to WxH; stretch to WxH.",
)
@click.option("--crop", type=SizeType(box=True), help="After resizing, centre-crop to WxH.")
@click.option(
    "--upscale/--no-upscale",
    default=True,
    show_default=True,
    help="With --no-upscale, images already inside the target keep their size.",
)
@click.option(
    "--interpolation",
    type=click.Choice(INTERPOLATIONS),
    default="lanczos",
    show_default=True,
    help="Resampling kernel; downscaling is antialiased on both backends.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=DEFAULT_BACKEND,
    show_default=True,
    help="Library whose kernels resize (match your training pipeline).",
)
@click.option(
    "--exact",
    is_flag=True,
    help="Pixels bit-identical to the backend's plain one-call resize of the full decode "
    "(no shrink-on-load; with opencv also no antialiasing).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="keep",
    show_default=True,
    help="Output format; keep writes each image in its own format.",
)
@click.option(
    "--keep-extension",
    is_flag=True,
    help="Append the output extension to the source's name (a.gif -> a.gif.png) instead of "
    "replacing it, so that a.gif and a.bmp cannot clash.",
)
@click.option(
    "--quality",
    type=click.IntRange(1, 100),
    default=DEFAULT_QUALITY,
    show_default=True,
    help="JPEG and WebP quality.",
)
@click.option(
    "--pad-color",
    type=ColorType(),
    help="Padding (and JPEG alpha background) colour. [default: black; transparent with alpha]",
)
@click.option("--include", multiple=True, metavar="GLOB", help="Only relative paths matching.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip relative paths matching.")
@click.option("--follow-symlinks", is_flag=True, help="Follow links to folders (loops detected).")
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Manifest path [default: OUT/manifest.jsonl]; a .csv name writes CSV.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Worker processes. [default: all cores]",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar. [default: only when stderr is a terminal]",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors that stop the run.")
@click.option("-v", "--verbose", count=True, help="Print each image (-vv: also skipped ones).")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed image.")
@click.option("--force", is_flag=True, help="Redo every image, even those up to date.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds one image may take before it is failed (a hung decoder).",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Fail images with more pixels (from the header), or whose resized image or output "
    "would have more; the default is Pillow's limit.",
)
@click.option(
    "--masks",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of label masks paired with the images (DIR/a/b.png for SRC/a/b.jpg); each "
    "gets its image's geometry, resampled by nearest.",
)
@click.option(
    "--masks-output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the masks are written. [default: OUT-masks beside OUT]",
)
@click.option(
    "--mask-pad",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Label value of padded mask pixels (background, or an ignore index such as 255).",
)
@click.option(
    "--mask-resampling",
    type=click.Choice(("nearest", "majority")),
    default="nearest",
    show_default=True,
    help="majority: a downscaled mask pixel takes the label covering most of it.",
)
@click.option("--wait", is_flag=True, help="If another run is writing to OUT, wait for it.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (or plan) as JSON.")
def resize_command(**options):
    """Resize every image under SRC... into OUT, mirroring the folder tree.

    Exactly one sizing option: --size, --shorter, --longer or --scale. Every
    image found gets one record in the manifest (ok, skipped or failed).
    Re-running with the same options skips images that are up to date.
    """
    settings = settings_from_options(options)
    try:
        outcome = resize(settings)
    except (PlanError, BusyError) as error:
        raise click.UsageError(str(error)) from None
    except OutError as error:  # not a mistyped option: one line, without the usage text
        say(str(error))
        sys.exit(EXIT_USAGE)
    report = outcome.report
    if settings.dry_run:
        _print_plan(outcome, settings)
        sys.exit(0)
    if settings.json:
        document = {**outcome.run_record, "manifest": str(settings.manifest_path)}
        write_out(json.dumps(document, indent=2))
    report.print_summary()
    sys.exit(report.exit_code)


def settings_from_options(options: dict) -> Settings:
    sizings = [name for name in ("size", "shorter", "longer", "scale") if options[name]]
    if len(sizings) != 1:
        given = ", ".join(f"--{name}" for name in sizings) or "none"
        raise click.UsageError(
            f"give exactly one of --size, --shorter, --longer, --scale (given: {given})"
        )
    if options["size"]:
        width, height = options["size"]
        sizing = Sizing("size", width=width, height=height)
    elif options["scale"]:
        sizing = Sizing("scale", factor=options["scale"])
    else:
        kind = sizings[0]
        sizing = Sizing(kind, length=options[kind])
    if options["mode"] != "fit" and not sizing.has_box:
        raise click.UsageError(f"--mode {options['mode']} needs --size with both sides (WxH)")
    crop = options["crop"]
    if crop and options["mode"] == "fill" and (crop[0] > sizing.width or crop[1] > sizing.height):
        raise click.UsageError(
            "--crop larger than --size with --mode fill would bring back the pixels that fill "
            "cut away; crop to at most the --size box, or use --mode pad"
        )
    verbosity = -1 if options["quiet"] else options["verbose"]
    return Settings(
        sources=tuple(options["sources"]),
        out=options["out"],
        sizing=sizing,
        mode=options["mode"],
        crop=options["crop"],
        upscale=options["upscale"],
        interpolation=options["interpolation"],
        backend=options["backend"],
        exact=options["exact"],
        format=options["fmt"],
        keep_extension=options["keep_extension"],
        quality=options["quality"],
        pad_color=options["pad_color"],
        max_pixels=options["max_pixels"],
        masks=options["masks"],
        masks_output=options["masks_output"],
        mask_pad=options["mask_pad"],
        mask_resampling=options["mask_resampling"],
        include=tuple(options["include"]),
        exclude=tuple(options["exclude"]),
        follow_symlinks=options["follow_symlinks"],
        manifest=options["manifest"],
        jobs=options["jobs"] or 0,  # 0: all cores, counted only if there is work
        progress=options["progress"],
        verbosity=verbosity,
        dry_run=options["dry_run"],
        fail_fast=options["fail_fast"],
        force=options["force"],
        timeout=options["timeout"],
        wait=options["wait"],
        json=options["as_json"],
    )


def _print_plan(outcome, settings: Settings) -> None:
    plan = outcome.plan
    if settings.json:
        document = {
            "to_do": [{"source": job.name, "output": job.output} for job in plan.jobs],
            "up_to_date": list(plan.skipped),
            "unreadable": [
                {"source": result.source, "error": result.error} for result in plan.failed
            ],
            "ignored_files": plan.ignored,
        }
        write_out(json.dumps(document, indent=2))
        return
    for job in plan.jobs:
        if not write_out(escape(f"{job.name} -> {job.output}")):
            break  # the reader has what it wanted (`| head`)
    if settings.verbosity >= 0:
        say(
            f"dry run: {len(plan.jobs)} to do, {len(plan.skipped)} up to date, "
            f"{len(plan.failed)} unusable (folders, links), {plan.ignored} non-image files ignored"
        )


def main() -> None:
    cli(prog_name="resizer")


# `resizer labels ...`: annotation rewriting lives in resizer/labels/.
from .labels.command import labels as _labels  # noqa: E402

cli.add_command(_labels)
