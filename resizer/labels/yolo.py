"""YOLO txt: one label per line, `class cx cy w h` normalised to the image size (detect),
`class x1 y1 x2 y2 ...` (segment) or `class cx cy w h` plus keypoints (pose). YOLO files do
not record the image size, so the frame of an EXIF-turned image is never revealed by the file.
"""

from __future__ import annotations

from .common import Judge, bounding_box
from .transform import LabelError

TASKS = ("detect", "segment", "pose")


def rewrite(text: str, judge: Judge, task: str = "detect", kpt_dims: int = 3) -> str:
    """The label file in output coordinates. Lines that are not labels (blank, comments) stay;
    columns after the ones the task defines stay as they are."""
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            lines.append(line)
            continue
        try:
            mapped = _line(tokens, judge, task, kpt_dims)
        except ValueError as error:
            raise LabelError(f"line {number}: {error}") from None
        if mapped is not None:
            lines.append(mapped)
    return "".join(line + "\n" for line in lines)


def _line(tokens: list[str], judge: Judge, task: str, kpt_dims: int) -> str | None:
    width, height = judge.transform.frame_size(judge.frame)
    out_width, out_height = judge.transform.output
    values = [float(token) for token in tokens[1:]]
    if task == "segment":
        if len(values) < 6 or len(values) % 2:
            raise ValueError("a segment needs class and at least three x y pairs")
        points = [(x * width, y * height) for x, y in zip(values[0::2], values[1::2], strict=True)]
        visible, area, whole, outside = judge.polygon(points)
        visibility = area / whole if whole else 0.0
        box = bounding_box(visible) if visible else None
        kept = judge.keeps(visibility, box)
        judge.count(kept, visibility < 1, outside)
        if not kept:
            return None
        new = [v for x, y in visible for v in (x / out_width, y / out_height)]
        return " ".join([tokens[0], *(_number(v) for v in new)])

    if len(values) < 4:
        raise ValueError("a box needs class cx cy w h")
    cx, cy, w, h = values[:4]
    box = ((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
    visible, visibility, outside = judge.box(box)
    clipped = visibility < 1
    rest = tokens[5:]
    if task == "pose":
        if len(values[4:]) % kpt_dims:
            raise ValueError(f"keypoints need {kpt_dims} values each")
        rest, cut = _keypoints(values[4:], judge, kpt_dims, width, height)
        clipped |= cut
    kept = judge.keeps(visibility, visible)
    judge.count(kept, clipped, outside)
    if not kept:
        return None
    left, top, right, bottom = visible
    new = (
        (left + right) / 2 / out_width,
        (top + bottom) / 2 / out_height,
        (right - left) / out_width,
        (bottom - top) / out_height,
    )
    # Values that did not change keep their text, so an unchanged label stays byte-identical.
    written = [
        token if abs(float(token) - value) <= 1e-9 else _number(value)
        for token, value in zip(tokens[1:5], new, strict=True)
    ]
    return " ".join([tokens[0], *written, *rest])


def _keypoints(values, judge: Judge, dims: int, width: int, height: int):
    out_width, out_height = judge.transform.output
    tokens, cut = [], False
    for index in range(0, len(values), dims):
        x, y = values[index], values[index + 1]
        visibility = values[index + 2] if dims == 3 else 1.0
        if visibility == 0 or (dims == 2 and x == 0 and y == 0):
            point = (x, y, *values[index + 2 : index + dims])
            tokens += [_number(v) for v in point]
            continue
        mapped = judge.point(x * width, y * height)
        if mapped is None:
            cut = True
            tokens += ["0"] * dims
            continue
        tokens += [_number(mapped[0] / out_width), _number(mapped[1] / out_height)]
        if dims == 3:
            tokens.append(_number(visibility))
    return tokens, cut


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
