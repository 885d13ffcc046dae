"""`resizer compare`: what each interpolation x backend x (fast path, --exact) costs, measured
on a deterministic sample of the user's own images.

Each configuration runs the real per-image pipeline in memory (compare_render.py: the steps
of process.py up to the encoder) and is measured against a reference computed independently of
every configuration (`quality.reference_resize`: float Lanczos-3 of the full upright decode),
in exactly the output geometry `resizer resize` would write. Aliasing is measured on a zone
plate run through the same pipeline (`quality.aliasing_score`).
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import codecs, compare_render, geometry, quality
from .compare_pool import map_calls, restart_timer
from .compare_render import as_array
from .plan import Plan, PlanError, _selected, output_name
from .process import pad_fill, plan_geometry
from .settings import BACKENDS, INTERPOLATIONS, Settings
from .sources import find_inputs
from .storage import is_url, shown

SHEET_CROP = 96  # output pixels shown per image and configuration on the contact sheet


@dataclass(frozen=True)
class Configuration:
    interpolation: str
    backend: str
    exact: bool

    @property
    def label(self) -> str:
        return f"{self.interpolation}/{self.backend}" + (" --exact" if self.exact else "")


def configurations(
    interpolations: Sequence[str] = INTERPOLATIONS, backends: Sequence[str] = BACKENDS
) -> list[Configuration]:
    """Every interpolation x backend x (fast path, --exact), in the options' documented order."""
    return [
        Configuration(interpolation, backend, exact)
        for interpolation in INTERPOLATIONS
        if interpolation in interpolations
        for backend in BACKENDS
        if backend in backends
        for exact in (False, True)
    ]


def display(values: np.ndarray) -> np.ndarray:
    """`quality.visible` values as 8-bit RGB for a person: alpha shown over black."""
    rgb = values if values.ndim == 2 else values[..., : 1 if values.shape[2] <= 2 else 3]
    rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    if rgb.ndim == 3 and rgb.shape[2] == 1:
        rgb = rgb[..., 0]
    return np.stack([rgb] * 3, axis=2) if rgb.ndim == 2 else rgb


def detail_crop(reference: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """The size x size window (clipped to the image) with the most gradient energy: where
    kernels differ most. The first such window wins, so the choice is deterministic."""
    plane = reference if reference.ndim == 2 else reference.mean(axis=2)
    height, width = plane.shape
    side_x, side_y = min(size, width), min(size, height)
    energy = np.zeros((height + 1, width + 1))
    energy[1:, 1:] = np.abs(np.diff(plane, axis=1, append=plane[:, -1:])) + np.abs(
        np.diff(plane, axis=0, append=plane[-1:])
    )
    total = energy.cumsum(0).cumsum(1)
    sums = (
        total[side_y:, side_x:]
        - total[:-side_y, side_x:]
        - total[side_y:, :-side_x]
        + total[:-side_y, :-side_x]
    )
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(left), int(top), int(left) + side_x, int(top) + side_y


@dataclass
class Measure:
    """One configuration on one image."""

    psnr: float
    ssim: float | None
    bytes: int
    seconds: float


@dataclass
class ImageReport:
    source: str
    error: str | None = None
    size: tuple[int, int] | None = None  # upright source size
    measures: list[Measure] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)  # reference, then each configuration


def measure_image(
    path: str, name: str, settings: Settings, configs: list[Configuration], crop: int
) -> ImageReport:
    """Reference and every configuration on one image; a bad image is a report with an error."""
    report = ImageReport(source=name)
    try:
        _measure_image(_source(path, settings), name, settings, configs, crop, report)
    except codecs.ImageError as error:
        report.error = str(error)
    except OSError as error:
        report.error = _os_error(error, path)
    except MemoryError:
        report.error = "out of memory while processing this image"
    except Exception as error:  # a decoder bug on a strange file must not stop the comparison
        report.error = f"{type(error).__name__}: {error}"
    if report.error:
        report.measures, report.crops = [], []
    return report


def _source(path: str, settings: Settings) -> Path | bytes:
    """A local file by its path; an object as its whole bytes (one GET, the sample is small),
    decoded from memory as `resize` decodes it."""
    if not is_url(path):
        return Path(path)
    from .storage.fsspec import read_url

    return read_url(path, settings.storage_options)


def _os_error(error: OSError, path: str) -> str:
    """An unreadable file's cause and name; an object's cause in words (no URL or key)."""
    if is_url(path):
        from .storage import cause

        return f"cannot read: {cause(error)}"
    return f"{error.strerror or error}: {error.filename or path}"


def _measure_image(path, name, settings, configs, crop, report) -> None:
    # Each way of decoding runs once; a configuration's time is that decode's time plus its
    # own resize and encode. The reference starts from the full decode, turned upright.
    fmt = output_name(name, settings.format)[1]
    _warm_up(settings, configs, fmt)
    decodes: dict[bool, compare_render.Decoded] = {}
    try:
        full = replace(settings, exact=True)
        decodes[False] = compare_render.decode(path, full)
        _measure_decoded(path, fmt, settings, configs, crop, report, decodes)
    finally:
        for decoded in decodes.values():
            decoded.close()


def _measure_decoded(path, fmt, settings, configs, crop, report, decodes) -> None:
    full = decodes[False]
    report.size = full.header.upright_size
    upright = full.upright()
    array, peak = as_array(upright)
    fill = pad_fill(codecs.mode_of(upright), settings.pad_color)
    reference = quality.reference_resize(array, full.geometry, fill, peak)
    del array, upright
    window = detail_crop(reference, crop) if crop else None
    if window:
        report.crops.append(_cut(reference, window))
    for config in configs:
        restart_timer(settings.timeout)
        options = _configured(settings, config)
        key = compare_render.shrinks(options)
        if key not in decodes:
            decodes[key] = compare_render.decode(path, options)
        decoded = decodes[key]
        started = time.perf_counter()
        pixels = compare_render.finish(decoded, options)
        data, _ = codecs.encode(pixels, fmt, settings.quality, decoded.icc, settings.pad_color)
        seconds = decoded.seconds + time.perf_counter() - started
        output = quality.visible(*as_array(pixels))
        report.measures.append(
            Measure(
                psnr=quality.psnr(output, reference),
                ssim=quality.ssim(output, reference),
                bytes=len(data),
                seconds=seconds,
            )
        )
        if window:
            report.crops.append(_cut(output, window))


_warmed: set[tuple] = set()


def _warm_up(settings: Settings, configs: list[Configuration], fmt: str) -> None:
    """Run each configuration once on a tiny image, so that no timing includes importing a
    library or loading a codec plugin for the first time in this process."""
    key = (fmt, tuple(configs))
    if key in _warmed:
        return
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(buffer, "JPEG")
    small = replace(settings, sizing=geometry.Sizing("size", width=16, height=16), mode="fit",
                    crop=None, upscale=True)  # fmt: skip
    for config in configs:
        buffer.seek(0)
        pixels = compare_render.render(buffer, _configured(small, config))
        codecs.encode(pixels, fmt, settings.quality, None, settings.pad_color)
    _warmed.add(key)


def _configured(settings: Settings, config: Configuration) -> Settings:
    return replace(
        settings, interpolation=config.interpolation, backend=config.backend, exact=config.exact
    )


def _cut(values: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    left, top, right, bottom = window
    return display(values[top:bottom, left:right])


@dataclass
class ZoneReport:
    """The zone plate through one configuration (or, with `config` None, the reference)."""

    score: float | None
    crop: np.ndarray | None


def measure_zone_plate(
    size: tuple[int, int], settings: Settings, config: Configuration | None, crop: int
) -> ZoneReport:
    """A zone plate of `size` through `render` (as a lossless grey image): its aliasing score.

    It gets the geometry a photo of that size gets from the same options; padding is grey.
    """
    plate = quality.zone_plate(*size)
    settings = replace(settings, pad_color=(127, 127, 127))
    plan = plan_geometry(size, settings)
    if config is None:
        output = quality.reference_resize(plate, plan, (127,))
    else:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(plate, "L").save(buffer, "PPM")  # lossless, and no time to code
        del plate
        output = as_array(compare_render.render(buffer, _configured(settings, config)))[0]
    score = quality.aliasing_score(output, plan)
    # The top left corner holds the highest frequencies, where aliasing shows as moiré.
    corner = display(np.asarray(output, dtype=np.float64)[:crop, :crop]) if crop else None
    return ZoneReport(score, corner)


def find_images(settings: Settings) -> list[tuple[str, str]]:
    """(name, path) of every image `resizer resize` would process, sorted by name.

    The same walk and filters as the planner (links that lead nowhere left out); raises
    PlanError for a missing SRC.
    """
    found = find_inputs(settings, Plan())
    usable = [item for item in found if item.error is None]  # not dangling links
    return sorted({(item.name, item.path) for item in usable if _selected(item.name, settings)})


def choose(images: list[tuple[str, str]], count: int, seed: int) -> list[tuple[str, str]]:
    """A seeded sample of the sorted list: the same images whatever the walk order or --jobs."""
    pool = sorted(images)
    if count >= len(pool):
        return pool
    return sorted(random.Random(seed).sample(pool, count))


@dataclass
class Comparison:
    """Everything one `resizer compare` measured; compare_report.py shows it."""

    settings: Settings
    configs: list[Configuration]
    found: int  # images under SRC...
    seed: int
    images: list[ImageReport]  # the sample, sorted by name
    zones: list[ZoneReport]  # the reference first, then one per configuration
    zone_plate: tuple[int, int] | None  # its size, see zone_plate_size
    seconds: float = 0.0


def compare(
    settings: Settings,
    configs: list[Configuration],
    sample: int,
    seed: int,
    jobs: int = 1,
    crop: int = 0,
) -> Comparison:
    """The library call behind `resizer compare`. Raises PlanError when there is no image."""
    started = time.perf_counter()
    images = find_images(settings)
    if not images:
        raise PlanError("no images found under " + ", ".join(map(shown, settings.sources)))
    chosen = choose(images, sample, seed)
    reports, zones, size = run(settings, configs, chosen, jobs, crop)
    seconds = time.perf_counter() - started
    return Comparison(settings, configs, len(images), seed, reports, zones, size, seconds)


def run(
    settings: Settings,
    configs: list[Configuration],
    images: list[tuple[str, str]],
    jobs: int = 1,
    crop: int = 0,
) -> tuple[list[ImageReport], list[ZoneReport], tuple[int, int] | None]:
    """Measure `configs` on `images` in `jobs` worker processes.

    Returns the image reports (in `images` order), the zone plate reports (the reference first,
    then one per configuration) and the zone plate's size.
    """
    calls = [(path, name, settings, configs, crop) for name, path in images]
    reports = map_calls(measure_image, calls, jobs, settings.timeout)
    for index, report in enumerate(reports):
        if isinstance(report, str):  # its process died, even alone
            reports[index] = ImageReport(images[index][0], error=report)
    size = zone_plate_size(reports)
    plates = [None, *configs] if size else []
    calls = [(size, settings, config, crop) for config in plates]
    zones = map_calls(measure_zone_plate, calls, jobs, settings.timeout)
    zones = [zone if isinstance(zone, ZoneReport) else ZoneReport(None, None) for zone in zones]
    return reports, zones, size


def zone_plate_size(reports: list[ImageReport]) -> tuple[int, int] | None:
    """The upright size of the median measured image by pixel count (the smaller of the two
    middle ones): the zone plate is resized by the factor a typical image of the sample is."""
    sizes = sorted(
        (report.size[0] * report.size[1], report.source, report.size)
        for report in reports
        if report.error is None and report.size
    )
    return sizes[(len(sizes) - 1) // 2][2] if sizes else None
