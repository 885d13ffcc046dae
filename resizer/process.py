"""One image, start to finish: probe, decode (shrunk on load when allowed), orient, resize,
crop/pad, encode, write atomically. Every failure becomes a failed Result naming the cause.

This runs inside worker processes, so it reads and writes the files itself and returns only a
small record: pixels never travel between processes, and the hash comes from the encoded bytes
already in memory rather than from reading the output back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from pathlib import Path

from . import codecs, faults, geometry, masks, pixelstats
from .backends import get_backend
from .containers.staging import stage
from .files import write_atomic
from .plan import mask_name
from .records import Job, Result
from .settings import Settings
from .storage import cause as store_cause
from .storage import is_url, shown
from .storage.fsspec import read_url
from .storage.out import write_object

OUT_OF_MEMORY = "out of memory while processing this image"
# OpenCV's messages: "OpenCV(5.0.0) /build/path/alloc.cpp:73: error: (-4:Insufficient memory)
# Failed to allocate 4278190080 bytes in function 'OutOfMemoryError'"
OPENCV_MESSAGE = re.compile(r"error: \((-?\d+):([^)]*)\)\s*([^\n]*?)(?: in function .*)?$", re.S)
OPENCV_NO_MEMORY = "-4"
__all__ = ["Job", "Result", "process_image"]


def process_image(job: Job, settings: Settings) -> Result:
    """Resize one image; never raises for a problem with the image or its output file."""
    started = time.perf_counter()
    result = Result(source=job.name, fingerprint=settings.fingerprint)
    try:
        _process(job, settings, result)
        result.status = "ok"
    except (codecs.ImageError, masks.MaskError) as error:
        result.error = str(error)
    except _WriteFailed as failed:
        result.error = faults.write_error(failed.error, failed.root, failed.relative, failed.what)
        # Whether the output root itself is at fault (stop the run) is for the parent to probe.
        size = failed.size if failed.error.errno in faults.SPACE_ERRNOS else 0
        result.write_fault = (str(failed.root), size)
    except OSError as error:
        result.error = _describe_read_error(error, job)
    except MemoryError:
        result.error = OUT_OF_MEMORY
    except Exception as error:  # a decoder bug on a strange file must not stop the run
        result.error = _describe_exception(error)
    if result.status != "ok":
        result.error = _without_paths(result.error or "failed", job, settings)
        result.output = None
        result.width = result.height = result.bytes = result.sha256 = None
        result.pixel_sum = result.pixel_sumsq = None
        result.mask_output = result.mask_bytes = result.mask_sha256 = None
        result.staged = None
    result.seconds = round(time.perf_counter() - started, 4)
    return result


def _process(job: Job, settings: Settings, result: Result) -> None:
    if is_url(job.source):  # an object: one GET, which returns one whole version
        source = read_url(job.source, settings.storage_options)
        result.src_bytes, result.src_etag = len(source), job.src_etag
        before = None
    else:
        source = Path(job.source)
        before = os.stat(source)
        result.src_bytes, result.src_mtime_ns = before.st_size, before.st_mtime_ns
    if result.src_bytes == 0:
        raise codecs.ImageError("empty file")
    header = codecs.probe(source, settings.max_pixels)
    pixels = None
    try:
        result.src_format = header.format
        result.src_mode = header.mode
        result.src_frames = header.frames
        result.orientation = header.orientation
        result.src_width, result.src_height = header.upright_size
        plan = plan_geometry(header.upright_size, settings)
        backend = get_backend(settings.backend)
        # --exact and opencv build the whole resized image, and so do masks; pillow's default
        # path builds only the part it keeps (all of it, unless cropped).
        whole = settings.exact or not backend.resizes_kept_part or settings.masks is not None
        whole = whole or plan.crop_box == (0, 0, *plan.resized)
        too_large = geometry.pixel_limit_error(
            plan, settings.max_pixels, settings.sizing, settings.crop, resized_whole=whole
        )
        if too_large:
            raise codecs.ImageError(too_large)
        paired = None
        if settings.masks is not None:  # checked before the costly decode
            paired = masks.open_paired(
                job.name, settings.masks, header.stored_size, header.orientation
            )
            result.mask_src_bytes, result.mask_src_mtime_ns = paired.size_bytes, paired.mtime_ns
        # Nearest promises source pixel values; a DCT-scaled decode has averaged them.
        shrink = not settings.exact and settings.interpolation != "nearest"
        if shrink and codecs.shrink_on_load(header, plan.resized):
            result.decode_scale = header.decode_scale
        # Left as stored: transform() turns it upright where that is cheapest.
        pixels, icc = codecs.decode(header, orient=False)
    finally:
        if pixels is not header.image:  # a new image (or a failure): release the file now
            header.image.close()

    extent = None
    if not header.decodes_upright and header.decode_scale > 1:
        # A DCT-scaled decode covers the source at 1/scale, its last row and column only
        # partly (the decoder rounds sizes up): the backend is told the exact extent.
        scale = header.decode_scale
        extent = (header.stored_size[0] / scale, header.stored_size[1] / scale)
    pending = 1 if header.decodes_upright else header.orientation
    pixels = transform(
        pixels,
        plan,
        pending,
        backend=settings.backend,
        interpolation=settings.interpolation,
        exact=settings.exact,
        pad_color=settings.pad_color,
        extent=extent,
    )
    pixels = codecs.output_pixels(pixels, job.format, settings.pad_color)
    result.pixel_sum, result.pixel_sumsq = pixelstats.channel_sums(pixels)
    data, mode = codecs.encode(pixels, job.format, settings.quality, icc, settings.pad_color)
    mask_data = None
    if paired is not None:
        mask_data = masks.render(
            paired, plan.resized, plan.window, settings.mask_pad, settings.mask_resampling
        )

    if before is not None:
        after = os.stat(source)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise codecs.ImageError("source changed while it was being read; run again")
    # The mask first, and taken back if the image cannot be written: a pair is both outputs or
    # none, and a failed mask leaves nothing in OUT, not even a folder.
    _write_mask(mask_data, job, settings, result)
    try:
        if settings.container != "files":  # packed into a shard by the parent
            result.staged = stage(settings.out, data, settings.storage_options)
        else:
            write_output(settings, job.output, data)
    except OSError as error:
        if result.mask_output is not None:
            with contextlib.suppress(OSError):
                (settings.masks_out / result.mask_output).unlink()
        raise _WriteFailed(error, settings.out, job.output, len(data)) from error

    result.output = job.output
    result.width, result.height = plan.output
    result.format, result.mode = job.format, mode
    result.bytes = len(data)
    result.sha256 = hashlib.sha256(data).hexdigest()
    _set_geometry(result, plan)


def write_output(settings: Settings, output: str, data: bytes) -> None:
    """Into OUT: a local file written atomically (temporary name, rename), or one whole-object
    write on an object store (no temporary object: readers see all of it or nothing)."""
    if is_url(settings.out):
        write_object(settings.out, settings.storage_options, output, data)
    else:
        write_atomic(settings.out / output, data)


def _write_mask(data: bytes | None, job: Job, settings: Settings, result: Result) -> None:
    if data is None:
        return
    result.mask_output = mask_name(job.output)
    try:
        write_atomic(settings.masks_out / result.mask_output, data)
    except OSError as error:
        what = (error, settings.masks_out, result.mask_output, len(data), "mask ")
        raise _WriteFailed(*what) from error
    result.mask_bytes = len(data)
    result.mask_sha256 = hashlib.sha256(data).hexdigest()


def plan_geometry(upright_size: tuple[int, int], settings: Settings) -> geometry.Geometry:
    return geometry.compute(
        upright_size,
        settings.sizing,
        settings.mode,
        settings.crop,
        settings.upscale,
        settings.rounding,
    )


def transform(
    pixels: codecs.Pixels,
    plan: geometry.Geometry,
    pending: int,
    *,
    backend: str,
    interpolation: str,
    exact: bool,
    pad_color: tuple[int, ...] | None,
    extent: tuple[float, float] | None = None,
) -> codecs.Pixels:
    """Decoded pixels (mode-normalised, EXIF orientation `pending` not yet applied) to the
    output pixels of `plan`. The one path from pixels to pixels, for the batch job and for
    `resizer.resize_image`, so both give the same output for the same image.

    --exact resizes the upright image, as the one-call resize it reproduces does. Otherwise the
    image is resized while still stored sideways and only the kept crop box, and only the small
    result is turned upright, which is cheaper. `extent` is the (width, height) the pixels really
    cover when a shrink-on-load decode rounded its last row and column up.
    """
    resizer = get_backend(backend)
    if exact:
        pixels = codecs.orient_image(pixels, pending)
        pixels = resizer.resize(pixels, plan.resized, interpolation, exact=True)
        window = plan.window
    else:
        keep = geometry.box_in_stored(plan.crop_box, plan.resized, pending)
        size = plan.resized
        if pending in (5, 6, 7, 8):
            size = (size[1], size[0])
        pixels = resizer.resize(pixels, size, interpolation, exact=False, extent=extent, keep=keep)
        pixels = codecs.orient_image(pixels, pending)
        left, top, _, _ = plan.crop_box
        window = geometry.shift(plan.window, -left, -top)
    if window != (0, 0, *codecs.size_of(pixels)):
        fill = pad_fill(codecs.mode_of(pixels), pad_color)
        pixels = resizer.window(pixels, window, fill)
    return pixels


def _set_geometry(result: Result, plan: geometry.Geometry) -> None:
    record = plan.as_record()
    result.resize = record["resize"]
    result.crop_box = record["crop_box"]
    result.pad_offset = record["pad_offset"]


def pad_fill(mode: str, pad_color: tuple[int, ...] | None) -> tuple[int, ...]:
    """The padding value in the image's own mode: transparent by default where there is alpha."""
    has_alpha = mode.startswith(("RGBA", "LA"))
    if pad_color is None:
        rgba = (0, 0, 0, 0 if has_alpha else 255)
    else:
        rgba = (*pad_color[:3], pad_color[3] if len(pad_color) > 3 else 255)
    peak = 257 if mode.endswith("16") else 1
    red, green, blue, alpha = (value * peak for value in rgba)
    if mode.startswith(("L", "I;16")):
        grey = (red * 299 + green * 587 + blue * 114 + 500) // 1000
        return (grey, alpha) if has_alpha else (grey,)
    return (red, green, blue, alpha) if has_alpha else (red, green, blue)


class _WriteFailed(Exception):
    """Writing an output failed: an error of OUT's side, told apart from reading the source."""

    def __init__(self, error: OSError, root: Path, relative: str, size: int, what: str = ""):
        super().__init__(str(error))
        self.error, self.root, self.relative, self.size, self.what = (
            error,
            root,
            relative,
            size,
            what,
        )


def _describe_read_error(error: OSError, job: Job) -> str:
    """The cause in words; the record already names the source, so no path (it may be absolute)."""
    if is_url(job.source):
        if isinstance(error, FileNotFoundError) and "bucket" not in str(error).lower():
            return "source vanished before it could be read"
        return f"cannot read the source: {store_cause(error)}"
    if isinstance(error, FileNotFoundError) and str(error.filename) == job.source:
        return "source vanished before it could be read"
    if error.errno is None:  # Pillow's errors about the content carry no errno
        return f"cannot decode: {error}"
    return f"cannot read the source: {faults.cause(error)}"


def _describe_exception(error: Exception) -> str:
    """A library's exception in words: OpenCV's carry its build path and line, which say
    nothing to a user, before the cause."""
    text = str(error).strip()
    if type(error).__module__.startswith("cv2"):
        match = OPENCV_MESSAGE.search(text)
        if match:
            code, cause, detail = match.groups()
            if code == OPENCV_NO_MEMORY:
                return f"{OUT_OF_MEMORY} (OpenCV: {detail.strip() or cause})"
            return f"OpenCV: {cause}" + (f": {detail.strip()}" if detail.strip() else "")
    return f"{type(error).__name__}: {text}"


def _without_paths(text: str, job: Job, settings: Settings) -> str:
    """No absolute path reaches the manifest: a message that quotes the source or OUT (a
    library's own message, say) names them as the manifest does."""
    if is_url(job.source) or is_url(settings.out):
        places = [(job.source, job.name), (shown(settings.out), "OUT")]
        if not is_url(settings.out):
            places.append((str(settings.out.resolve()), "OUT"))
    else:
        places = [
            (os.path.abspath(job.source), job.name),
            (job.source, job.name),
            (str(settings.out.resolve()), "OUT"),
            (str(settings.out), "OUT"),
        ]
    for path, name in places:
        if path and path not in (".", job.name):
            text = text.replace(path, name)
    return text
