"""The one frozen object that carries every option of a run.

Fields that change output pixels or bytes are marked `affects_output`; their fingerprint is stored
with every manifest record, so a re-run with different options redoes the images instead of
wrongly skipping them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path

from .geometry import Sizing

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "area")
BACKENDS = ("pillow", "opencv")
FORMATS = ("keep", "jpeg", "png", "webp", "tiff", "bmp", "gif")
DEFAULT_BACKEND = "pillow"
DEFAULT_QUALITY = 90
DEFAULT_TIMEOUT = 120.0  # seconds per image: generous, for a hung decoder only
# Pillow's own decompression-bomb limit (its default Image.MAX_IMAGE_PIXELS). A constant, because
# codecs switches Pillow's check off at import to apply this one from the header on both backends.
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
# Bumped when a change to resizer itself changes output bytes, so old outputs are redone.
OUTPUT_VERSION = 4


def _output(default=None, **kwargs):
    return field(default=default, metadata={"affects_output": True}, **kwargs)


def _mask_output(default=None):
    """An option of paired masks: part of the fingerprint only when masks are given, so runs
    without masks keep the fingerprint (and up-to-date outputs) they had."""
    return field(default=default, metadata={"affects_output": True, "masks": True})


@dataclass(frozen=True)
class Settings:
    sources: tuple[Path, ...]
    out: Path
    sizing: Sizing = _output()
    mode: str = _output("fit")
    crop: tuple[int, int] | None = _output()
    upscale: bool = _output(True)
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
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False
    manifest: Path | None = None
    jobs: int = 0  # worker processes; 0 = one per usable core
    progress: bool | None = None
    verbosity: int = 0
    dry_run: bool = False
    fail_fast: bool = False
    force: bool = False
    timeout: float = DEFAULT_TIMEOUT
    wait: bool = False
    json: bool = False

    @property
    def manifest_path(self) -> Path:
        return self.manifest if self.manifest is not None else self.out / "manifest.jsonl"

    @property
    def masks_out(self) -> Path:
        """Where paired masks are written: --masks-output, else `OUT-masks` beside OUT."""
        if self.masks_output is not None:
            return self.masks_output
        out = self.out.absolute()
        return out.with_name(out.name + "-masks")

    def output_options(self) -> dict:
        """The options that decide output bytes, as plain JSON-able values."""
        options = {"output_version": OUTPUT_VERSION}
        for item in fields(self):
            if item.metadata.get("masks") and self.masks is None:
                continue
            if item.metadata.get("affects_output"):
                options[item.name] = _plain(getattr(self, item.name))
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
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value
