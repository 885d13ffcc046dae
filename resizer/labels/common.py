"""What the three annotation formats share: finding an image's manifest record, deciding which
frame (upright or stored) its annotations use, judging clipped labels, and counting."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..manifest import read_manifest
from .transform import (
    LabelError,
    Transform,
    box_area,
    clip_box,
    clip_polygon,
    polygon_area,
)

# A coordinate this close to an image edge counts as on it (float noise of annotation tools).
EPSILON = 1e-6


class UsageProblem(Exception):
    """Options and inputs that cannot make a correct result: exit 2, nothing written."""


@dataclass(frozen=True)
class Options:
    frame: str | None = None  # --labels-orientation: upright | stored | None (not given)
    min_visibility: float = 0.0  # drop labels with a smaller visible fraction
    min_size: float = 0.0  # drop labels narrower or lower than this, in output pixels


@dataclass
class Summary:
    """What happened to the labels: the counts a user checks before training on the result."""

    images: int = 0  # images (COCO) or label files (YOLO, VOC) rewritten
    kept: int = 0  # labels written (including clipped ones)
    clipped: int = 0  # labels written cut to the output
    dropped: int = 0  # labels removed: cut away, or below --min-visibility / --min-size
    out_of_range: int = 0  # labels whose input reached outside their image (clipped to it)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, cause) not rewritten

    def as_dict(self) -> dict:
        return {
            "images": self.images,
            "kept": self.kept,
            "clipped": self.clipped,
            "dropped": self.dropped,
            "out_of_range": self.out_of_range,
            "failed": [{"name": name, "error": error} for name, error in self.failed],
        }

    def line(self) -> str:
        return (
            f"resizer labels: {self.images} images, {self.kept} labels kept "
            f"({self.clipped} clipped), {self.dropped} dropped, {self.out_of_range} out of "
            f"range in the input, {len(self.failed)} failed"
        )


def load_records(manifest: Path) -> dict[str, dict]:
    """Manifest records by source; `manifest` may be the OUT folder of the run."""
    path = manifest / "manifest.jsonl" if manifest.is_dir() else manifest
    if not path.is_file():
        raise UsageProblem(f"manifest {str(path)!r} does not exist")
    try:
        return read_manifest(path)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageProblem(f"cannot read manifest {str(path)!r}: {error}") from None


def records_by_stem(records: dict[str, dict]) -> dict[str, list[dict]]:
    """Records keyed by source path without its extension: how YOLO and VOC files pair with
    their images (`labels/cat/001.txt` with `images/cat/001.jpg`)."""
    stems: dict[str, list[dict]] = {}
    for source, record in records.items():
        stems.setdefault(str(PurePosixPath(source).with_suffix("")), []).append(record)
    return stems


def record_for_stem(stems: dict[str, list[dict]], stem: str) -> dict:
    found = stems.get(stem, [])
    if not found:
        raise LabelError("no image with this name in the manifest")
    if len(found) > 1:
        names = ", ".join(sorted(record["source"] for record in found))
        raise LabelError(f"several images share this name ({names})")
    return found[0]


def decide_frame(
    transform: Transform, recorded: tuple[int, int] | None, options: Options
) -> str | None:
    """Which frame an image's annotations use, or None when only --labels-orientation can say.

    Orientation 1 has one frame. For 5-8 on a non-square image the size recorded with the
    annotations says it; a recorded size that is neither the stored nor the upright size means
    the annotations belong to another image (LabelError).
    """
    upright, stored = transform.upright, transform.stored
    if recorded is not None and recorded not in (upright, stored):
        raise LabelError(
            f"annotations are for a {recorded[0]}x{recorded[1]} image, but the source is "
            f"{stored[0]}x{stored[1]} as stored ({upright[0]}x{upright[1]} upright)"
        )
    if transform.orientation == 1:
        return "upright"
    if recorded is not None and upright != stored:
        return "upright" if recorded == upright else "stored"
    return options.frame


def undecided_error(names: list[str]) -> UsageProblem:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return UsageProblem(
        f"{len(names)} image(s) have an EXIF orientation that the annotations do not reveal "
        f"({shown}); say whether the labels were drawn on the upright image (as viewers show "
        "it) or on the stored pixels: --labels-orientation upright|stored"
    )


class Judge:
    """Maps one image's labels and decides, label by label, what is kept."""

    def __init__(self, transform: Transform, frame: str, options: Options, summary: Summary):
        self.transform = transform
        self.frame = frame
        self.options = options
        self.summary = summary
        width, height = transform.frame_size(frame)
        self.source_bounds = (0.0, 0.0, float(width), float(height))
        self.content = tuple(float(v) for v in transform.content)

    def inside_source(self, points: list[tuple[float, float]]) -> bool:
        left, top, right, bottom = self.source_bounds
        return all(
            left - EPSILON <= x <= right + EPSILON and top - EPSILON <= y <= bottom + EPSILON
            for x, y in points
        )

    def box(self, box: tuple[float, float, float, float]):
        """(output box or None, visible fraction, input was out of range) for a source box."""
        out_of_range = not self.inside_source([box[:2], box[2:]])
        if out_of_range:
            box = clip_box(box, self.source_bounds) or _collapse(box, self.source_bounds)
        mapped = self.transform.box(box, self.frame)
        full = box_area(mapped)
        visible = clip_box(mapped, self.content)
        if full == 0:  # a degenerate (line or point) box: kept where it lies in the output
            inside = _collapse(mapped, self.content) == mapped
            return (mapped if inside else None), (1.0 if inside else 0.0), out_of_range
        return visible, (box_area(visible) / full if visible else 0.0), out_of_range

    def polygon(self, points: list[tuple[float, float]]):
        """(output polygon, its area, the area of the whole mapped polygon, out of range)."""
        out_of_range = not self.inside_source(points)
        if out_of_range:
            points = clip_polygon(points, self.source_bounds)
        mapped = [self.transform.point(x, y, self.frame) for x, y in points]
        visible = clip_polygon(mapped, self.content)
        if len(visible) < 3:
            visible = []
        area = polygon_area(visible) if visible else 0.0
        return visible, area, polygon_area(mapped) if len(mapped) >= 3 else 0.0, out_of_range

    def point(self, x: float, y: float) -> tuple[float, float] | None:
        """The output point, or None when it was cut away (or lay outside its image)."""
        if not self.inside_source([(x, y)]):
            return None
        x, y = self.transform.point(x, y, self.frame)
        left, top, right, bottom = self.content
        inside = left - EPSILON <= x <= right + EPSILON and top - EPSILON <= y <= bottom + EPSILON
        return (x, y) if inside else None

    def keeps(self, visibility: float, box: tuple[float, float, float, float] | None) -> bool:
        """Whether a label with this visible fraction and visible box survives the options."""
        if box is None or visibility <= 0 or visibility < self.options.min_visibility:
            return False
        width, height = box[2] - box[0], box[3] - box[1]
        return min(width, height) >= self.options.min_size

    def count(self, kept: bool, clipped: bool, out_of_range: bool) -> None:
        self.summary.out_of_range += out_of_range
        if not kept:
            self.summary.dropped += 1
            return
        self.summary.kept += 1
        self.summary.clipped += clipped


def _collapse(box, bounds):
    """`box` clamped into `bounds` (it may become a line or a point)."""

    def clamp(value, low, high):
        return min(max(value, low), high)

    return (
        clamp(box[0], bounds[0], bounds[2]),
        clamp(box[1], bounds[1], bounds[3]),
        clamp(box[2], bounds[0], bounds[2]),
        clamp(box[3], bounds[1], bounds[3]),
    )


def bounding_box(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return min(xs), min(ys), max(xs), max(ys)


def tidy(value: float, places: int = 3) -> float | int:
    """A coordinate rounded for writing: integers stay integers."""
    rounded = round(value, places)
    return int(rounded) if rounded == int(rounded) else rounded
