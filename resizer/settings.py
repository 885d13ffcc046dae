"""The one frozen object that carries every option of a run, validated when it is made.

Fields that change output pixels or bytes are marked `affects_output`; their fingerprint is stored
with every manifest record, so a re-run with different options redoes the images instead of
wrongly skipping them.

Validation lives here, once, for the command and the Python API alike: a bad value raises
OptionError before anything is read or written (a bad mode must not fail every image instead).
Messages name options as the command spells them (`--pad-color`); the Python keyword is the same
name with underscores.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from fractions import Fraction
from functools import cached_property
from pathlib import Path

from .geometry import MODES, ROUNDINGS, Sizing
from .storage import Location, is_url, join, shown

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "area")
BACKENDS = ("pillow", "opencv")
ENGINES = ("local", "dask")
FORMATS = ("keep", "jpeg", "png", "webp", "tiff", "bmp", "gif")
MASK_RESAMPLINGS = ("nearest", "majority")
CONTAINERS = ("files", "webdataset")
DEFAULT_BACKEND = "pillow"
DEFAULT_QUALITY = 90
DEFAULT_TIMEOUT = 120.0  # seconds per image: generous, for a hung decoder only
# Pillow's own decompression-bomb limit (its default Image.MAX_IMAGE_PIXELS). A constant, because
# codecs switches Pillow's check off at import to apply this one from the header on both backends.
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
# Bumped when a change to resizer itself changes output bytes, so old outputs are redone.
OUTPUT_VERSION = 4


class OptionError(ValueError):
    """A bad option value or combination (a usage error: exit 2, nothing written)."""


@dataclass(frozen=True)
class ShardSize:
    """How much one WebDataset shard holds: a number of samples, or at most a number of bytes."""

    limit: int
    unit: str = "samples"  # samples | bytes

    def __str__(self) -> str:
        return f"{self.limit} {self.unit}"


DEFAULT_SHARD_SIZE = ShardSize(1000)


def _output(default=None, added_later: bool = False, **kwargs):
    """An option that changes output bytes. One `added_later` is fingerprinted only when it is
    not at its default, so that upgrading resizer does not redo every existing output."""
    metadata = {"affects_output": True, "added_later": added_later}
    return field(default=default, metadata=metadata, **kwargs)


def _mask_output(default=None):
    """An option of paired masks: part of the fingerprint only when masks are given, so runs
    without masks keep the fingerprint (and up-to-date outputs) they had."""
    return field(default=default, metadata={"affects_output": True, "masks": True})


@dataclass(frozen=True)
class Settings:
    # Local files and folders as Paths, object-store URLs as str (storage.location makes them).
    sources: tuple[Location, ...]
    out: Location
    sizing: Sizing = _output()
    mode: str = _output("fit")
    crop: tuple[int, int] | None = _output()
    upscale: bool = _output(True)
    rounding: str = _output("half-up", added_later=True)
    interpolation: str = _output("lanczos")
    backend: str = _output(DEFAULT_BACKEND)
    exact: bool = _output(False)
    format: str = _output("keep")
    keep_extension: bool = _output(False)  # a.gif -> a.gif.png instead of a.png
    quality: int = _output(DEFAULT_QUALITY)
    pad_color: tuple[int, ...] | None = _output()
    max_pixels: int | None = _output(DEFAULT_MAX_PIXELS)
    masks: Path | None = _mask_output()  # folder of label masks paired with the images
    masks_output: Path | None = None  # where masks are written [default: OUT-masks beside OUT]
    mask_pad: int = _mask_output(0)  # label value of padded mask pixels
    mask_resampling: str = _mask_output("nearest")  # nearest | majority
    # Where the encoded images go: a mirrored tree, or WebDataset tar shards. The image bytes
    # are the same in both, so neither is part of the fingerprint.
    container: str = "files"
    shard_size: ShardSize = DEFAULT_SHARD_SIZE
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False
    manifest: Location | None = None
    # fsspec options for URLs (endpoint_url=...), as sorted (key, text) pairs; never secrets.
    storage_options: tuple[tuple[str, str], ...] = ()
    jobs: int = 0  # worker processes; 0 = one per usable core
    progress: bool | None = None
    verbosity: int = 0
    dry_run: bool = False
    fail_fast: bool = False
    force: bool = False
    timeout: float = DEFAULT_TIMEOUT
    wait: bool = False
    engine: str = "local"  # local | dask
    scheduler: str | None = None  # a Dask scheduler address; None with dask: a local cluster
    preview: Path | None = None  # a PNG of sampled sources, their kept region and outputs
    preview_count: int = 8
    preview_seed: int = 0
    # Set when OUT names one output file (one SRC file, `-o small.jpg`): `out` is then its folder.
    output_name: str | None = None

    def __post_init__(self) -> None:
        validate(self)

    @property
    def manifest_path(self) -> Location:
        if self.manifest is not None:
            return self.manifest
        if self.output_name is not None:
            return join(self.out, Path(self.output_name).stem + ".manifest.jsonl")
        return join(self.out, "manifest.jsonl")

    @property
    def masks_out(self) -> Path:
        """Where paired masks are written: --masks-output, else `OUT-masks` beside OUT."""
        if self.masks_output is not None:
            return self.masks_output
        out = self.out.absolute()
        return out.with_name(out.name + "-masks")

    @property
    def uses_urls(self) -> bool:
        """Whether any location is an object store's URL."""
        return any(is_url(loc) for loc in (*self.sources, self.out, self.manifest))

    def output_options(self) -> dict:
        """The options that decide output bytes, as plain JSON-able values."""
        options = {"output_version": OUTPUT_VERSION}
        for item in fields(self):
            if not item.metadata.get("affects_output"):
                continue
            if item.metadata.get("masks") and self.masks is None:
                continue
            value = getattr(self, item.name)
            if item.metadata.get("added_later") and value == item.default:
                continue
            options[item.name] = _plain(value)
        return options

    @cached_property
    def fingerprint(self) -> str:
        """Stable short hash of `output_options()`; equal fingerprints mean equal outputs."""
        text = json.dumps(self.output_options(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def as_record(self) -> dict:
        """Every option, for the run record next to the manifest."""
        return {item.name: _plain(getattr(self, item.name)) for item in fields(self)}


def _plain(value):
    if isinstance(value, Sizing):
        plain = {"kind": value.kind}
        for name in ("width", "height", "length"):
            if getattr(value, name) is not None:
                plain[name] = getattr(value, name)
        if value.factor is not None:
            plain["factor"] = str(value.factor)
        return plain
    if isinstance(value, ShardSize):
        return {"limit": value.limit, "unit": value.unit}
    if isinstance(value, Path):
        return str(value)
    if is_url(value):
        return shown(value)  # no user name or password in any record
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(values)


def check_choice(option: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise OptionError(f"--{option} {value!r} is not one of {_choices(choices)}")


def check_int(option: str, value, least: int, most: int | None = None) -> None:
    """Whole numbers only (a bool is not one), within [least, most]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"--{option} {value!r} is not a whole number")
    if value < least or (most is not None and value > most):
        allowed = f"from {least} to {most}" if most is not None else f"at least {least}"
        raise OptionError(f"--{option} {value} is out of range: it must be {allowed}")


def check_sizing(sizing: Sizing | None) -> None:
    if sizing is None:
        raise OptionError("give exactly one of --size, --shorter, --longer, --scale (given: none)")
    if sizing.kind == "size":
        if sizing.width is None and sizing.height is None:
            raise OptionError("--size needs a width, a height or both")
        for side in (sizing.width, sizing.height):
            if side is not None:
                check_int("size", side, 1)
    elif sizing.kind in ("shorter", "longer"):
        check_int(sizing.kind, sizing.length, 1)
    elif sizing.kind == "scale":
        if not isinstance(sizing.factor, Fraction) or sizing.factor <= 0:
            raise OptionError(f"--scale {sizing.factor} must be a number greater than 0")
    else:
        raise OptionError(
            f"unknown sizing {sizing.kind!r}: use --size, --shorter, --longer or --scale"
        )


def check_pixel_options(
    sizing: Sizing | None,
    mode: str,
    crop: tuple[int, int] | None,
    rounding: str,
    interpolation: str,
    backend: str,
    pad_color: tuple[int, ...] | None,
) -> None:
    """The options that decide pixels, shared with `resizer.resize_image`."""
    check_sizing(sizing)
    check_choice("mode", mode, MODES)
    if mode != "fit" and not sizing.has_box:
        raise OptionError(f"--mode {mode} needs --size with both sides (WxH)")
    if crop is not None:
        if not isinstance(crop, tuple) or len(crop) != 2:
            raise OptionError(f"--crop {crop!r} needs both sides, e.g. 224x224")
        for side in crop:
            check_int("crop", side, 1)
        if mode == "fill" and (crop[0] > sizing.width or crop[1] > sizing.height):
            raise OptionError(
                "--crop larger than --size with --mode fill would bring back the pixels that "
                "fill cut away; crop to at most the --size box, or use --mode pad"
            )
    check_choice("rounding", rounding, ROUNDINGS)
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    check_choice("backend", backend, BACKENDS)
    if pad_color is not None:
        valid = isinstance(pad_color, tuple) and len(pad_color) in (3, 4)
        if not valid or not all(isinstance(v, int) and 0 <= v <= 255 for v in pad_color):
            raise OptionError(
                f"--pad-color {pad_color!r} is not (R, G, B) or (R, G, B, A) in 0-255"
            )


def validate(settings: Settings) -> None:
    """Raise OptionError for the first bad value; run before any file is touched."""
    check_pixel_options(
        settings.sizing,
        settings.mode,
        settings.crop,
        settings.rounding,
        settings.interpolation,
        settings.backend,
        settings.pad_color,
    )
    if not isinstance(settings.upscale, bool):
        raise OptionError(f"--upscale {settings.upscale!r} must be True or False")
    check_choice("format", settings.format, FORMATS)
    check_int("mask-pad", settings.mask_pad, 0, 65535)
    check_choice("mask-resampling", settings.mask_resampling, MASK_RESAMPLINGS)
    check_int("quality", settings.quality, 1, 100)
    if settings.max_pixels is not None:
        check_int("max-pixels", settings.max_pixels, 1)
    check_container(settings)
    check_int("jobs", settings.jobs, 0)
    check_choice("engine", settings.engine, ENGINES)
    if settings.scheduler is not None and not isinstance(settings.scheduler, str):
        raise OptionError(
            f"--scheduler {settings.scheduler!r} must be an address such as tcp://host:8786"
        )
    check_int("preview-count", settings.preview_count, 1)
    check_int("preview-seed", settings.preview_seed, 0)
    timeout = settings.timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        shown = f"{timeout:g}" if isinstance(timeout, int | float) else repr(timeout)
        raise OptionError(f"--timeout {shown} must be a number of seconds greater than 0")
    if not settings.sources:
        raise OptionError("give at least one SRC (a folder or an image file)")
    if settings.masks is not None and settings.uses_urls:
        raise OptionError(
            "--masks works with local folders only: SRC, OUT and the manifest must be local "
            "paths to pair masks"
        )
    if settings.preview is not None and settings.uses_urls:
        raise OptionError(
            "--preview works with local folders only: SRC and OUT must be local paths to draw "
            "the preview"
        )


def check_container(settings: Settings) -> None:
    check_choice("container", settings.container, CONTAINERS)
    size = settings.shard_size
    if not isinstance(size, ShardSize) or size.unit not in ("samples", "bytes"):
        raise OptionError(f"--shard-size {size!r} is not a number of samples or of bytes")
    check_int("shard-size", size.limit, 1)
    if settings.container == "files":
        return
    if settings.masks is not None:
        raise OptionError("--masks writes mask files; use it with --container files")
    if settings.output_name is not None:
        raise OptionError(
            f"-o {settings.output_name!r} names one output file; --container "
            f"{settings.container} needs an output folder"
        )
