"""What is benchmarked: the two standard jobs, their targets, the corpus, and the run context.

The corpus is any folder of images (see bench/README.md for the 400-photo one); it is found by
the same rules as resizer's own walk, so that every tool sees the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from bench.peers import ToolRun

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
JPEG_FORMATS = ("JPEG", "MPO")


@dataclass(frozen=True)
class BenchJob:
    """One standard job: the same work asked of every tool."""

    name: str
    width: int
    height: int
    mode: str  # fit | fill

    def resizer_options(self, fmt: str = "jpeg") -> list[str]:
        return [
            "--size", f"{self.width}x{self.height}", "--mode", self.mode,
            "--interpolation", "lanczos", "--format", fmt, "--quality", "90",
        ]  # fmt: skip

    def vips_options(self, out: Path) -> list[str]:
        options = ["--size", f"{self.width}x{self.height}"]
        if self.mode == "fill":
            options += ["--smartcrop", "centre"]
        return [*options, "-o", f"{out}/%s.jpg[Q=90]"]

    def magick_options(self, out: Path, size_hint: bool) -> list[str]:
        options = ["-path", str(out), "-format", "jpg"]
        if size_hint:  # ImageMagick's shrink-on-load: DCT scaling to at least 2x the target
            options += ["-define", f"jpeg:size={2 * self.width}x{2 * self.height}"]
        options += ["-auto-orient", "-filter", "Lanczos"]
        box = f"{self.width}x{self.height}"
        if self.mode == "fill":
            options += ["-resize", f"{box}^", "-gravity", "center", "-extent", box]
        else:
            options += ["-resize", box]
        return [*options, "-quality", "90"]


JOBS = {
    "fit-512": BenchJob("fit-512", 512, 512, "fit"),
    "fill-224": BenchJob("fill-224", 224, 224, "fill"),
}

TARGET_VS_VIPS = 1.3
TARGET_VS_FLOOR = 0.70
ENCODER_ROW = "JPEG q90 alone"  # quality row: --exact JPEG output vs --exact PNG output
TARGET_PSNR = 40.0
TARGET_SSIM = 0.99
TARGET_BIG_RSS_MB = 300
TARGET_NOOP_S = 1.5  # over the 400-image corpus
TARGET_NOOP_TREE_S = 15.0  # over 100,000 files


@dataclass(frozen=True)
class SourceImage:
    path: Path  # absolute path of the corpus file
    name: str  # POSIX path relative to the corpus root
    format: str
    width: int  # stored size
    height: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def find_images(corpus: Path) -> tuple[list[SourceImage], int]:
    """Every image file under `corpus`, found by the same rules as resizer's walk, and the
    number of image-named files Pillow cannot open (left out)."""
    found, unreadable = [], 0
    for folder, dirs, names in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            path = Path(folder, name).resolve()
            try:
                with Image.open(path) as image:
                    fmt, (width, height) = image.format or "", image.size
            except OSError:
                unreadable += 1  # every tool would fail it: leave it out of the timings
                continue
            name_in_corpus = Path(folder, name).relative_to(corpus).as_posix()
            found.append(SourceImage(path, name_in_corpus, fmt, width, height))
    return sorted(found, key=lambda image: image.name), unreadable


def spread(items: list, count: int) -> list:
    """`count` items evenly spaced over `items`, so a small sample still has every kind."""
    if count >= len(items):
        return list(items)
    return [items[index * len(items) // count] for index in range(count)]


def link_tree(images: list[SourceImage], root: Path) -> Path:
    """A folder of symbolic links mirroring the corpus layout, for a subset of the images."""
    shutil.rmtree(root, ignore_errors=True)
    for image in images:
        link = root / image.name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(image.path)
    return root


def warm_cache(images: list[SourceImage]) -> None:
    """Read every file once so the first tool does not pay for a cold page cache."""
    for image in images:
        with open(image.path, "rb") as handle:
            while handle.read(1 << 22):
                pass


@dataclass
class Context:
    corpus: Path
    work: Path
    cores: int
    images: list[SourceImage]
    input_dir: Path
    resizer: str
    mogrify: str | None
    skip_peers: bool
    repeat: int
    skip_magick: bool = False
    other_resizers: dict[str, str] = field(default_factory=dict)  # label -> executable
    notes: list[str] = field(default_factory=list)
    floor_details: dict = field(default_factory=dict)

    @property
    def megapixels(self) -> float:
        return sum(image.megapixels for image in self.images)


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def best(runs: list[ToolRun]) -> ToolRun:
    return min(runs, key=lambda run: run.measurement.wall)


def output_folder(ctx: Context, job: BenchJob, tool: str) -> Path:
    """A plain folder name per tool: ImageMagick reads `name:` in a path as a format prefix."""
    slug = "".join(char if char.isalnum() else "-" for char in tool).strip("-")
    return ctx.work / "out" / job.name / slug


def read_manifest(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def package_state() -> str:
    """A hash of the installed package's source, to notice a package that changes mid-run."""
    spec = find_spec("resizer")
    if spec is None or not spec.submodule_search_locations:
        return "?"
    root = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]
