"""COCO run-length encoded masks: decode, map through a Transform, encode again.

Counts run over the mask in column-major order, starting with a run of zeros. The compressed
form is COCO's own string encoding (maskApi.c: 5 bits per character, offset 48, each count
after the second stored as a difference to the count two before).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..masks import transform_mask
from .transform import LabelError, Transform


def decode(rle: dict) -> np.ndarray:
    """The mask (height x width, uint8 0/1) of an RLE dict with `size` [h, w] and `counts`."""
    height, width = (int(side) for side in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, (str, bytes)):
        counts = decode_counts(counts)
    flat = np.zeros(height * width, dtype=np.uint8)
    position, value = 0, 0
    for count in counts:
        if count < 0 or position + count > flat.size:
            raise LabelError("RLE counts do not fit the mask size")
        if value:
            flat[position : position + count] = 1
        position += count
        value ^= 1
    return flat.reshape((width, height)).T


def encode(mask: np.ndarray, compressed: bool = True) -> dict:
    """RLE of a 2-D 0/1 mask; `compressed` gives COCO's string form, else a list of counts."""
    flat = np.asarray(mask, dtype=np.uint8).T.reshape(-1)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0, *counts]
    size = [int(mask.shape[0]), int(mask.shape[1])]
    if compressed:
        return {"size": size, "counts": encode_counts(counts)}
    return {"size": size, "counts": counts}


def decode_counts(text: str | bytes) -> list[int]:
    data = text.encode("ascii") if isinstance(text, str) else text
    counts: list[int] = []
    position = 0
    while position < len(data):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(data):
                raise LabelError("RLE counts string ends inside a number")
            char = data[position] - 48
            value |= (char & 0x1F) << shift
            more = bool(char & 0x20)
            position += 1
            shift += 5
            if not more and char & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def encode_counts(counts: list[int]) -> str:
    chars: list[str] = []
    for index, count in enumerate(counts):
        value = count - counts[index - 2] if index > 2 else count
        more = True
        while more:
            char = value & 0x1F
            value >>= 5
            more = value != -1 if char & 0x10 else value != 0
            if more:
                char |= 0x20
            chars.append(chr(char + 48))
    return "".join(chars)


def map_rle(rle: dict, transform: Transform, frame: str) -> tuple[dict, int, int]:
    """The RLE in output pixels, in the same form (string or list counts) as given, with the
    number of mask pixels kept in the output and the number the whole resized mask has."""
    mask = decode(rle)
    expected = transform.frame_size(frame)
    if (mask.shape[1], mask.shape[0]) != expected:
        raise LabelError(
            f"RLE size {mask.shape[1]}x{mask.shape[0]} (w x h) is not the image's "
            f"{expected[0]}x{expected[1]}"
        )
    image = Image.fromarray(mask * 255, "L")
    orientation = transform.orientation if frame == "stored" else 1
    full = transform_mask(image, orientation, transform.resize, (0, 0, *transform.resize))
    cut = transform_mask(full, 1, transform.resize, transform.window)
    total = int(np.count_nonzero(np.asarray(full)))
    out = (np.asarray(cut) > 0).astype(np.uint8)
    compressed = isinstance(rle["counts"], (str, bytes))
    return encode(out, compressed), int(out.sum()), total
