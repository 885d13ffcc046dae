"""COCO JSON: absolute `bbox` [x, y, w, h], polygons, RLE masks, keypoints, `area`, and the
image list's `file_name`, `width`, `height`. Every other key is copied as it is."""

from __future__ import annotations

import copy
from pathlib import PurePosixPath

from . import rle
from .common import (
    Judge,
    Options,
    Summary,
    bounding_box,
    decide_frame,
    tidy,
    undecided_error,
)
from .transform import LabelError, Transform, polygon_area


def rewrite(data: dict, records: dict[str, dict], options: Options, prefix: str = ""):
    """(new COCO document, Summary). Images without an output are left out with their
    annotations and listed in `Summary.failed`; UsageProblem when orientations are undecided."""
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise LabelError("not a COCO file: no `images` list")
    summary = Summary()
    judges: dict = {}
    undecided: list[str] = []
    images = []
    for image in data["images"]:
        name = str(PurePosixPath(prefix) / str(image.get("file_name", "")))
        try:
            record = records.get(name)
            if record is None:
                raise LabelError("not in the manifest")
            transform = Transform.from_record(record)
            recorded = None
            if isinstance(image.get("width"), int) and isinstance(image.get("height"), int):
                recorded = (image["width"], image["height"])
            frame = decide_frame(transform, recorded, options)
        except LabelError as error:
            summary.failed.append((name, str(error)))
            continue
        if frame is None:
            undecided.append(name)
            continue
        judges[image.get("id")] = Judge(transform, frame, options, summary)
        output = str(record["output"])
        if prefix and output.startswith(prefix.rstrip("/") + "/"):
            output = output[len(prefix.rstrip("/")) + 1 :]
        images.append(
            {
                **image,
                "file_name": output,
                "width": transform.output[0],
                "height": transform.output[1],
            }
        )
    if undecided:
        raise undecided_error(undecided)
    summary.images = len(images)
    annotations = []
    for annotation in data.get("annotations") or []:
        judge = judges.get(annotation.get("image_id"))
        if judge is None:
            continue  # its image has no output
        try:
            mapped = _annotation(annotation, judge)
        except (LabelError, TypeError, ValueError, KeyError, IndexError) as error:
            raise LabelError(f"annotation {annotation.get('id')}: {error}") from None
        if mapped is not None:
            annotations.append(mapped)
    document = {**data, "images": images}
    if "annotations" in data:
        document["annotations"] = annotations
    return document, summary


def _annotation(annotation: dict, judge: Judge) -> dict | None:
    """The annotation in output pixels, or None when it is dropped."""
    result = copy.deepcopy(annotation)
    clipped = out_of_range = False
    visibility, visible_box = 1.0, None

    bbox = annotation.get("bbox")
    if bbox:
        x, y, w, h = (float(v) for v in bbox)
        visible_box, visibility, out_of_range = judge.box((x, y, x + w, y + h))
        if visible_box is not None:
            left, top, right, bottom = visible_box
            result["bbox"] = [tidy(left), tidy(top), tidy(right - left), tidy(bottom - top)]
        clipped = visibility < 1

    segmentation = annotation.get("segmentation")
    area_ratio = None  # output area per input area, from the best shape there is
    if isinstance(segmentation, list) and segmentation:
        polygons, kept_area, full_area, total_input = [], 0.0, 0.0, 0.0
        for flat in segmentation:
            points = list(zip(flat[0::2], flat[1::2], strict=False))
            visible, area, whole, outside = judge.polygon([(float(a), float(b)) for a, b in points])
            out_of_range |= outside
            kept_area += area
            full_area += whole
            total_input += _area(points)
            if visible:
                polygons.append([tidy(v) for point in visible for v in point])
        result["segmentation"] = polygons
        if full_area > 0:
            visibility = kept_area / full_area
            clipped |= visibility < 1
            area_ratio = kept_area / total_input if total_input else None
            if visible_box is None and polygons:
                visible_box = bounding_box(
                    [p for poly in polygons for p in zip(poly[0::2], poly[1::2], strict=False)]
                )
    elif isinstance(segmentation, dict) and "counts" in segmentation:
        mask, kept_pixels, all_pixels = rle.map_rle(segmentation, judge.transform, judge.frame)
        result["segmentation"] = mask
        visibility = kept_pixels / all_pixels if all_pixels else 0.0
        clipped |= visibility < 1
        if "area" in annotation:
            result["area"] = kept_pixels
        if visible_box is None and kept_pixels:
            visible_box = judge.content

    keypoints = annotation.get("keypoints")
    if isinstance(keypoints, list) and keypoints:
        new_points, cut = _keypoints(keypoints, judge)
        result["keypoints"] = new_points
        clipped |= cut
        if "num_keypoints" in annotation:
            result["num_keypoints"] = sum(1 for v in new_points[2::3] if v > 0)
        if not bbox and not segmentation:
            visible_box = judge.content  # keypoints alone: kept while any point survives
            visibility = 1.0 if result.get("num_keypoints", 1) else 0.0

    if not bbox and not segmentation and not keypoints:
        return result  # nothing we know how to map
    kept = judge.keeps(visibility, visible_box)
    judge.count(kept, clipped, out_of_range)
    if not kept:
        return None
    if "area" in annotation and not isinstance(segmentation, dict):
        if area_ratio is not None:  # output area per input area of the polygons
            result["area"] = tidy(float(annotation["area"]) * area_ratio)
        elif bbox:
            sx, sy = judge.transform.scale
            result["area"] = tidy(float(annotation["area"]) * sx * sy * visibility)
    return result


def _area(points) -> float:
    return polygon_area([(float(a), float(b)) for a, b in points])


def _keypoints(keypoints: list, judge: Judge) -> tuple[list, bool]:
    """Keypoints in output pixels; those cut away become (0, 0, 0); v=0 ones stay as given."""
    result = list(keypoints)
    cut = False
    for index in range(0, len(keypoints) - 2, 3):
        x, y, v = keypoints[index : index + 3]
        if not v:
            continue
        point = judge.point(float(x), float(y))
        if point is None:
            result[index : index + 3] = [0, 0, 0]
            cut = True
        else:
            result[index], result[index + 1] = tidy(point[0]), tidy(point[1])
    return result, cut
