"""What a user types or passes -> one validated Settings; shared by the command and the Python API.

Sizes come as "224x224" strings or (width, height) tuples, colours as names or tuples, paths as
str or Path; OpenCV's and Pillow's names for kernels and formats are accepted and normalised here,
before Settings, so an alias never changes the fingerprint. A recipe fills in the options the
user did not give. Settings then validates everything, once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path, PurePosixPath

from .containers import parse_shard_size
from .geometry import Sizing
from .plan import FORMAT_OF_EXTENSION, IMAGE_EXTENSIONS
from .settings import (
    DEFAULT_BACKEND,
    DEFAULT_MAX_PIXELS,
    DEFAULT_QUALITY,
    DEFAULT_SHARD_SIZE,
    DEFAULT_TIMEOUT,
    OptionError,
    Settings,
    check_int,
    check_pixel_options,
)
from .storage import (
    Location,
    StorageError,
    base_name,
    is_url,
    location,
    parent,
    parse_options,
    shown,
)

SIZE_PATTERN = re.compile(r"^\s*(\d+)?\s*(?:[x×X]\s*(\d+))?\s*$")
SIZING_OPTIONS = ("size", "shorter", "longer", "scale")
# Names OpenCV (INTER_LINEAR, INTER_CUBIC, INTER_LANCZOS4) and Pillow (BOX) users type.
INTERPOLATION_ALIASES = {
    "linear": "bilinear",
    "cubic": "bicubic",
    "lanczos4": "lanczos",
    "box": "area",
}
FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff"}

# Each recipe is a set of options; options the user gives explicitly win over the recipe's
# (any sizing option replaces the recipe's sizing).
RECIPES: dict[str, dict] = {
    # torchvision's ImageNet evaluation: Resize(256) + CenterCrop(224) on a PIL image, which
    # truncates the longer side and resizes the full decode with Pillow's bilinear; PNG so the
    # written pixels are those pixels.
    "torchvision-eval": {
        "shorter": 256,
        "crop": (224, 224),
        "interpolation": "bilinear",
        "rounding": "floor",
        "exact": True,
        "backend": "pillow",
        "format": "png",
    },
}

# Defaults of the options a recipe may set (None: not given).
PIXEL_DEFAULTS = {
    "mode": "fit",
    "upscale": True,
    "rounding": "half-up",
    "interpolation": "lanczos",
    "backend": DEFAULT_BACKEND,
    "exact": False,
    "pad_color": None,
    "crop": None,
}
RUN_DEFAULTS = {
    "format": "keep",
    "keep_extension": False,
    "masks": None,
    "masks_output": None,
    "mask_pad": 0,
    "mask_resampling": "nearest",
    "container": "files",
    "shard_size": DEFAULT_SHARD_SIZE,
    "quality": DEFAULT_QUALITY,
    "max_pixels": DEFAULT_MAX_PIXELS,
    "include": (),
    "exclude": (),
    "follow_symlinks": False,
    "manifest": None,
    "jobs": None,
    "progress": None,
    "verbose": 0,
    "quiet": False,
    "dry_run": False,
    "fail_fast": False,
    "force": False,
    "timeout": DEFAULT_TIMEOUT,
    "wait": False,
    "engine": "local",
    "scheduler": None,
    "preview": None,
    "preview_count": 8,
    "preview_seed": 0,
    "storage_options": None,
}


def parse_size(value, option: str = "size", box: bool = False) -> tuple[int | None, int | None]:
    """WxH, W (width only) or xH (height only) as text, or a (width, height) tuple."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise OptionError(f"--{option} {value!r} is not a size: give (width, height)")
        width, height = value
    elif isinstance(value, int) and not isinstance(value, bool):
        width, height = value, None
    else:
        match = SIZE_PATTERN.match(str(value))
        width, height = (match.group(1), match.group(2)) if match else (None, None)
        if not match or (width is None and height is None):
            raise OptionError(
                f"--{option} {value!r} is not a size: use WxH (224x224), W (640) or xH (x480)"
            )
        width = int(width) if width is not None else None
        height = int(height) if height is not None else None
    if box and (width is None or height is None):
        raise OptionError(f"--{option} {value!r} needs both sides, e.g. 224x224")
    for side in (width, height):
        if side is not None and (isinstance(side, bool) or not isinstance(side, int)):
            raise OptionError(f"--{option} {value!r}: sides must be whole numbers of pixels")
        if side is not None and side < 1:
            raise OptionError(f"--{option} {value!r}: sides must be at least 1 pixel")
    return width, height


def parse_scale(value) -> Fraction:
    """A factor as text, int, float or Fraction; floats by their shortest decimal (0.1 = 1/10)."""
    if isinstance(value, Fraction):
        factor = value
    else:
        try:
            factor = Fraction(repr(value) if isinstance(value, float) else str(value))
        except (ValueError, ZeroDivisionError):
            raise OptionError(f"--scale {value!r} is not a number") from None
    if factor <= 0:
        raise OptionError(f"--scale {str(value)!r} must be greater than 0")
    return factor


def parse_color(value) -> tuple[int, ...] | None:
    """Any colour Pillow understands (black, #ff8800, #00000000, rgb(1,2,3)), or a tuple."""
    if value is None or isinstance(value, tuple):
        return value
    if isinstance(value, list):
        return tuple(value)
    from PIL import ImageColor

    try:
        return tuple(ImageColor.getrgb(str(value)))
    except ValueError:
        raise OptionError(
            f"--pad-color {value!r} is not a colour: try a name (white), #rrggbb or #rrggbbaa"
        ) from None


def _name(value, aliases: dict[str, str] | None = None):
    """Case-insensitive names, aliases mapped to ours; anything else is left for validation."""
    if not isinstance(value, str):
        return value
    name = value.strip().lower()
    return (aliases or {}).get(name, name)


def make_sizing(options: dict) -> Sizing | None:
    given = [name for name in SIZING_OPTIONS if options.get(name) is not None]
    if len(given) > 1:
        names = ", ".join(f"--{name}" for name in given)
        raise OptionError(
            f"give exactly one of --size, --shorter, --longer, --scale (given: {names})"
        )
    if not given:
        return None
    kind = given[0]
    value = options[kind]
    if kind == "size":
        width, height = parse_size(value)
        return Sizing("size", width=width, height=height)
    if kind == "scale":
        return Sizing("scale", factor=parse_scale(value))
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return Sizing(kind, length=value)


def with_recipe(options: dict) -> dict:
    """The options given (None = not given) completed by the recipe, if one is named."""
    name = options.get("recipe")
    options = {key: value for key, value in options.items() if key != "recipe"}
    if name is None:
        return options
    recipe = RECIPES.get(_name(name))
    if recipe is None:
        raise OptionError(f"--recipe {name!r} is not one of {', '.join(RECIPES)}")
    explicit_sizing = any(options.get(key) is not None for key in SIZING_OPTIONS)
    merged = dict(options)
    for key, value in recipe.items():
        if key in SIZING_OPTIONS and explicit_sizing:
            continue
        if merged.get(key) is None:
            merged[key] = value
    return merged


def pixel_options(options: dict) -> dict:
    """The pixel-deciding options, parsed, normalised, defaulted and validated."""
    options = with_recipe(options)
    resolved = {
        key: default if options.get(key) is None else options[key]
        for key, default in PIXEL_DEFAULTS.items()
    }
    resolved["sizing"] = make_sizing(options)
    resolved["mode"] = _name(resolved["mode"])
    resolved["rounding"] = _name(resolved["rounding"])
    resolved["backend"] = _name(resolved["backend"])
    resolved["interpolation"] = _name(resolved["interpolation"], INTERPOLATION_ALIASES)
    if resolved["crop"] is not None:
        resolved["crop"] = parse_size(resolved["crop"], "crop", box=True)
    resolved["pad_color"] = parse_color(resolved["pad_color"])
    check_pixel_options(**{key: resolved[key] for key in _PIXEL_CHECKED})
    return resolved


_PIXEL_CHECKED = ("sizing", "mode", "crop", "rounding", "interpolation", "backend", "pad_color")


def as_locations(sources) -> tuple[Location, ...]:
    """One path or URL (str or PathLike) or an iterable of them."""
    if isinstance(sources, str | os.PathLike):
        sources = (sources,)
    if not isinstance(sources, Iterable):
        raise OptionError(f"SRC {sources!r} is not a path or a list of paths")
    return tuple(_location(source) for source in sources)


def _location(value) -> Location:
    try:
        return location(value)
    except StorageError as error:
        raise OptionError(str(error)) from None


def _is_folder(src: Location) -> bool:
    """A URL is a folder (a prefix) unless its name is an image's: no request is made here."""
    if is_url(src):
        return PurePosixPath(base_name(src)).suffix.lower() not in IMAGE_EXTENSIONS
    return src.is_dir()


def output_file(sources: tuple[Location, ...], out: Location) -> str | None:
    """The output file name when OUT names one (`-o small.jpg` with one SRC file), else None.

    OUT is a file name when it has an image extension and is not an existing folder; that
    takes exactly one SRC that is not a folder.
    """
    name = base_name(out)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in IMAGE_EXTENSIONS or (not is_url(out) and out.is_dir()):
        if not is_url(out) and out.exists() and not out.is_dir():
            raise OptionError(f"OUT {shown(out)!r} is a file, not a folder")
        return None
    if len(sources) != 1 or _is_folder(sources[0]):
        raise OptionError(
            f"OUT {shown(out)!r} names an image file, which takes exactly one SRC image file; "
            "to write several images, name a folder"
        )
    return name


def _path(value) -> Path | None:
    return None if value is None else Path(value)


def storage_options(value) -> tuple[tuple[str, str], ...]:
    """`--storage-option KEY=VALUE`s or a dict, validated (no secrets) for every command."""
    try:
        return parse_options(value)
    except StorageError as error:
        raise OptionError(str(error)) from None


def _globs(value) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def make_settings(sources, out, **options) -> Settings:
    """Settings from options as given (absent or None = not given; `recipe` fills in)."""
    sources = as_locations(sources)
    out = _location(out)
    unknown = set(options) - set(PIXEL_DEFAULTS) - set(RUN_DEFAULTS) - {*SIZING_OPTIONS, "recipe"}
    if unknown:
        raise OptionError(f"unknown option {sorted(unknown)[0]!r}")
    options = with_recipe(options)
    pixels = pixel_options(options)
    run = {
        key: default if options.get(key) is None else options[key]
        for key, default in RUN_DEFAULTS.items()
    }
    if "max_pixels" in options:  # None means no limit here, not "not given"
        run["max_pixels"] = options["max_pixels"]
    fmt = _name(run["format"], FORMAT_ALIASES)
    name = output_file(sources, out)
    if name is not None:
        implied = FORMAT_OF_EXTENSION[Path(name).suffix.lower()]
        if fmt not in ("keep", implied):
            raise OptionError(f"--format {fmt} contradicts the output file name {name!r}")
        fmt, out = implied, parent(out)
    jobs = run["jobs"]
    if jobs is not None:
        check_int("jobs", jobs, 1)  # Settings' 0 (all cores) is spelled None here
    return Settings(
        sources=sources,
        out=out,
        output_name=name,
        format=fmt,
        keep_extension=bool(run["keep_extension"]),
        masks=_path(run["masks"]),
        masks_output=_path(run["masks_output"]),
        mask_pad=run["mask_pad"],
        mask_resampling=_name(run["mask_resampling"]),
        container=_name(run["container"]),
        shard_size=parse_shard_size(run["shard_size"]),
        quality=run["quality"],
        max_pixels=run["max_pixels"],
        include=_globs(run["include"]),
        exclude=_globs(run["exclude"]),
        follow_symlinks=bool(run["follow_symlinks"]),
        manifest=None if run["manifest"] is None else _location(run["manifest"]),
        storage_options=storage_options(run["storage_options"]),
        jobs=jobs or 0,  # 0: all cores, counted only if there is work
        progress=run["progress"],
        verbosity=-1 if run["quiet"] else run["verbose"],
        dry_run=bool(run["dry_run"]),
        fail_fast=bool(run["fail_fast"]),
        force=bool(run["force"]),
        timeout=run["timeout"],
        wait=bool(run["wait"]),
        # An address means a cluster: --scheduler alone is enough to use it.
        engine="dask" if run["scheduler"] else _name(run["engine"]),
        scheduler=run["scheduler"],
        preview=_path(run["preview"]),
        preview_count=run["preview_count"],
        preview_seed=run["preview_seed"],
        **pixels,
    )
