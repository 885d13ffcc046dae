"""Where a point of a source image lands in its output: the geometry of one manifest record.

Coordinates are continuous: pixel (i, j) covers [i, i+1) x [j, j+1) and its centre is
(i + 0.5, j + 0.5); an image of width W spans [0, W]. This is how both backends resample, so a
box edge that lies on a pixel boundary of the source lies on the scaled boundary in the output.
Annotations are either in the *upright* frame (the image as shown after its EXIF orientation) or
in the *stored* frame (the pixels as the file stores them, before the turn).
"""

from __future__ import annotations

from dataclasses import dataclass

FRAMES = ("upright", "stored")
GEOMETRY_FIELDS = (
    "src_width", "src_height", "orientation", "resize", "crop_box", "pad_offset",
    "width", "height",
)  # fmt: skip


class LabelError(Exception):
    """An annotation cannot be mapped (no geometry for its image, sizes that disagree)."""


@dataclass(frozen=True)
class Transform:
    """The mapping of one image, read from its manifest record."""

    upright: tuple[int, int]  # source size after the EXIF turn (src_width, src_height)
    orientation: int  # EXIF orientation 1-8 that resizer applied
    resize: tuple[int, int]  # size the upright source was resized to
    crop_box: tuple[int, int, int, int]  # kept part of the resized image
    pad_offset: tuple[int, int]  # where that part sits in the output
    output: tuple[int, int]  # output (width, height)

    @classmethod
    def from_record(cls, record: dict) -> Transform:
        """The transform of a manifest record; LabelError when it has no geometry (a failed
        or pending image has no output to map into)."""
        missing = [name for name in GEOMETRY_FIELDS if record.get(name) is None]
        if missing:
            status = record.get("status")
            reason = f" ({record['error']})" if record.get("error") else ""
            raise LabelError(
                f"{record.get('source')}: no output geometry in the manifest (status "
                f"{status}{reason})"
            )
        return cls(
            upright=(int(record["src_width"]), int(record["src_height"])),
            orientation=int(record["orientation"]),
            resize=tuple(int(v) for v in record["resize"]),
            crop_box=tuple(int(v) for v in record["crop_box"]),
            pad_offset=tuple(int(v) for v in record["pad_offset"]),
            output=(int(record["width"]), int(record["height"])),
        )

    @property
    def stored(self) -> tuple[int, int]:
        """Source size as the file stores it (sides swapped for orientations 5-8)."""
        width, height = self.upright
        return (height, width) if self.orientation in (5, 6, 7, 8) else (width, height)

    def frame_size(self, frame: str) -> tuple[int, int]:
        return self.stored if frame == "stored" else self.upright

    @property
    def scale(self) -> tuple[float, float]:
        """Output pixels per upright source pixel, per axis."""
        return self.resize[0] / self.upright[0], self.resize[1] / self.upright[1]

    @property
    def window(self) -> tuple[int, int, int, int]:
        """The output canvas in resized-image coordinates (reaches outside where padded)."""
        left = self.crop_box[0] - self.pad_offset[0]
        top = self.crop_box[1] - self.pad_offset[1]
        return left, top, left + self.output[0], top + self.output[1]

    @property
    def content(self) -> tuple[int, int, int, int]:
        """The part of the output that shows source pixels (the rest is padding)."""
        left, top, right, bottom = self.crop_box
        dx, dy = self.pad_offset[0] - left, self.pad_offset[1] - top
        return left + dx, top + dy, right + dx, bottom + dy

    def upright_point(self, x: float, y: float, frame: str = "upright") -> tuple[float, float]:
        """A point of the stored frame in the upright frame (identity for frame="upright")."""
        if frame == "upright":
            return x, y
        width, height = self.stored
        return to_upright(x, y, width, height, self.orientation)

    def point(self, x: float, y: float, frame: str = "upright") -> tuple[float, float]:
        """Map a source point to the output (not clipped)."""
        x, y = self.upright_point(x, y, frame)
        sx, sy = self.scale
        left, top, _, _ = self.window
        return x * sx - left, y * sy - top

    def box(
        self, box: tuple[float, float, float, float], frame: str = "upright"
    ) -> tuple[float, float, float, float]:
        """Map a source box (left, top, right, bottom) to the output (not clipped)."""
        left, top, right, bottom = box
        first = self.point(left, top, frame)
        second = self.point(right, bottom, frame)
        return (
            min(first[0], second[0]),
            min(first[1], second[1]),
            max(first[0], second[0]),
            max(first[1], second[1]),
        )


def to_upright(x: float, y: float, width: float, height: float, orientation: int):
    """A point of an image stored `width` x `height` under `orientation`, after the EXIF turn
    (the turn Pillow's ImageOps.exif_transpose makes)."""
    if orientation == 2:
        return width - x, y
    if orientation == 3:
        return width - x, height - y
    if orientation == 4:
        return x, height - y
    if orientation == 5:
        return y, x
    if orientation == 6:
        return height - y, x
    if orientation == 7:
        return height - y, width - x
    if orientation == 8:
        return y, width - x
    return x, y


def map_point(record: dict, x: float, y: float, frame: str = "upright") -> tuple[float, float]:
    """Where source point (x, y) lands in the output described by manifest `record`.

    `frame` says whether (x, y) is in the upright image (as shown) or as stored in the file.
    The result may lie outside the output (cropped away); see `clip_box` for boxes.
    """
    return Transform.from_record(record).point(x, y, frame)


def map_box(
    record: dict, box: tuple[float, float, float, float], frame: str = "upright"
) -> tuple[float, float, float, float]:
    """Where source box (left, top, right, bottom) lands in the output (not clipped)."""
    return Transform.from_record(record).box(box, frame)


def clip_box(
    box: tuple[float, float, float, float], bounds: tuple[float, float, float, float]
) -> tuple[float, float, float, float] | None:
    """The part of `box` inside `bounds`, or None when nothing (of positive area) is left."""
    left, top = max(box[0], bounds[0]), max(box[1], bounds[1])
    right, bottom = min(box[2], bounds[2]), min(box[3], bounds[3])
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


def box_area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def clip_polygon(
    points: list[tuple[float, float]], bounds: tuple[float, float, float, float]
) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: the polygon cut to the rectangle `bounds` (empty when outside)."""
    left, top, right, bottom = bounds
    edges = (
        (lambda p: p[0] >= left, lambda a, b: _at_x(a, b, left)),
        (lambda p: p[0] <= right, lambda a, b: _at_x(a, b, right)),
        (lambda p: p[1] >= top, lambda a, b: _at_y(a, b, top)),
        (lambda p: p[1] <= bottom, lambda a, b: _at_y(a, b, bottom)),
    )
    for inside, cross in edges:
        if not points:
            break
        kept: list[tuple[float, float]] = []
        previous = points[-1]
        for current in points:
            if inside(current):
                if not inside(previous):
                    kept.append(cross(previous, current))
                kept.append(current)
            elif inside(previous):
                kept.append(cross(previous, current))
            previous = current
        points = kept
    return points


def _at_x(a, b, x):
    t = (x - a[0]) / (b[0] - a[0])
    return x, a[1] + t * (b[1] - a[1])


def _at_y(a, b, y):
    t = (y - a[1]) / (b[1] - a[1])
    return a[0] + t * (b[0] - a[0]), y


def polygon_area(points: list[tuple[float, float]]) -> float:
    """Absolute area by the shoelace formula."""
    total = 0.0
    for index, (x0, y0) in enumerate(points):
        x1, y1 = points[(index + 1) % len(points)]
        total += x0 * y1 - x1 * y0
    return abs(total) / 2
