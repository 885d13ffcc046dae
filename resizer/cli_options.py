"""Click options that several commands declare alike, as one decorator per group.

Only declarations: the values go to the library as typed (resizer.options), which validates them.
"""

from __future__ import annotations

import click
from click.core import ParameterSource

from .geometry import MODES, ROUNDINGS
from .options import RECIPES
from .settings import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_MAX_PIXELS,
    DEFAULT_QUALITY,
    FORMATS,
    INTERPOLATIONS,
)


def choices(values) -> str:
    return "[" + "|".join(values) + "]"


def options(*decorators):
    """Bundle click options so several commands declare them once, in the same order."""

    def apply(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


# Sizing, shared by every command that computes output geometry.
sizing_options = options(
    click.option(
        "--size", metavar="WxH", help="Target WxH, or W (width only), or xH (height only)."
    ),
    click.option("--shorter", type=int, metavar="N", help="Scale so the shorter side is N."),
    click.option("--longer", type=int, metavar="N", help="Scale so the longer side is N."),
    click.option("--scale", metavar="FACTOR", help="Scale both sides by a factor, e.g. 0.5."),
    click.option(
        "--recipe",
        metavar=choices(RECIPES),
        help="A named set of options reproducing a training pipeline; options given explicitly "
        "win. torchvision-eval = --shorter 256 --crop 224x224 --interpolation bilinear "
        "--rounding floor --exact --backend pillow --format png.",
    ),
    click.option(
        "--mode",
        metavar=choices(MODES),
        default="fit",
        show_default=True,
        help="With --size WxH: fit inside; fill and centre-crop; pad to WxH; stretch to WxH.",
    ),
    click.option("--crop", metavar="WxH", help="After resizing, centre-crop to WxH."),
    click.option(
        "--upscale/--no-upscale",
        default=True,
        show_default=True,
        help="With --no-upscale, images already inside the target keep their size.",
    ),
    click.option(
        "--rounding",
        metavar=choices(ROUNDINGS),
        default="half-up",
        show_default=True,
        help="How a scaled side becomes whole pixels; floor is torchvision's Resize(int).",
    ),
)

# Output format and what the encoder is given.
encoding_options = options(
    click.option(
        "--format",
        "format",
        metavar=choices(FORMATS),
        default="keep",
        show_default=True,
        help="Output format (jpg and tif accepted); keep writes each image in its own format.",
    ),
    click.option(
        "--quality",
        type=int,
        default=DEFAULT_QUALITY,
        show_default=True,
        help="JPEG and WebP quality.",
    ),
    click.option(
        "--pad-color",
        metavar="COLOR",
        help="Padding (and JPEG alpha background) colour. [default: black; transparent with alpha]",
    ),
)

# How resize resamples: `scan` takes these too, so a resize command line scans as it is.
resampling_options = options(
    click.option(
        "--interpolation",
        metavar=choices(INTERPOLATIONS),
        default="lanczos",
        show_default=True,
        help="Resampling kernel; downscaling is antialiased on both backends. Also accepted: "
        "linear, cubic, lanczos4 (OpenCV's names), box (Pillow's BOX = area).",
    ),
    click.option(
        "--backend",
        metavar=choices(BACKENDS),
        default=DEFAULT_BACKEND,
        show_default=True,
        help="Library whose kernels resize (match your training pipeline).",
    ),
    click.option(
        "--exact/--no-exact",
        default=False,
        help="Pixels bit-identical to the backend's plain one-call resize of the full decode "
        "(no shrink-on-load; with opencv also no antialiasing). --no-exact undoes a recipe's.",
    ),
)

# The options that choose input files, shared by every command that walks SRC.
selection_options = options(
    click.option("--include", multiple=True, metavar="GLOB", help="Only relative paths matching."),
    click.option("--exclude", multiple=True, metavar="GLOB", help="Skip relative paths matching."),
    click.option(
        "--follow-symlinks", is_flag=True, help="Follow links to folders (loops detected)."
    ),
)

# How to reach an object store: shared by every command that reads SRC (or writes OUT) there.
storage_option = click.option(
    "--storage-option",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="fsspec option for s3:// (gs://, az://) SRC and OUT, e.g. "
    "endpoint_url=http://127.0.0.1:9000 (repeatable). Never credentials: those come from the "
    "environment (AWS_ACCESS_KEY_ID, ...) or fsspec's configuration.",
)

max_pixels_option = click.option(
    "--max-pixels",
    type=int,
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Fail images with more pixels (from the header), or whose resized image or output "
    "would have more; the default is Pillow's limit.",
)


def given_options(options: dict) -> dict:
    """The options the user typed, and only those: defaults are the library's to apply (a
    recipe fills in what was not given)."""
    context = click.get_current_context()
    return {
        name: value
        for name, value in options.items()
        if context.get_parameter_source(name) is not ParameterSource.DEFAULT
    }
