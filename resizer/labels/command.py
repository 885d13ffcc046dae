"""`resizer labels coco|yolo|voc`: rewrite annotations for the outputs of a finished run.

The commands parse options and call `labels.run`; the image libraries load only when a command
runs, so `resizer --help` and `resizer resize` stay light."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from .transform import FRAMES

EPILOG = """\b
Coordinates are continuous: pixel (i, j) covers [i, i+1) x [j, j+1).
Boxes and polygons are clipped to the output; labels cut away entirely
(or below --min-visibility / --min-size) are dropped; keypoints cut away
become (0, 0, 0).
\b
Exit status: 0 every label file / image rewritten; 1 some image had no
output (failed, missing from the manifest) or a label file was unreadable;
2 usage error, nothing written (e.g. an EXIF orientation the annotations
do not reveal: give --labels-orientation).
"""


def _common(command):
    """The options every format shares."""

    @click.option(
        "-m",
        "--manifest",
        required=True,
        type=click.Path(exists=True, path_type=Path),
        help="The run's manifest (or its OUT folder, for OUT/manifest.jsonl).",
    )
    @click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(path_type=Path),
        help="Where the rewritten labels go (a new location, never the input).",
    )
    @click.option(
        "--labels-orientation",
        "frame",
        type=click.Choice(FRAMES),
        help="Whether labels of EXIF-turned images were drawn on the upright image (as "
        "viewers show it) or on the stored pixels; needed when the files cannot tell.",
    )
    @click.option(
        "--min-visibility",
        type=click.FloatRange(0, 1),
        default=0.0,
        show_default=True,
        help="Drop a label when less than this fraction of it is left in the output.",
    )
    @click.option(
        "--min-size",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="Drop a label narrower or lower than this many output pixels.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
    @functools.wraps(command)
    def wrapper(**kwargs):
        return command(**kwargs)

    return wrapper


@click.group("labels")
def labels():
    """Rewrite annotations (COCO, YOLO, Pascal VOC) to match a run's resized images."""


@labels.command("coco", epilog=EPILOG)
@click.argument("annotations", type=click.Path(path_type=Path))
@click.option(
    "--prefix",
    default="",
    help="Folder to put before images[].file_name to get the manifest's source path.",
)
@_common
def coco_command(annotations, prefix, **options):
    """Rewrite a COCO JSON file: bbox, polygons, RLE, keypoints, area, image sizes."""
    from .run import rewrite_coco

    _run(rewrite_coco, annotations, options, prefix=prefix)


@labels.command("yolo", epilog=EPILOG)
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--task",
    type=click.Choice(("detect", "segment", "pose")),
    default="detect",
    show_default=True,
    help="Line layout: class cx cy w h; class x1 y1 x2 y2...; or boxes with keypoints.",
)
@click.option(
    "--kpt-dims",
    type=click.Choice(("2", "3")),
    default="3",
    show_default=True,
    help="With --task pose: values per keypoint (x y, or x y visibility).",
)
@_common
def yolo_command(folder, task, kpt_dims, **options):
    """Rewrite YOLO txt files (FOLDER/a/b.txt labels the image a/b.*)."""
    from .run import rewrite_yolo

    _run(rewrite_yolo, folder, options, task=task, kpt_dims=int(kpt_dims))


@labels.command("voc", epilog=EPILOG)
@click.argument("folder", type=click.Path(path_type=Path))
@_common
def voc_command(folder, **options):
    """Rewrite Pascal VOC XML files (FOLDER/a/b.xml labels the image a/b.*)."""
    from .run import rewrite_voc

    _run(rewrite_voc, folder, options)


def _run(rewrite, source: Path, options: dict, **extra) -> None:
    from .common import Options, UsageProblem

    settings = Options(
        frame=options["frame"],
        min_visibility=options["min_visibility"],
        min_size=options["min_size"],
    )
    try:
        summary = rewrite(source, options["manifest"], options["output"], settings, **extra)
    except UsageProblem as error:
        raise click.UsageError(str(error)) from None
    except OSError as error:
        click.echo(f"resizer labels: {error.strerror or error}: {error.filename}", err=True)
        sys.exit(1)
    for name, cause in summary.failed:
        click.echo(f"resizer labels: {name}: {cause}", err=True)
    if options["as_json"]:
        click.echo(json.dumps(summary.as_dict(), indent=2))
    click.echo(summary.line(), err=True)
    sys.exit(1 if summary.failed else 0)
