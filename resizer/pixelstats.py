"""Per-channel mean and standard deviation of the output dataset, for `transforms.Normalize`.

Each worker counts the pixels it already holds (no second decode): per channel, the exact sum
of the values and of their squares, as integers in the image's own units (0-255, or 0-65535
for 16 bits). The manifest keeps both lists per record, so images that are up to date count
too. The parent adds the integers (in 16-bit units: an 8-bit value v is v * 257 of 65535) and
only then divides, so the result is exact and the same for any --jobs. Averaging per-image
standard deviations instead, a common recipe, misses the spread between images (on the 15
sample images resized to 224x224: 26-30 % too small).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from fractions import Fraction
from pathlib import Path

from .manifest import run_record_path

DIGITS = 6  # decimals of the published mean and std
# An `ok` record as to_json writes it: these fields in this order (see records.py).
_RECORD = re.compile(
    r'"status": "ok", .*"width": (\d+), "height": (\d+), "format": "[^"]*", "mode": "([^"]*)", '
    r'"pixel_sum": \[([\d, ]*)\], "pixel_sumsq": \[([\d, ]*)\]'
)


def channel_sums(pixels) -> tuple[list[int], list[int]]:
    """Sum and sum of squares of each channel (alpha included, last), in the image's units.

    From a histogram: exact integers, and for 8-bit images Pillow's own C loop (0.2-0.7 ms
    for a 224x224 colour image, measured: 0.3 % of the fill-224 job, bench/stats_overhead.py).
    """
    import numpy as np
    from PIL import Image

    if isinstance(pixels, Image.Image) and pixels.mode in ("L", "LA", "RGB", "RGBA"):
        counts = np.array(pixels.histogram(), dtype=np.int64).reshape(-1, 256)
    else:  # 16 bits: 16-bit grey as a PIL image, 16-bit colour as an array
        array = np.asarray(pixels)
        if array.ndim == 2:
            array = array[:, :, None]
        levels = 65536 if array.dtype == np.uint16 else 256
        counts = np.stack(
            [
                np.bincount(array[:, :, channel].ravel(), minlength=levels)
                for channel in range(array.shape[2])
            ]
        ).astype(np.int64)
    values = np.arange(counts.shape[1], dtype=np.int64)
    return (counts @ values).tolist(), (counts @ (values * values)).tolist()


def is_16bit(mode: str) -> bool:
    return mode.startswith("I;16") or mode.endswith(";16")


class Totals:
    """Exact running totals, in 16-bit units, of the colour and of the grey outputs."""

    def __init__(self):
        self.colour = [[0, 0, 0], [0, 0, 0], 0]  # sums, sums of squares, pixels
        self.grey = [[0], [0], 0]
        self.images = 0
        self.without = 0  # ok records from before these statistics existed

    def add(self, mode: str, width: int, height: int, sums, squares) -> None:
        if sums is None or squares is None:
            self.without += 1
            return
        scale = 1 if is_16bit(mode) else 257
        part = self.grey if len(sums) <= 2 else self.colour  # alpha, if any, is last
        for channel in range(len(part[0])):
            part[0][channel] += sums[channel] * scale
            part[1][channel] += squares[channel] * scale * scale
        part[2] += width * height
        self.images += 1

    def add_json(self, text: str) -> None:
        """A manifest record as its JSON text; only `ok` records count. Records as this
        version writes them are read by one pattern, others are parsed whole."""
        match = _RECORD.search(text)
        if match is not None:
            width, height, mode, sums, squares = match.groups()
            self.add(mode, int(width), int(height), _ints(sums), _ints(squares))
            return
        if '"ok"' not in text:
            return
        record = json.loads(text)
        if record.get("status") == "ok":
            self.add(
                record.get("mode") or "",
                record.get("width") or 0,
                record.get("height") or 0,
                record.get("pixel_sum"),
                record.get("pixel_sumsq"),
            )

    def result(self) -> dict:
        """Mean and population std per channel of values scaled to [0, 1]; grey outputs count
        as R = G = B among colour ones (as `convert("RGB")` makes them), alone as one channel."""
        sums, squares, pixels = self.colour
        channels = "RGB"
        if pixels == 0:
            (sums, squares, pixels), channels = self.grey, "L"
        else:
            grey_sum, grey_square, grey_pixels = self.grey
            sums = [value + grey_sum[0] for value in sums]
            squares = [value + grey_square[0] for value in squares]
            pixels += grey_pixels
        document: dict = {"channels": channels, "images": self.images, "pixels": pixels}
        if pixels:
            peak = 65535
            document["mean"] = [round(total / (pixels * peak), DIGITS) for total in sums]
            document["std"] = [
                round(
                    math.sqrt(Fraction(square * pixels - total * total, (pixels * peak) ** 2)),
                    DIGITS,
                )
                for total, square in zip(sums, squares, strict=True)
            ]
        else:
            document["mean"] = document["std"] = None
        document["images_without_statistics"] = self.without
        return document


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",")] if text.strip() else []


def pixel_statistics(manifest: Path, records: Mapping[str, str], unchanged: bool) -> dict:
    """For the run record: the statistics over every record. A run that left the manifest as
    it was (`unchanged`) has the statistics of the run that wrote it, without re-reading
    100,000 records."""
    if unchanged:
        try:
            earlier = json.loads(run_record_path(manifest).read_text(encoding="utf-8"))
            if isinstance(earlier.get("pixel_statistics"), dict):
                return earlier["pixel_statistics"]
        except (OSError, ValueError, AttributeError):
            pass
    return dataset_statistics(records.values())


def dataset_statistics(records: Iterable[str]) -> dict:
    """Statistics over the `ok` records of a manifest, given as their JSON texts."""
    totals = Totals()
    for text in records:
        totals.add_json(text)
    return totals.result()
