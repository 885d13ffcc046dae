"""COCO rewriting: boxes, polygons, RLE, keypoints, area, images; frames; what is dropped."""

from __future__ import annotations

import json

import numpy as np
import pytest

from resizer.labels import coco, rle
from resizer.labels.common import Options, UsageProblem

pycoco = pytest.importorskip("pycocotools.coco", reason="pycocotools is in the test extra")
mask_api = pytest.importorskip("pycocotools.mask")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def record(
    source="a.jpg",
    upright=(200, 100),
    orientation=1,
    resize=(100, 50),
    crop_box=(0, 0, 100, 50),
    pad_offset=(0, 0),
    output=(100, 50),
    output_name=None,
):
    return {
        "source": source, "output": output_name or source, "status": "ok",
        "src_width": upright[0], "src_height": upright[1], "orientation": orientation,
        "width": output[0], "height": output[1], "resize": list(resize),
        "crop_box": list(crop_box), "pad_offset": list(pad_offset),
    }  # fmt: skip


# 200x100 resized to 100x50, then the middle 50x50 kept (mode fill to 50x50).
FILL = record(crop_box=(25, 0, 75, 50), output=(50, 50))


def document(*annotations, image=None):
    return {
        "info": {"description": "kept as it is"},
        "images": [image or {"id": 1, "file_name": "a.jpg", "width": 200, "height": 100}],
        "annotations": [
            {"id": i, "image_id": 1, "category_id": 1, **a} for i, a in enumerate(annotations, 1)
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }


def test_boxes_are_scaled_clipped_and_dropped_with_counts():
    data = document(
        {"bbox": [60, 20, 40, 40], "area": 1600, "attributes": {"x": 1}},  # inside the crop
        {"bbox": [20, 20, 60, 40], "area": 2400},  # cut: 20 of 60 px wide remain
        {"bbox": [0, 0, 40, 40], "area": 1600},  # cut away entirely
        {"bbox": [140, -10, 20, 30], "area": 600},  # reaches above the image
    )
    new, summary = coco.rewrite(data, {"a.jpg": FILL}, Options())
    boxes = {a["id"]: a["bbox"] for a in new["annotations"]}
    assert boxes == {1: [5, 10, 20, 20], 2: [0, 10, 15, 20], 4: [45, 0, 5, 10]}
    areas = {a["id"]: a["area"] for a in new["annotations"]}
    assert areas[1] == 400 and areas[2] == 600 * 0.5  # a quarter, and half of it visible
    assert new["annotations"][0]["attributes"] == {"x": 1}
    assert new["info"] == data["info"] and new["categories"] == data["categories"]
    assert new["images"] == [{"id": 1, "file_name": "a.jpg", "width": 50, "height": 50}]
    assert (summary.kept, summary.clipped, summary.dropped, summary.out_of_range) == (3, 2, 1, 1)


def test_min_visibility_and_min_size_drop_small_remains():
    data = document({"bbox": [20, 20, 60, 40]}, {"bbox": [60, 20, 4, 40]})
    new, _ = coco.rewrite(data, {"a.jpg": FILL}, Options(min_visibility=0.6))
    assert [a["id"] for a in new["annotations"]] == [2]
    new, _ = coco.rewrite(data, {"a.jpg": FILL}, Options(min_size=3))
    assert [a["id"] for a in new["annotations"]] == [1]


def test_polygons_are_clipped_to_the_output_and_area_follows():
    square = [20, 20, 80, 20, 80, 60, 20, 60]  # 60x40, x from 20 to 80: 30 of 60 px kept
    data = document({"segmentation": [square], "bbox": [20, 20, 60, 40], "area": 2400})
    new, summary = coco.rewrite(data, {"a.jpg": FILL}, Options())
    (annotation,) = new["annotations"]
    flat = annotation["segmentation"][0]
    corners = sorted(zip(flat[0::2], flat[1::2], strict=True))
    assert corners == [(0, 10), (0, 30), (15, 10), (15, 30)]
    assert annotation["area"] == pytest.approx(2400 / 4 / 2)
    assert summary.clipped == 1


def test_keypoints_cut_away_become_unlabelled_and_v0_stays():
    keypoints = [100, 50, 2, 10, 10, 2, 7, 7, 0, 90, 40, 1]
    data = document({"bbox": [0, 0, 200, 100], "keypoints": keypoints, "num_keypoints": 3})
    new, _ = coco.rewrite(data, {"a.jpg": FILL}, Options())
    (annotation,) = new["annotations"]
    assert annotation["keypoints"] == [25, 25, 2, 0, 0, 0, 7, 7, 0, 20, 20, 1]
    assert annotation["num_keypoints"] == 2


def test_rle_masks_are_resized_and_pycocotools_reads_the_result(tmp_path):
    mask = np.zeros((100, 200), dtype=np.uint8)
    mask[20:60, 60:100] = 1
    data = document(
        {"segmentation": rle.encode(mask, compressed=False), "area": 1600, "iscrowd": 1,
         "bbox": [60, 20, 40, 40]},
        {"segmentation": [[60, 20, 100, 20, 100, 60, 60, 60]], "area": 1600, "iscrowd": 0,
         "bbox": [60, 20, 40, 40]},
    )  # fmt: skip
    new, _ = coco.rewrite(data, {"a.jpg": FILL}, Options())
    path = tmp_path / "out.json"
    path.write_text(json.dumps(new))
    api = pycoco.COCO(str(path))
    expected = np.zeros((50, 50), dtype=np.uint8)
    expected[10:30, 5:25] = 1
    crowd, polygon = api.loadAnns([1, 2])
    assert np.array_equal(api.annToMask(crowd), expected)
    assert np.array_equal(api.annToMask(polygon), expected)
    assert crowd["area"] == 400 and isinstance(crowd["segmentation"]["counts"], list)


def test_orientation_5_to_8_is_read_from_the_recorded_size():
    turned = record(upright=(100, 200), orientation=6, resize=(50, 100), output=(50, 100))
    # Labelled on the stored 200x100 pixels: stored (x, y) is upright (100 - y, x).
    stored = document({"bbox": [0, 0, 20, 10]})
    new, _ = coco.rewrite(stored, {"a.jpg": turned}, Options())
    assert new["annotations"][0]["bbox"] == [45, 0, 5, 10]
    upright = document(
        {"bbox": [0, 0, 20, 10]}, image={"id": 1, "file_name": "a.jpg", "width": 100, "height": 200}
    )
    new, _ = coco.rewrite(upright, {"a.jpg": turned}, Options(frame="stored"))
    assert new["annotations"][0]["bbox"] == [0, 0, 10, 5]


def test_orientations_2_to_4_need_the_option_and_name_the_images():
    mirrored = record(orientation=2)
    data = document({"bbox": [0, 0, 20, 10]})
    with pytest.raises(UsageProblem, match=r"a\.jpg.*--labels-orientation upright\|stored"):
        coco.rewrite(data, {"a.jpg": mirrored}, Options())
    new, _ = coco.rewrite(data, {"a.jpg": mirrored}, Options(frame="stored"))
    assert new["annotations"][0]["bbox"] == [90, 0, 10, 5]
    new, _ = coco.rewrite(data, {"a.jpg": mirrored}, Options(frame="upright"))
    assert new["annotations"][0]["bbox"] == [0, 0, 10, 5]


def test_images_without_output_are_left_out_and_reported():
    data = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 200, "height": 100},
            {"id": 2, "file_name": "bad.jpg", "width": 10, "height": 10},
            {"id": 3, "file_name": "gone.jpg"},
            {"id": 4, "file_name": "other.jpg", "width": 50, "height": 50},
        ],
        "annotations": [{"id": n, "image_id": n, "bbox": [0, 0, 5, 5]} for n in (1, 2, 3, 4)],
    }
    records = {
        "a.jpg": record(),
        "bad.jpg": {"source": "bad.jpg", "status": "failed", "error": "not an image"},
        "other.jpg": record("other.jpg"),
    }
    new, summary = coco.rewrite(data, records, Options())
    assert [image["id"] for image in new["images"]] == [1]
    assert [a["image_id"] for a in new["annotations"]] == [1]
    failed = dict(summary.failed)
    assert "not an image" in failed["bad.jpg"]
    assert failed["gone.jpg"] == "not in the manifest"
    assert "annotations are for a 50x50 image" in failed["other.jpg"]


def test_prefix_finds_sources_and_output_names_change_with_the_format():
    records = {"train/a.png": record("train/a.png", output_name="train/a.webp")}
    image = {"id": 1, "file_name": "a.png", "width": 200, "height": 100}
    new, _ = coco.rewrite(document(image=image), records, Options(), prefix="train")
    assert new["images"][0]["file_name"] == "a.webp"
