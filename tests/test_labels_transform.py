"""The mapping of points and boxes through one manifest record (resizer.labels' public API)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image, ImageOps

from resizer import geometry
from resizer.geometry import Sizing
from resizer.labels import (
    LabelError,
    Transform,
    clip_box,
    clip_polygon,
    map_box,
    map_point,
    polygon_area,
    to_upright,
)

ORIENTATION_TAG = 0x0112


def record_for(upright, orientation=1, **compute_options) -> dict:
    """A manifest record as resizer writes it, from the real geometry code."""
    plan = geometry.compute(upright, **compute_options)
    return {
        "source": "a.jpg",
        "status": "ok",
        "src_width": upright[0],
        "src_height": upright[1],
        "orientation": orientation,
        "width": plan.output[0],
        "height": plan.output[1],
        **plan.as_record(),
    }


def test_readme_formula_and_docstring_example():
    record = record_for((640, 480), sizing=Sizing("size", 224, 224), mode="fill")
    assert record["resize"] == [299, 224] and record["crop_box"] == [38, 0, 262, 224]
    x = 320 * record["resize"][0] / 640 - record["crop_box"][0] + record["pad_offset"][0]
    assert map_point(record, 320, 240) == (x, 240 * 224 / 480)


def test_pad_offset_moves_points_and_crop_clips_boxes():
    pad = record_for((200, 100), sizing=Sizing("size", 100, 100), mode="pad")
    assert pad["pad_offset"] == [0, 25]
    assert map_point(pad, 0, 0) == (0, 25)
    assert map_box(pad, (0, 0, 200, 100)) == (0, 25, 100, 75)
    fill = record_for((200, 100), sizing=Sizing("size", 100, 100), mode="fill")
    transform = Transform.from_record(fill)
    whole = transform.box((0, 0, 200, 100))
    assert whole == (-50, 0, 150, 100)
    assert clip_box(whole, transform.content) == (0, 0, 100, 100)
    assert clip_box((0, 0, 40, 100), transform.content) is not None
    assert clip_box(transform.box((0, 0, 40, 100)), transform.content) is None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_to_upright_follows_the_exif_turn_of_real_pixels(orientation):
    """A marked stored pixel is found, after Pillow's exif_transpose, where to_upright puts it."""
    stored = np.zeros((5, 7), dtype=np.uint8)
    stored[1, 2] = 255  # pixel x=2, y=1: centre (2.5, 1.5)
    image = Image.fromarray(stored)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    image.info["exif"] = exif.tobytes()
    image.getexif()[ORIENTATION_TAG] = orientation
    upright = np.asarray(ImageOps.exif_transpose(image))
    ys, xs = np.nonzero(upright)
    assert to_upright(2.5, 1.5, 7, 5, orientation) == (xs[0] + 0.5, ys[0] + 0.5)


@given(
    orientation=st.integers(1, 8),
    width=st.integers(1, 50),
    height=st.integers(1, 50),
    data=st.data(),
)
def test_stored_boxes_map_back_to_the_upright_box(orientation, width, height, data):
    """to_upright inverts resizer.geometry.box_in_stored (two independent codings)."""
    left = data.draw(st.integers(0, width - 1))
    top = data.draw(st.integers(0, height - 1))
    box = (
        left,
        top,
        data.draw(st.integers(left + 1, width)),
        data.draw(st.integers(top + 1, height)),
    )
    stored = geometry.box_in_stored(box, (width, height), orientation)
    record = {
        "src_width": width, "src_height": height, "orientation": orientation,
        "resize": [width, height], "crop_box": [0, 0, width, height], "pad_offset": [0, 0],
        "width": width, "height": height,
    }  # fmt: skip
    assert map_box(record, stored, frame="stored") == box


@given(
    width=st.integers(1, 3000),
    height=st.integers(1, 3000),
    mode=st.sampled_from(geometry.MODES),
    box=st.tuples(st.integers(1, 500), st.integers(1, 500)),
    crop=st.one_of(st.none(), st.tuples(st.integers(1, 400), st.integers(1, 400))),
)
@example(width=1, height=1, mode="pad", box=(4, 1), crop=(1, 1))
def test_the_whole_source_maps_onto_exactly_the_content_of_the_output(
    width, height, mode, box, crop
):
    if mode == "fill" and crop and (crop[0] > box[0] or crop[1] > box[1]):
        crop = None
    record = record_for((width, height), sizing=Sizing("size", *box), mode=mode, crop=crop)
    transform = Transform.from_record(record)
    content = transform.content
    mapped = clip_box(
        map_box(record, (0, 0, width, height)), (0, 0, record["width"], record["height"])
    )
    left, top, right, bottom = record["crop_box"]
    if right <= left or bottom <= top:
        # A crop that keeps none of the image (1-pixel images padded, then centre-cropped
        # off-centre by one pixel): the output is all padding; nothing of the source is in it.
        assert content[0] == content[2] or content[1] == content[3]
        assert mapped is None
        return
    assert 0 <= content[0] < content[2] <= record["width"]
    assert 0 <= content[1] < content[3] <= record["height"]
    assert mapped == pytest.approx(content)


def test_records_without_geometry_say_why():
    with pytest.raises(
        LabelError, match=r"a.jpg: no output geometry .*status failed \(not an image"
    ):
        map_point({"source": "a.jpg", "status": "failed", "error": "not an image"}, 1, 1)


def test_polygon_clipping_and_area():
    square = [(-5.0, -5.0), (5.0, -5.0), (5.0, 5.0), (-5.0, 5.0)]
    clipped = clip_polygon(square, (0, 0, 10, 10))
    assert polygon_area(clipped) == 25
    assert clip_polygon(square, (20, 20, 30, 30)) == []
    concave = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (5.0, 2.0), (0.0, 10.0)]
    # Below y=5: the full 10x5 strip less the notch between y=2 and y=5 (width 1.25 (y - 2)).
    assert polygon_area(clip_polygon(concave, (0, 0, 10, 5))) == pytest.approx(50 - 5.625)
