"""Shared by the codec tests: the backends, the one-image pipeline at a small fixed size, and
16-bit PNGs (which Pillow cannot write) and their exact pixels."""

from __future__ import annotations

import struct
import zlib
from functools import partial
from pathlib import Path

import conftest
import cv2
import numpy as np
from PIL import Image

from resizer.geometry import Sizing

BACKENDS = ("pillow", "opencv")
ORIENTATION = 0x0112

# A small fixed target unless a test asks for another sizing.
resize_file = partial(conftest.resize_file, sizing=Sizing("size", width=64, height=64))


def png_with_chunk(png: bytes, kind: bytes, payload: bytes) -> bytes:
    """Insert a chunk right after IHDR (where iCCP and eXIf may go)."""
    chunk = struct.pack(">I", len(payload)) + kind + payload
    chunk += struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    return png[:33] + chunk + png[33:]


def write_png16(path: Path, rgb: np.ndarray, icc: bytes | None = None, orientation: int = 1):
    """A 16-bit colour PNG (OpenCV writes it; Pillow cannot), optionally with iCCP / eXIf."""
    order = cv2.COLOR_RGBA2BGRA if rgb.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, order))
    assert ok
    data = data.tobytes()
    if icc is not None:
        data = png_with_chunk(data, b"iCCP", b"icc\x00\x00" + zlib.compress(icc))
    if orientation != 1:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        data = png_with_chunk(data, b"eXIf", exif.tobytes()[6:])  # without "Exif\0\0"
    path.write_bytes(data)
    return path


def read_unchanged(path: Path) -> np.ndarray:
    """Output pixels exactly as stored, colour in RGB(A) order."""
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert array is not None
    if array.ndim == 3:
        order = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
        array = cv2.cvtColor(array, order)
    return array
