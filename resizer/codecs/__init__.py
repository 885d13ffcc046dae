"""Reading and writing image files: header probe, decode, EXIF orientation, colour modes, encode.

Both backends decode through here, so every image reaches a backend upright and in one of a few
modes: L, LA, RGB, RGBA (8-bit) as a PIL image; I;16 (16-bit grey) as a PIL image; 16-bit colour
as a numpy array (Pillow would silently read it as 8-bit). Pillow's JPEG decode is bit-identical
to `cv2.imread(..., IMREAD_COLOR)` (both are libjpeg-turbo with the same settings), and unlike
OpenCV it raises on a truncated file instead of returning a grey image. Only the first frame of
an animation or multi-page file is used; `Header.frames` says how many there were.

Modules: `probe` (header, frame count, mode names), `decode` (mode rules), `deep` (16-bit
colour), `encode` (formats, and the mode the written file holds), `pixels` (shared helpers).
"""

from __future__ import annotations

import os

from PIL import Image, ImageFile

# The checks are ours (--max-pixels, from the header, for both backends): OpenCV's own limit
# (read once, when cv2 is first imported) must not refuse what --max-pixels allows.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(1 << 40))
# Pillow must not load truncated data.
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False

from .decode import decode, normal_mode  # noqa: E402  (after the settings above)
from .encode import encode, flatten, output_pixels, written_mode  # noqa: E402
from .pixels import (  # noqa: E402
    UPRIGHT,
    ImageError,
    Pixels,
    grey16_image,
    mode_of,
    orient_array,
    orient_image,
    size_of,
)
from .probe import Header, exif_orientation, probe, shrink_on_load  # noqa: E402

__all__ = [
    "UPRIGHT",
    "Header",
    "ImageError",
    "Pixels",
    "decode",
    "encode",
    "exif_orientation",
    "flatten",
    "grey16_image",
    "mode_of",
    "normal_mode",
    "orient_array",
    "orient_image",
    "output_pixels",
    "probe",
    "shrink_on_load",
    "size_of",
    "written_mode",
]
