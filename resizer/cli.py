"""Command line: parse options, make one library call, print, exit.

No image logic and no validation live here: the options the user gave go to the library as
typed (resizer.options), which validates them for the command and the Python API alike; its
errors become usage errors (exit 2). See run.resize for what a run does.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import click
from click.core import ParameterSource

from . import __version__
from .api import run
from .cli_options import (
    choices,
    encoding_options,
    max_pixels_option,
    resampling_options,
    selection_options,
    sizing_options,
    storage_option,
)
from .faults import OutError
from .names import escape
from .options import make_settings
from .plan import PlanError
from .report import EXIT_FAILED, EXIT_USAGE, json_blocks, say, write_out
from .run import BusyError, EngineError, StoreError
from .settings import (
    BACKENDS,
    CONTAINERS,
    DEFAULT_SHARD_SIZE,
    DEFAULT_TIMEOUT,
    ENGINES,
    INTERPOLATIONS,
    MASK_RESAMPLINGS,
    OptionError,
    Settings,
)
from .storage import shown

EPILOG = """\b
Sizes are WIDTHxHEIGHT (torchvision and Keras take height, width).
\b
Examples:
  resizer resize photos -o small --size 512x512           # fit inside 512x512
  resizer resize train -o train224 --size 224x224 --mode fill
  resizer resize val -o val224 --recipe torchvision-eval  # ImageNet eval
  resizer resize photo.jpg -o small.jpg --longer 512      # one file
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
# SRC, OUT and --manifest stay text: a URL (s3://bucket/prefix) must not become a Path.
@click.argument("sources", metavar="SRC...", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(),
    help="Output folder or object-store URL (s3://bucket/prefix); the folder tree of SRC is "
    "mirrored into it. With one SRC file, a name with an image extension (.jpg, .png, .webp, "
    ".tif, .bmp, .gif) is the output file itself.",
)
@sizing_options
@resampling_options
@encoding_options
@click.option(
    "--keep-extension",
    is_flag=True,
    help="Append the output extension to the source's name (a.gif -> a.gif.png) instead of "
    "replacing it, so that a.gif and a.bmp cannot clash.",
)
@click.option(
    "--container",
    metavar=choices(CONTAINERS),
    default="files",
    show_default=True,
    help="files: mirror the folder tree into OUT; webdataset: tar shards OUT/shard-NNNNNN.tar "
    "of KEY.<ext> + KEY.json samples.",
)
@click.option(
    "--shard-size",
    metavar="N|SIZE",
    default=str(DEFAULT_SHARD_SIZE.limit),
    show_default=True,
    help="With --container webdataset: samples per shard, or at most this many bytes (500MB).",
)
@selection_options
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False),
    help="Manifest path [default: OUT/manifest.jsonl]; a .csv name writes CSV.",
)
@storage_option
@click.option(
    "-j",
    "--jobs",
    type=int,
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
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds one image may take before it is failed (a hung decoder).",
)
@max_pixels_option
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
    type=int,
    default=0,
    show_default=True,
    help="Label value of padded mask pixels (background, or an ignore index such as 255).",
)
@click.option(
    "--mask-resampling",
    metavar=choices(MASK_RESAMPLINGS),
    default="nearest",
    show_default=True,
    help="majority: a downscaled mask pixel takes the label covering most of it.",
)
@click.option("--wait", is_flag=True, help="If another run is writing to OUT, wait for it.")
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="local",
    show_default=True,
    help="Who processes the images: local worker processes, or a Dask cluster.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    envvar="RESIZER_SCHEDULER",
    help="Dask scheduler address (tcp://host:8786); implies --engine dask. "
    "[env: RESIZER_SCHEDULER; default with --engine dask: a local cluster of --jobs workers]",
)
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw sampled sources, with the region kept, beside their outputs into this PNG.",
)
@click.option("--preview-count", type=int, default=8, show_default=True, help="Its rows.")
@click.option("--preview-seed", type=int, default=0, show_default=True, help="Seed of its draw.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (or plan) as JSON.")
def resize_command(**options):
    """Resize every image under SRC... into OUT, mirroring the folder tree.

    Exactly one sizing option: --size, --shorter, --longer or --scale, or a
    --recipe. Every image found gets one record in the manifest (ok, skipped
    or failed). Re-running with the same options skips images that are up to
    date.
    """
    as_json = options.pop("as_json")
    try:
        settings = settings_from_options(options)
        outcome = run(settings)
    except (OptionError, PlanError, BusyError, EngineError) as error:
        raise click.UsageError(str(error)) from None
    except OutError as error:  # not a mistyped option: one line, without the usage text
        say(str(error))
        sys.exit(EXIT_USAGE)
    except StoreError as error:
        say(escape(str(error)))
        sys.exit(EXIT_FAILED)
    if settings.dry_run:
        _print_plan(outcome, settings, as_json)
        sys.exit(0)
    if as_json:
        document = {**outcome.run_record, "manifest": shown(settings.manifest_path)}
        write_out(json.dumps(document, indent=2))
    outcome.report.print_summary()
    sys.exit(outcome.exit_code)


def settings_from_options(options: dict) -> Settings:
    """The options the user typed, and only those (a recipe fills in the rest), to the library."""
    context = click.get_current_context()
    given = {
        name: value
        for name, value in options.items()
        if context.get_parameter_source(name) is not ParameterSource.DEFAULT
    }
    sources, out = given.pop("sources"), given.pop("out")
    return make_settings(sources, out, **given)


def _print_plan(outcome, settings: Settings, as_json: bool) -> None:
    """The plan on stdout, streamed from the store: never held whole, whatever its length."""
    plan = outcome.plan
    if as_json:
        document = {
            "to_do": ({"source": job.name, "output": job.output} for job in plan.jobs),
            "up_to_date": plan.skipped,
            "unreadable": (
                {"source": result.source, "error": result.error} for result in plan.failed
            ),
            "ignored_files": plan.ignored,
        }
        _write_lines(json_blocks(document))
        return
    _write_lines(escape(f"{job.name} -> {job.output}") for job in plan.jobs)
    if settings.verbosity >= 0:
        say(
            f"dry run: {plan.to_do} to do, {plan.up_to_date} up to date, "
            f"{plan.unusable} unusable (folders, links), {plan.ignored} non-image files ignored"
        )


def _write_lines(lines: Iterable[str], per_write: int = 1000) -> None:
    """Lines on stdout, a thousand per write; ends quietly when the reader has what it
    wanted (`| head`)."""
    lines = iter(lines)
    while chunk := list(itertools.islice(lines, per_write)):
        if not write_out("\n".join(chunk)):
            return


# --- compare ---------------------------------------------------------------------------------

COMPARE_EPILOG = """\b
Examples:
  resizer compare photos --size 224x224 --mode fill
  resizer compare train --shorter 256 --crop 224x224 --sample 24 --seed 1
  resizer compare photos --longer 512 --format webp --json > costs.json
  resizer compare photos --size 224x224 --sheet sheet.png --interpolation nearest \\
      --interpolation lanczos
\b
Exit status: 0 every sampled image measured; 1 some sampled image could not
be read, crashed or timed out (the others were measured); 2 usage error.
"""


@cli.command("compare", epilog=COMPARE_EPILOG)
@click.argument("sources", metavar="SRC...", nargs=-1, required=True, type=click.Path())
@sizing_options
@click.option(
    "--interpolation",
    "interpolations",
    multiple=True,
    type=click.Choice(INTERPOLATIONS),
    help="Only these kernels (repeatable). [default: all]",
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    type=click.Choice(BACKENDS),
    help="Only these backends (repeatable). [default: both]",
)
@encoding_options
@click.option("--sample", type=click.IntRange(min=1), default=12, show_default=True,
              help="Images measured, chosen at random (by --seed) from all under SRC.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option("--sheet", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a contact sheet of crops (PNG, or any format by extension).")  # fmt: skip
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Processes. [default: all cores]")
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds one image may take in one configuration before it is failed "
              "(a hung decoder).")  # fmt: skip
@storage_option
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_command(**options):
    """Measure what each interpolation x backend x (fast path, --exact) costs on a
    sample of SRC: time, PSNR and SSIM against a float Lanczos-3 reference in the
    output geometry, an aliasing score, and output bytes.

    Takes the sizing and format options of `resizer resize` (a --recipe gives its
    sizing and format; every kernel and backend is measured).
    """
    from . import compare, compare_report
    from .run import default_jobs

    context = click.get_current_context()
    given = {
        name: options[name]
        for name in COMPARE_SETTINGS
        if context.get_parameter_source(name) is not ParameterSource.DEFAULT
    }
    configs = compare.configurations(
        options["interpolations"] or INTERPOLATIONS, options["backends"] or BACKENDS
    )
    crop = compare.SHEET_CROP if options["sheet"] else 0
    try:
        settings = make_settings(options["sources"], Path(), **given)  # Path(): nothing written
        comparison = compare.compare(
            settings, configs, options["sample"], options["seed"],
            options["jobs"] or default_jobs(), crop,
        )  # fmt: skip
    except (OptionError, PlanError) as error:
        raise click.UsageError(str(error)) from None
    sys.exit(compare_report.show(comparison, options["as_json"], options["sheet"], crop))


# The options of `compare` that go to the library as for `resize` (the sizing and encoding ones).
COMPARE_SETTINGS = (
    "size", "shorter", "longer", "scale", "recipe", "mode", "crop", "upscale", "rounding",
    "format", "quality", "pad_color", "timeout", "storage_options",
)  # fmt: skip


def main() -> None:
    cli(prog_name="resizer")


# `resizer scan ...`: the dataset before the job lives in resizer/scan*.py.
from .scan_command import scan as _scan  # noqa: E402

cli.add_command(_scan)

# `resizer labels ...`: annotation rewriting lives in resizer/labels/.
from .labels.command import labels as _labels  # noqa: E402

cli.add_command(_labels)
