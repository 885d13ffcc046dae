"""Annotations through a resize: boxes, polygons, keypoints and masks mapped to the outputs.

For your own label formats, map through one manifest record:

    >>> from resizer.labels import map_box, map_point
    >>> record = {"src_width": 640, "src_height": 480, "orientation": 1, "resize": [299, 224],
    ...           "crop_box": [38, 0, 262, 224], "pad_offset": [0, 0], "width": 224, "height": 224}
    >>> map_point(record, 320, 240)
    (111.5, 112.0)
"""

from .transform import (
    FRAMES,
    LabelError,
    Transform,
    box_area,
    clip_box,
    clip_polygon,
    map_box,
    map_point,
    polygon_area,
    to_upright,
)

__all__ = [
    "FRAMES",
    "LabelError",
    "Transform",
    "box_area",
    "clip_box",
    "clip_polygon",
    "map_box",
    "map_point",
    "polygon_area",
    "to_upright",
]
