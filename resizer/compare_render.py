"""The pixels `resizer resize` would encode, made in memory, for `resizer compare` to measure.

Two stages around process.py's own functions: `decode` (probe, geometry, the --max-pixels check,
shrink-on-load, decode; as `process._process` does before its `transform`) and `finish`
(`process.transform`: resize, EXIF turn, crop/pad). The split lets compare decode an image once
per way of decoding (shrunk on load, or in full) instead of once per configuration;
tests/test_compare_render.py checks that encoding these pixels gives the bytes `resizer resize`
writes, for every configuration.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import codecs, geometry
from .backends import get_backend
from .process import plan_geometry, transform
from .settings import Settings


@dataclass
class Decoded:
    header: codecs.Header
    pixels: codecs.Pixels  # as stored: the EXIF orientation `pending` is not applied yet
    icc: bytes | None
    geometry: geometry.Geometry
    pending: int
    extent: tuple[float, float] | None  # what a shrunk decode really covers
    seconds: float  # probing and decoding

    def upright(self) -> codecs.Pixels:
        return codecs.orient_image(self.pixels, self.pending)

    def close(self) -> None:
        self.header.image.close()


def shrinks(settings: Settings) -> bool:
    """Whether `resize` may decode a JPEG shrunk (never with --exact, never for nearest, whose
    promise is source pixel values): the one setting that changes how an image is decoded."""
    return not settings.exact and settings.interpolation != "nearest"


def check_size(plan: geometry.Geometry, settings: Settings) -> None:
    """process.py's --max-pixels check of the resized image and the output, for `settings`."""
    backend = get_backend(settings.backend)
    whole = settings.exact or not backend.resizes_kept_part
    whole = whole or plan.crop_box == (0, 0, *plan.resized)
    too_large = geometry.pixel_limit_error(
        plan, settings.max_pixels, settings.sizing, settings.crop, resized_whole=whole
    )
    if too_large:
        raise codecs.ImageError(too_large)


def decode(source: Path | bytes | io.BytesIO, settings: Settings) -> Decoded:
    """Probe and decode as process.py does: as stored, shrunk on load when `shrinks` (from a
    path, or an object's bytes as process.py decodes them)."""
    started = time.perf_counter()
    if (isinstance(source, Path) and source.stat().st_size == 0) or source == b"":
        raise codecs.ImageError("empty file")
    header = codecs.probe(source, settings.max_pixels)
    pixels = None
    try:
        plan = plan_geometry(header.upright_size, settings)
        check_size(plan, settings)
        if shrinks(settings):
            codecs.shrink_on_load(header, plan.resized)
        pixels, icc = codecs.decode(header, orient=False)
    finally:
        if pixels is not header.image:
            header.image.close()
    extent = None
    if not header.decodes_upright and header.decode_scale > 1:
        scale = header.decode_scale
        extent = (header.stored_size[0] / scale, header.stored_size[1] / scale)
    pending = 1 if header.decodes_upright else header.orientation
    seconds = time.perf_counter() - started
    return Decoded(header, pixels, icc, plan, pending, extent, seconds)


def finish(decoded: Decoded, settings: Settings) -> codecs.Pixels:
    """`process.transform` of a decode made with the same `shrinks`; `decoded` is not changed."""
    check_size(decoded.geometry, settings)
    return transform(
        decoded.pixels,
        decoded.geometry,
        decoded.pending,
        backend=settings.backend,
        interpolation=settings.interpolation,
        exact=settings.exact,
        pad_color=settings.pad_color,
        extent=decoded.extent,
    )


def render(source: Path | io.BytesIO, settings: Settings) -> codecs.Pixels:
    """`decode` then `finish`: what `resizer resize` hands to the encoder for `source`."""
    decoded = decode(source, settings)
    pixels = finish(decoded, settings)
    if pixels is not decoded.header.image:  # else the image is the result: keep it open
        decoded.close()
    return pixels


def as_array(pixels: codecs.Pixels) -> tuple[np.ndarray, float]:
    """Pixels as a numpy array and their peak value (255, or 65535 for 16-bit)."""
    if isinstance(pixels, np.ndarray):
        array = pixels
    elif pixels.mode == "I;16":
        array = np.asarray(pixels, dtype=np.uint16)
    else:
        array = np.asarray(pixels)
    return array, 65535.0 if array.dtype == np.uint16 else 255.0
