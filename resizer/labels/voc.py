"""Pascal VOC XML: `<size>` and `<object><bndbox>` (also the boxes of `<part>`s), with VOC's
1-based inclusive pixel indices: xmin=1, xmax=W spans the whole width, i.e. the continuous box
[xmin - 1, xmax]. Written back as integers, as VOC tools expect. Other elements stay."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from .common import Judge, Options, decide_frame
from .transform import LabelError, Transform


def parse(data: bytes) -> ET.ElementTree:
    try:
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        return ET.ElementTree(ET.fromstring(data, parser=parser))
    except ET.ParseError as error:
        raise LabelError(f"not valid XML: {error}") from None


def recorded_size(tree: ET.ElementTree) -> tuple[int, int] | None:
    width, height = tree.findtext("size/width"), tree.findtext("size/height")
    try:
        size = (int(float(width)), int(float(height)))
    except (TypeError, ValueError):
        return None
    return size if size[0] > 0 and size[1] > 0 else None


def frame_of(tree: ET.ElementTree, transform: Transform, options: Options) -> str | None:
    return decide_frame(transform, recorded_size(tree), options)


def rewrite(tree: ET.ElementTree, judge: Judge, output_name: str) -> bytes:
    """The document in output pixels, as bytes."""
    root = tree.getroot()
    width, height = judge.transform.output
    size = root.find("size")
    if size is not None:
        _set(size, "width", str(width))
        _set(size, "height", str(height))
    if root.find("filename") is not None:
        root.find("filename").text = output_name
    for obj in list(root.iter("object")):
        for part in list(obj.findall("part")):
            if part.find("bndbox") is not None and not _box(part, judge, count=False):
                obj.remove(part)
        if obj.find("bndbox") is not None and not _box(obj, judge, count=True):
            _parent(root, obj).remove(obj)
    return ET.tostring(root, encoding="utf-8") + b"\n"


def _box(element: ET.Element, judge: Judge, count: bool) -> bool:
    """Map the element's bndbox in place; False when the box is dropped."""
    bndbox = element.find("bndbox")
    try:
        xmin, ymin, xmax, ymax = (
            float(bndbox.findtext(name)) for name in ("xmin", "ymin", "xmax", "ymax")
        )
    except (TypeError, ValueError):
        raise LabelError("a bndbox without numeric xmin, ymin, xmax, ymax") from None
    visible, visibility, outside = judge.box((xmin - 1, ymin - 1, xmax, ymax))
    kept = judge.keeps(visibility, visible)
    if count:
        judge.count(kept, visibility < 1, outside)
    if not kept:
        return False
    left, top, right, bottom = (_round(v) for v in visible)
    _set(bndbox, "xmin", str(left + 1))
    _set(bndbox, "ymin", str(top + 1))
    _set(bndbox, "xmax", str(max(right, left + 1)))
    _set(bndbox, "ymax", str(max(bottom, top + 1)))
    if visibility < 1 and element.find("truncated") is not None:
        element.find("truncated").text = "1"
    return True


def _round(value: float) -> int:
    return math.floor(value + 0.5)


def _set(parent: ET.Element, name: str, text: str) -> None:
    child = parent.find(name)
    if child is None:
        child = ET.SubElement(parent, name)
    child.text = text


def _parent(root: ET.Element, child: ET.Element) -> ET.Element:
    for element in root.iter():
        if child in list(element):
            return element
    return root
