"""Pascal VOC XML rewriting: 1-based inclusive boxes, size, file name; other elements kept."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from resizer.labels import Transform, voc
from resizer.labels.common import Judge, Options, Summary
from resizer.labels.transform import LabelError

# 200x100 -> 100x50, middle 50x50 kept.
FILL = Transform((200, 100), 1, (100, 50), (25, 0, 75, 50), (0, 0), (50, 50))
DOCUMENT = b"""<annotation>
  <folder>VOC2012</folder>
  <filename>a.jpg</filename>
  <!-- drawn by hand -->
  <size><width>200</width><height>100</height><depth>3</depth></size>
  <object><name>cat</name><truncated>0</truncated><difficult>0</difficult>
    <bndbox><xmin>61</xmin><ymin>21</ymin><xmax>100</xmax><ymax>60</ymax></bndbox>
    <part><name>head</name><bndbox><xmin>61</xmin><ymin>21</ymin><xmax>70</xmax><ymax>30</ymax></bndbox></part>
    <part><name>tail</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>10</ymax></bndbox></part>
  </object>
  <object><name>dog</name><truncated>0</truncated>
    <bndbox><xmin>21</xmin><ymin>21</ymin><xmax>80</xmax><ymax>60</ymax></bndbox></object>
  <object><name>bird</name>
    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>40</xmax><ymax>40</ymax></bndbox></object>
</annotation>"""


def box(element) -> list[int]:
    return [int(element.findtext(f"bndbox/{name}")) for name in ("xmin", "ymin", "xmax", "ymax")]


def test_boxes_size_and_name_are_rewritten_and_the_rest_is_kept():
    summary = Summary()
    data = voc.rewrite(voc.parse(DOCUMENT), Judge(FILL, "upright", Options(), summary), "a.webp")
    root = ET.fromstring(data)
    assert root.findtext("size/width") == "50" and root.findtext("size/height") == "50"
    assert root.findtext("size/depth") == "3" and root.findtext("folder") == "VOC2012"
    assert root.findtext("filename") == "a.webp"
    assert b"<!-- drawn by hand -->" in data
    cat, dog = root.findall("object")  # the bird was cut away
    # Pixels 61..100 (1-based) = [60, 100) -> [30, 50) resized -> [5, 25) -> 6..25.
    assert box(cat) == [6, 11, 25, 30]
    assert [part.findtext("name") for part in cat.findall("part")] == ["head"]
    assert box(cat.find("part")) == [6, 11, 10, 15]
    # [20, 80) -> [10, 40) -> [-15, 15) -> clipped [0, 15) -> 1..15, marked truncated.
    assert box(dog) == [1, 11, 15, 30] and dog.findtext("truncated") == "1"
    assert cat.findtext("truncated") == "0"
    assert (summary.kept, summary.clipped, summary.dropped) == (2, 1, 1)


def test_recorded_size_decides_the_frame_of_turned_images():
    turned = Transform((100, 200), 6, (100, 200), (0, 0, 100, 200), (0, 0), (100, 200))
    assert voc.frame_of(voc.parse(DOCUMENT), turned, Options()) == "stored"
    with pytest.raises(LabelError, match="annotations are for a 200x100 image"):
        other = Transform((300, 100), 1, (300, 100), (0, 0, 300, 100), (0, 0), (300, 100))
        voc.frame_of(voc.parse(DOCUMENT), other, Options())


def test_bad_files_are_label_errors():
    with pytest.raises(LabelError, match="not valid XML"):
        voc.parse(b"<annotation>")
    tree = voc.parse(b"<annotation><object><bndbox><xmin>a</xmin></bndbox></object></annotation>")
    with pytest.raises(LabelError, match="without numeric"):
        voc.rewrite(tree, Judge(FILL, "upright", Options(), Summary()), "a.jpg")
