"""The Python API: `resize` is the `resizer resize` command as a function, `resize_image` the same
pixels for one image in memory. Both take the command's options as keywords and validate them
the same way, before anything is read or written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .manifest import read_manifest
from .options import make_settings, pixel_options
from .plan import Plan
from .report import Report
from .run import resize as run_settings
from .settings import DEFAULT_MAX_PIXELS, Settings

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

PathLike = str | os.PathLike
Size = str | int | tuple[int | None, int | None]


@dataclass
class ResizeResult:
    """What a run did. `exit_code` is the command's exit status (0 ok, 1 some image failed or
    the run stopped early, 130/143 stopped by a signal); failures are records, not exceptions."""

    ok: int
    skipped: int  # up to date from an earlier run
    failed: int
    ignored: int  # non-image files
    removed: int  # earlier outputs that no source stands for any more
    exit_code: int
    stopped_by: str | None
    manifest: Path | str | None  # None for a dry run; a str is an object store's URL
    settings: Settings
    run_record: dict = field(default_factory=dict)
    plan: Plan | None = field(default=None, repr=False)  # a dry run's plan
    report: Report | None = field(default=None, repr=False)

    @property
    def records(self) -> list[dict]:
        """Every manifest record (one per source image, sorted by source), read from the
        manifest on each access; empty for a dry run."""
        if self.manifest is None:
            return []
        records = read_manifest(self.manifest, self.settings.storage_options)
        return [records[source] for source in sorted(records)]

    @property
    def to_do(self) -> list[dict]:
        """For a dry run: `{"source", "output"}` of each image a real run would process; empty
        for a real run."""
        if self.plan is None:
            return []
        return [{"source": job.name, "output": job.output} for job in self.plan.jobs]


def resize(
    sources: PathLike | Iterable[PathLike],
    out: PathLike,
    *,
    size: Size | None = None,
    shorter: int | None = None,
    longer: int | None = None,
    scale: float | str | Fraction | None = None,
    recipe: str | None = None,
    mode: str | None = None,
    crop: Size | None = None,
    upscale: bool | None = None,
    rounding: str | None = None,
    interpolation: str | None = None,
    backend: str | None = None,
    exact: bool | None = None,
    format: str | None = None,
    keep_extension: bool = False,
    quality: int | None = None,
    pad_color: str | tuple[int, ...] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    masks: PathLike | None = None,
    masks_output: PathLike | None = None,
    mask_pad: int = 0,
    mask_resampling: str = "nearest",
    container: str = "files",
    shard_size: int | str = 1000,
    include: Iterable[str] | str = (),
    exclude: Iterable[str] | str = (),
    follow_symlinks: bool = False,
    manifest: PathLike | None = None,
    jobs: int | None = None,
    progress: bool | None = None,
    verbose: int = 0,
    quiet: bool = False,
    dry_run: bool = False,
    fail_fast: bool = False,
    force: bool = False,
    timeout: float | None = None,
    wait: bool = False,
    preview: PathLike | None = None,
    preview_count: int = 8,
    preview_seed: int = 0,
    storage_options: Mapping[str, str] | Iterable[str] | None = None,
) -> ResizeResult:
    """Resize every image under `sources` into `out`, mirroring the folder tree, and write the
    manifest: `resizer resize SRC... -o OUT [options]` as a function.

    Each keyword is the command's option of the same name (`pad_color` is `--pad-color`), with
    the same meaning and defaults (None: the option's default, or the recipe's value): see
    `resizer resize --help` and the README. Give exactly one of `size`, `shorter`, `longer`,
    `scale`, or a `recipe`. Sizes are width x height: "224x224", (224, 224), "640" or 640 (width
    only), "x480" or (None, 480) (height only). Paths are str or Path; `sources` is one path or
    a list. `out` naming an image file (`"small.jpg"`) with one source file writes that file.
    Sources, `out` and `manifest` may be object-store URLs (`"s3://bucket/prefix"`), with
    `storage_options` for fsspec (`{"endpoint_url": "http://127.0.0.1:9000"}`; never
    credentials: those come from the environment or fsspec's configuration).
    `max_pixels=None` lifts the decompression-bomb limit. `container="webdataset"` writes tar
    shards of `shard_size` samples (an int) or bytes (`"500MB"`) instead of a tree.

    Raises ValueError (resizer.OptionError) for a bad option and resizer.PlanError for inputs
    that cannot make a correct run (OUT inside a SRC, two inputs writing one output), both
    before anything is written; resizer.OutError when OUT (or the masks or manifest folder)
    cannot be written, resizer.BusyError when another run holds OUT. A bad image is not an
    exception: it is a failed record, and `exit_code` is 1.

    Safe to call from a script without an `if __name__ == "__main__":` guard, from stdin and
    from Jupyter: worker processes never re-run the calling script.
    """
    settings = make_settings(
        sources,
        out,
        size=size,
        shorter=shorter,
        longer=longer,
        scale=scale,
        recipe=recipe,
        mode=mode,
        crop=crop,
        upscale=upscale,
        rounding=rounding,
        interpolation=interpolation,
        backend=backend,
        exact=exact,
        format=format,
        keep_extension=keep_extension,
        quality=quality,
        pad_color=pad_color,
        max_pixels=max_pixels,
        masks=masks,
        masks_output=masks_output,
        mask_pad=mask_pad,
        mask_resampling=mask_resampling,
        container=container,
        shard_size=shard_size,
        include=include,
        exclude=exclude,
        follow_symlinks=follow_symlinks,
        manifest=manifest,
        jobs=jobs,
        progress=progress,
        verbose=verbose,
        quiet=quiet,
        dry_run=dry_run,
        fail_fast=fail_fast,
        force=force,
        timeout=timeout,
        wait=wait,
        preview=preview,
        preview_count=preview_count,
        preview_seed=preview_seed,
        storage_options=storage_options,
    )
    return run(settings)


def run(settings: Settings) -> ResizeResult:
    """Run validated Settings (the command's path) and describe the outcome."""
    outcome = run_settings(settings)
    report = outcome.report
    return ResizeResult(
        ok=report.ok,
        skipped=report.skipped,
        failed=report.failed,
        ignored=report.ignored,
        removed=report.removed,
        exit_code=report.exit_code,
        stopped_by=report.stopped_by,
        manifest=None if settings.dry_run else settings.manifest_path,
        settings=settings,
        run_record=outcome.run_record,
        plan=outcome.plan if settings.dry_run else None,  # a real run's plan is spent
        report=report,
    )


@dataclass(frozen=True)
class ResizedImage:
    """`resize_image`'s output pixels and their geometry (the manifest's fields)."""

    image: Any  # PIL.Image.Image for a PIL input, numpy.ndarray for an array input
    resize: tuple[int, int]  # (w, h) the upright source was resized to
    crop_box: tuple[int, int, int, int]  # kept from the resized image
    pad_offset: tuple[int, int]  # where that crop sits in the output
    orientation: int  # the EXIF orientation that was applied (1 = none)


def resize_image(
    image: Image.Image | np.ndarray,
    size: Size | None = None,
    *,
    shorter: int | None = None,
    longer: int | None = None,
    scale: float | str | Fraction | None = None,
    recipe: str | None = None,
    mode: str | None = None,
    crop: Size | None = None,
    upscale: bool | None = None,
    rounding: str | None = None,
    interpolation: str | None = None,
    backend: str | None = None,
    exact: bool | None = None,
    pad_color: str | tuple[int, ...] | None = None,
) -> ResizedImage:
    """One image in memory, for preprocessing at inference time: the pixels `resize` would
    encode for this image, with the same options, validation, kernels and geometry.

    `image` is a PIL image or a numpy array: H x W or H x W x C, uint8 or uint16, channels in
    RGB(A) order (OpenCV's BGR must be converted first: `cv2.cvtColor(a, cv2.COLOR_BGR2RGB)`);
    H x W x 2 is grey with alpha (uint8 only). The result is of the same kind. Modes are
    normalised as the batch job does (palette and 1-bit images become RGB(A) and L). A PIL image
    carrying an EXIF orientation (as `Image.open` gives it) is turned upright, as the batch job
    does; one already turned with `ImageOps.exif_transpose` carries none.

    Equal to the batch output written as PNG whenever the batch job decodes the whole file:
    always for PNG, WebP, TIFF, BMP and GIF sources, and for JPEGs with `exact=True` or under 4x
    the target size; a larger JPEG is decoded shrunk by the batch job (visually equal, not
    bit-equal) unless `exact`.
    """
    from . import codecs
    from .process import transform

    options = pixel_options(
        {
            "size": size,
            "shorter": shorter,
            "longer": longer,
            "scale": scale,
            "recipe": recipe,
            "mode": mode,
            "crop": crop,
            "upscale": upscale,
            "rounding": rounding,
            "interpolation": interpolation,
            "backend": backend,
            "exact": exact,
            "pad_color": pad_color,
        }
    )
    pixels, pending, orientation, as_array = _to_pixels(image)
    stored = codecs.size_of(pixels)
    upright = (stored[1], stored[0]) if pending in (5, 6, 7, 8) else stored
    from .geometry import compute

    plan = compute(
        upright,
        options["sizing"],
        options["mode"],
        options["crop"],
        options["upscale"],
        options["rounding"],
    )
    result = transform(
        pixels,
        plan,
        pending,
        backend=options["backend"],
        interpolation=options["interpolation"],
        exact=options["exact"],
        pad_color=options["pad_color"],
    )
    return ResizedImage(
        image=_as_array(result) if as_array else _as_pil(result),
        resize=plan.resized,
        crop_box=plan.crop_box,
        pad_offset=plan.pad_offset,
        orientation=orientation,
    )


def _to_pixels(image) -> tuple[Any, int, int, bool]:
    """(pixels as the batch job holds them after decoding, the EXIF orientation still to apply,
    the EXIF orientation, given as an array)."""
    import numpy as np
    from PIL import Image

    from . import codecs

    if isinstance(image, Image.Image):
        before = codecs.exif_orientation(image)
        image.load()  # a PNG's EXIF may come after its pixels
        orientation = pending = codecs.exif_orientation(image)
        if image.format == "TIFF" and before != 1 and orientation == 1:
            orientation, pending = before, 1  # Pillow's TIFF reader turned it as it loaded
        pixels, _ = codecs.normal_mode(image, image.info.get("icc_profile"))
        return pixels, pending, orientation, False
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a PIL image or a numpy array, not {type(image).__name__}")
    array = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
    shape = "x".join(str(n) for n in image.shape)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise ValueError(f"image array of shape {shape}: give H x W or H x W x 1, 2, 3 or 4")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"image array of shape {shape} has no pixels")
    if array.dtype == np.uint8:
        return Image.fromarray(np.ascontiguousarray(array)), 1, 1, True
    if array.dtype == np.uint16:
        if array.ndim == 2:
            return codecs.grey16_image(array), 1, 1, True
        if array.shape[2] == 2:
            raise ValueError("16-bit grey with alpha is not supported: give uint8, or RGBA")
        return np.ascontiguousarray(array), 1, 1, True
    raise ValueError(f"image array of dtype {array.dtype}: give uint8 or uint16")


def _as_array(pixels):
    import numpy as np

    if isinstance(pixels, np.ndarray):
        return pixels
    if pixels.mode == "I;16":
        return np.asarray(pixels, dtype=np.uint16)
    return np.asarray(pixels)


def _as_pil(pixels):
    import numpy as np
    from PIL import Image

    from . import codecs

    if not isinstance(pixels, np.ndarray):
        return pixels
    if pixels.dtype == np.uint16:
        return codecs.grey16_image(pixels)
    return Image.fromarray(pixels)
