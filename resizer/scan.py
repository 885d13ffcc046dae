"""`resizer scan`: the dataset before the job, from file headers alone.

The inputs are found by the planner's own walk (same --include/--exclude/--follow-symlinks), each
file's header is read in a worker process (headers/, no pixel is decoded), and with sizing
options each image's geometry comes from geometry.compute, the very function resize uses, so a
predicted resize, crop box and padding is what resize will write into the manifest. Records come
back in walk order and are sorted by source, so the output is the same for any --jobs.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import geometry
from .files import atomic_writer
from .geometry import Sizing
from .headers import read_header
from .names import json_text
from .plan import find_images
from .settings import DEFAULT_MAX_PIXELS, OptionError, check_int
from .storage import Location

BATCH = 256  # files per worker task: amortises dispatch over many tiny headers
DEFAULT_MAX_DISTORTION = 1.1  # an aspect ratio changed by more than this counts as distorted
# What --fail-on can check; the last four need sizing options.
CHECKS = ("unreadable", "suspect", "animated", "too-large", "upscale", "pad", "distort")
SIZING_CHECKS = ("too-large", "upscale", "pad", "distort")


@dataclass(frozen=True)
class ScanSettings:
    """Every option of a scan: input selection, resize's sizing options, and the checks."""

    sources: tuple[Location, ...]  # local Paths, object-store URLs as str
    sizing: Sizing | None = None  # without it, only the headers are summarised
    mode: str = "fit"
    crop: tuple[int, int] | None = None
    upscale: bool = True
    rounding: str = "half-up"
    # Whether resize builds the whole resized image before keeping a part (--exact, or the
    # opencv backend): then --max-pixels counts it whole (geometry.over_pixel_limit).
    resizes_whole: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False
    jobs: int = 0  # worker processes; 0 = one per usable core
    max_distortion: float = DEFAULT_MAX_DISTORTION
    storage_options: tuple[tuple[str, str], ...] = ()  # fsspec's, for URLs (never secrets)

    def describe_sizing(self) -> str | None:
        """The sizing as resize options, e.g. `--size 224x224 --mode fill`."""
        if self.sizing is None:
            return None
        sizing = self.sizing
        if sizing.kind == "size":
            width = "" if sizing.width is None else str(sizing.width)
            height = "" if sizing.height is None else f"x{sizing.height}"
            words = [f"--size {width}{height}"]
        elif sizing.kind == "scale":
            words = [f"--scale {sizing.factor}"]
        else:
            words = [f"--{sizing.kind} {sizing.length}"]
        if self.mode != "fit":
            words.append(f"--mode {self.mode}")
        if self.crop:
            words.append(f"--crop {self.crop[0]}x{self.crop[1]}")
        if not self.upscale:
            words.append("--no-upscale")
        if self.rounding != "half-up":
            words.append(f"--rounding {self.rounding}")
        return " ".join(words)


# resize's options that decide the geometry (and, for --max-pixels, how the resize is built).
PIXEL_OPTIONS = ("size", "shorter", "longer", "scale", "recipe", "mode", "crop", "upscale")
PIXEL_OPTIONS += ("rounding", "interpolation", "backend", "exact")


def make_scan_settings(sources, **options) -> ScanSettings:
    """ScanSettings from options as given (absent or None = not given), validated as resize
    validates them: the sizing options are optional here, but not half given. Raises
    OptionError."""
    from .options import as_locations, pixel_options, storage_options

    unknown = set(options) - set(PIXEL_OPTIONS) - {*_RUN_OPTIONS}
    if unknown:
        raise OptionError(f"unknown option {sorted(unknown)[0]!r}")
    pixel = {key: options.get(key) for key in PIXEL_OPTIONS}
    resolved: dict = {}
    if any(pixel[key] is not None for key in ("size", "shorter", "longer", "scale", "recipe")):
        parsed = pixel_options(pixel)
        from .backends import get_backend

        whole = parsed["exact"] or not get_backend(parsed["backend"]).resizes_kept_part
        resolved = {key: parsed[key] for key in ("sizing", "mode", "crop", "upscale", "rounding")}
        resolved["resizes_whole"] = whole
    elif any(pixel[key] is not None for key in ("mode", "crop", "upscale", "rounding")):
        raise OptionError(
            "--mode, --crop, --no-upscale and --rounding need a sizing option: "
            "--size, --shorter, --longer or --scale (or a --recipe)"
        )
    run = {key: options.get(key) for key in _RUN_OPTIONS}
    if run["jobs"] is not None:
        check_int("jobs", run["jobs"], 1)
    max_pixels = run["max_pixels"] if "max_pixels" in options else DEFAULT_MAX_PIXELS
    if max_pixels is not None:
        check_int("max-pixels", max_pixels, 1)
    distortion = run["max_distortion"]
    distortion = DEFAULT_MAX_DISTORTION if distortion is None else distortion
    if isinstance(distortion, bool) or not isinstance(distortion, int | float) or distortion < 1:
        raise OptionError(f"--max-distortion {distortion!r} must be a number of at least 1")
    return ScanSettings(
        sources=as_locations(sources),
        max_pixels=max_pixels,
        include=_globs(run["include"]),
        exclude=_globs(run["exclude"]),
        follow_symlinks=bool(run["follow_symlinks"]),
        jobs=run["jobs"] or 0,
        max_distortion=float(distortion),
        storage_options=storage_options(run["storage_options"]),
        **resolved,
    )


_RUN_OPTIONS = ("include", "exclude", "follow_symlinks", "max_pixels", "jobs", "max_distortion")
_RUN_OPTIONS += ("storage_options",)


def _globs(value) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


# One row per file, in this order: a tuple travels between processes faster than a dict.
HEADER_FIELDS = (
    "source",
    "status",
    "error",
    "src_format",
    "src_width",
    "src_height",
    "src_mode",
    "bits",
    "alpha",
    "icc",
    "orientation",
    "src_frames",
    "src_bytes",
)
# With sizing options: what resize will do, named as in the manifest.
GEOMETRY_FIELDS = ("width", "height", "resize", "crop_box", "pad_offset")
FIELDS = HEADER_FIELDS + GEOMETRY_FIELDS
COLUMN = {name: index for index, name in enumerate(FIELDS)}
NO_GEOMETRY = (None,) * len(GEOMETRY_FIELDS)


@dataclass
class Scan:
    """One row per file found (unlistable folders among them), sorted by source."""

    rows: list[tuple] = field(default_factory=list)
    ignored: int = 0  # files that are not images by their extension
    predicted: bool = False  # whether the rows carry geometry (sizing options were given)

    def records(self) -> Iterator[dict]:
        """The rows as dicts, with the geometry fields only when they were predicted."""
        names = FIELDS if self.predicted else HEADER_FIELDS
        for row in self.rows:
            record = dict(zip(names, row, strict=False))
            for name in ("resize", "crop_box", "pad_offset"):
                if record.get(name) is not None:
                    record[name] = list(record[name])
            yield record

    def write_records(self, path: Path) -> None:
        """One JSON line per file, sorted by source; written whole or not at all."""
        with atomic_writer(path, fsync=False) as handle:
            for record in self.records():
                handle.write(json_text(record) + "\n")


def scan(settings: ScanSettings) -> Scan:
    """Read every selected image's header and predict its geometry. Raises PlanError for a
    missing SRC, like resize."""
    images, plan = find_images(settings)
    rows = [
        (failed.source, "unreadable", failed.error, *(None,) * (len(FIELDS) - 3))
        for failed in plan.failed
    ]
    rows.extend(_read_all(images, settings))
    rows.sort(key=lambda row: row[0])
    return Scan(rows=rows, ignored=plan.ignored, predicted=settings.sizing is not None)


def describe(
    path: str,
    name: str,
    settings: ScanSettings,
    known: dict | None = None,
    size: int | None = None,
) -> tuple:
    """One file's row (see FIELDS): what its header says and, with sizing options, what resize
    will do to it. `known` caches geometry by upright size (datasets repeat sizes); `size` is
    an object's, from the listing."""
    info = read_header(path, settings.max_pixels, size, settings.storage_options)
    status, error = info.status, info.error
    geometry_part = NO_GEOMETRY
    if settings.sizing is not None and info.width is not None:
        size = (info.width, info.height)
        cached = known.get(size) if known is not None else None
        if cached is None:
            cached = _predict(size, settings)
            if known is not None:
                known[size] = cached
        geometry_part, too_large = cached
        if too_large:
            status, error = "too-large", too_large
    return (
        name,
        status,
        error,
        info.format,
        info.width,
        info.height,
        info.mode,
        info.bits,
        info.alpha,
        info.icc,
        info.orientation,
        info.frames,
        info.bytes,
        *geometry_part,
    )


def _predict(size: tuple[int, int], settings: ScanSettings) -> tuple[tuple, str | None]:
    """The geometry fields for an upright size, and resize's words if --max-pixels will fail it
    (the message process.py gives, so the record reads as the manifest's will)."""
    plan = geometry.compute(
        size, settings.sizing, settings.mode, settings.crop, settings.upscale, settings.rounding
    )
    whole = settings.resizes_whole or plan.crop_box == (0, 0, *plan.resized)
    too_large = geometry.pixel_limit_error(
        plan, settings.max_pixels, settings.sizing, settings.crop, resized_whole=whole
    )
    return (*plan.output, plan.resized, plan.crop_box, plan.pad_offset), too_large


def _read_batch(batch: list[tuple[str, str, int | None]], settings: ScanSettings) -> list[tuple]:
    known: dict = {}
    return [describe(path, name, settings, known, size) for path, name, size in batch]


def _read_all(images: list[tuple[str, str, int | None]], settings: ScanSettings) -> Iterator[tuple]:
    """Rows in the order of `images`, from worker processes when there are enough files."""
    from .run import default_jobs

    batches = [images[start : start + BATCH] for start in range(0, len(images), BATCH)]
    workers = min(settings.jobs or default_jobs(), len(batches))
    if workers > 1:
        try:
            pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_worker_init)
        except (OSError, NotImplementedError, ImportError) as error:
            print(
                f"resizer: no worker processes ({error}); working in one process", file=sys.stderr
            )
        else:
            with pool:
                for rows in pool.map(_read_batch, batches, [settings] * len(batches)):
                    yield from rows
            return
    for batch in batches:
        yield from _read_batch(batch, settings)


def _context():
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["resizer.scan"])
    return context


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group; the parent alone decides what to do about it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
