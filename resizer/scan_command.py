"""`resizer scan`: the command. Parses options, calls scan.scan, prints scan_report's report.

The work lives in scan.py (walk, headers, prediction) and scan_report.py (statistics, text);
the image libraries load only when a file needs them, so `resizer --help` stays light.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .cli_options import (
    choices,
    given_options,
    max_pixels_option,
    resampling_options,
    selection_options,
    sizing_options,
    storage_option,
)
from .faults import cause
from .plan import PlanError
from .report import EXIT_USAGE, say, write_out
from .scan import CHECKS, DEFAULT_MAX_DISTORTION
from .settings import OptionError

EPILOG = """\b
Examples:
  resizer scan photos
  resizer scan train --size 224x224 --mode fill --fail-on unreadable --fail-on upscale
  resizer scan val --recipe torchvision-eval --json > scan.json
  resizer scan s3://bucket/train --size 224x224 --storage-option region_name=eu-west-1
\b
Exit status: 0 scanned, every --fail-on check passed; 1 a check failed; 2 usage error.
"""


@click.command("scan", epilog=EPILOG)
@click.argument("sources", metavar="SRC...", nargs=-1, required=True, type=click.Path())
@sizing_options
@resampling_options
@selection_options
@max_pixels_option
@click.option(
    "--max-distortion",
    type=float,
    default=DEFAULT_MAX_DISTORTION,
    show_default=True,
    help="Count images whose aspect ratio the job changes by more than this factor.",
)
@click.option(
    "--fail-on",
    multiple=True,
    metavar=choices(CHECKS),
    help="Exit 1 if any file is unreadable, suspect, animated, or (with a sizing option) too "
    "large for the job, or would be upscaled, padded or distorted. Repeatable.",
)
@click.option(
    "--records",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write one JSON line per file (header facts and predicted geometry).",
)
@click.option("-j", "--jobs", type=int, help="Worker processes. [default: all cores]")
@storage_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def scan(**options):
    """Describe the images under SRC... from their headers alone, without decoding a pixel.

    With resize's sizing options, also predict what `resizer resize` would do to them: how
    many it would upscale or downscale and by how much, what a crop would discard, how much
    padding it would add.
    """
    from .scan import make_scan_settings
    from .scan import scan as scan_images
    from .scan_report import check_names, failed_checks, render, summarise

    as_json, records, checks = (options.pop(name) for name in ("as_json", "records", "fail_on"))
    try:
        given = given_options(options)
        settings = make_scan_settings(given.pop("sources"), **given)
        check_names(checks, settings)
        result = scan_images(settings)
    except (OptionError, PlanError) as error:
        raise click.UsageError(str(error)) from None
    if records is not None:
        try:
            result.write_records(records)
        except OSError as error:
            say(f"cannot write --records {str(records)!r}: {cause(error)}")
            sys.exit(EXIT_USAGE)
    document = summarise(result, settings)
    failures = failed_checks(document, checks)
    if as_json:
        write_out(json.dumps({**document, "failed_checks": failures}, indent=2))
    else:
        write_out(render(document).rstrip("\n"))
    for failure in failures:
        say(f"scan check failed: {failure}")
    sys.exit(1 if failures else 0)
