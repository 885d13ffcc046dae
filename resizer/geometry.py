"""Pure size arithmetic: (upright source size, sizing options) -> resize size and output window.

No I/O and no image library here, so every sizing option can be tested exhaustively on numbers.
Ratios are exact fractions, so "rounded half up" means exactly that, with no float surprises
(e.g. 1000 * 224/3000 is 74.666..., and 3000 * 224/3000 is exactly 224).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

MODES = ("fit", "fill", "pad", "stretch")
# How a scaled side becomes whole pixels: half-up is resizer's own rule; floor is torchvision's
# (`Resize(int)` computes the longer side as `int(size * long / short)`).
ROUNDINGS = ("half-up", "floor")


@dataclass(frozen=True)
class Sizing:
    """One sizing option. `kind` is size | shorter | longer | scale.

    For `size`, width and/or height is set (None = follow the aspect ratio); for shorter/longer,
    `length`; for scale, `factor`.
    """

    kind: str
    width: int | None = None
    height: int | None = None
    length: int | None = None
    factor: Fraction | None = None

    def describe(self) -> str:
        if self.kind == "size":
            width = "" if self.width is None else str(self.width)
            height = "" if self.height is None else f"x{self.height}"
            return f"size {width}{height}"
        if self.kind == "scale":
            return f"scale {float(self.factor)}"
        return f"{self.kind} {self.length}"

    @property
    def has_box(self) -> bool:
        """True for `--size WxH` with both sides given: the only sizing the modes apply to."""
        return self.kind == "size" and self.width is not None and self.height is not None


@dataclass(frozen=True)
class Geometry:
    """How one image is transformed, in upright (EXIF-applied) pixel coordinates.

    The whole upright source is resized to `resized`; then the output is the `window`
    (left, top, right, bottom) of the resized image. A window reaching outside the resized image
    is padded there (mode pad, or --crop larger than the image), so crop and pad are one concept.
    """

    source: tuple[int, int]
    resized: tuple[int, int]
    window: tuple[int, int, int, int]

    @property
    def output(self) -> tuple[int, int]:
        left, top, right, bottom = self.window
        return right - left, bottom - top

    @property
    def crop_box(self) -> tuple[int, int, int, int]:
        """The part of the resized image that is kept (window clipped to the image)."""
        left, top, right, bottom = self.window
        width, height = self.resized
        return max(left, 0), max(top, 0), min(right, width), min(bottom, height)

    @property
    def pad_offset(self) -> tuple[int, int]:
        """Where the kept part lands in the output canvas (non-zero only when padding)."""
        left, top, _, _ = self.window
        return max(-left, 0), max(-top, 0)

    @property
    def needs_pad(self) -> bool:
        return self.crop_box != self.window

    @property
    def is_identity(self) -> bool:
        return self.resized == self.source and self.window == (0, 0, *self.source)

    def as_record(self) -> dict:
        """The fields a user needs to remap boxes, keypoints and masks to the output pixels."""
        return {
            "resize": list(self.resized),
            "crop_box": list(self.crop_box),
            "pad_offset": list(self.pad_offset),
        }


def round_half_up(value: Fraction) -> int:
    """floor(value + 1/2), never below 1: the default rule for every scaled side."""
    return max(1, math.floor(value + Fraction(1, 2)))


def round_side(value: Fraction, rounding: str = "half-up") -> int:
    """A scaled side in whole pixels, never below 1. Exact fractions, so floor truncates
    exactly where torchvision's float `int(size * long / short)` does for any real image size."""
    if rounding == "floor":
        return max(1, math.floor(value))
    if rounding == "half-up":
        return round_half_up(value)
    raise ValueError(f"unknown rounding {rounding!r}")


def scaled(size: tuple[int, int], ratio: Fraction, rounding: str = "half-up") -> tuple[int, int]:
    width, height = size
    return round_side(width * ratio, rounding), round_side(height * ratio, rounding)


def _ratio(source: tuple[int, int], sizing: Sizing, mode: str) -> Fraction | None:
    """The aspect-keeping scale factor, or None for stretch (which has none)."""
    width, height = source
    if sizing.kind == "scale":
        return Fraction(sizing.factor)
    if sizing.kind == "shorter":
        return Fraction(sizing.length, min(width, height))
    if sizing.kind == "longer":
        return Fraction(sizing.length, max(width, height))
    if sizing.width is None:
        return Fraction(sizing.height, height)
    if sizing.height is None:
        return Fraction(sizing.width, width)
    to_width = Fraction(sizing.width, width)
    to_height = Fraction(sizing.height, height)
    if mode == "fill":
        return max(to_width, to_height)
    if mode == "stretch":
        return None
    return min(to_width, to_height)


def _centred(outer: int, inner: int) -> int:
    """Offset of a centred span, as torchvision's CenterCrop computes it.

    Cropping (inner <= outer) rounds half to even, `round((outer - inner) / 2.0)`; padding
    (inner > outer) puts the smaller half before, `(inner - outer) // 2`, like mode pad.
    """
    if inner > outer:
        return -((inner - outer) // 2)
    return round((outer - inner) / 2.0)


def _centred_window(image: tuple[int, int], box: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box-sized window centred on the image; it reaches outside where the box is larger."""
    left = _centred(image[0], box[0])
    top = _centred(image[1], box[1])
    return left, top, left + box[0], top + box[1]


def compute(
    source: tuple[int, int],
    sizing: Sizing,
    mode: str = "fit",
    crop: tuple[int, int] | None = None,
    upscale: bool = True,
    rounding: str = "half-up",
) -> Geometry:
    """Geometry for an upright source of `source` = (width, height) pixels.

    fit: largest aspect-keeping size inside WxH.  fill: smallest aspect-keeping size covering WxH,
    centre-cropped to WxH.  pad: fit, then centred on a WxH canvas.  stretch: exactly WxH.
    `crop` then centre-crops the result (padding where the result is smaller, like
    torchvision's CenterCrop). With `upscale=False` an image that would grow keeps its own size.
    `rounding` turns scaled sides into pixels: "half-up" (default) or "floor" (torchvision).
    """
    if source[0] < 1 or source[1] < 1:
        raise ValueError(f"image size must be positive, got {source[0]}x{source[1]}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}")
    ratio = _ratio(source, sizing, mode)
    if ratio is None:
        resized = (sizing.width, sizing.height)
        if not upscale:
            resized = (min(resized[0], source[0]), min(resized[1], source[1]))
    else:
        if not upscale and ratio > 1:
            ratio = Fraction(1)
        resized = scaled(source, ratio, rounding)

    window = (0, 0, *resized)
    if sizing.has_box and mode == "fill":
        # Never pads: with --no-upscale a small image is cropped to at most WxH.
        box = (min(sizing.width, resized[0]), min(sizing.height, resized[1]))
        window = _centred_window(resized, box)
    elif sizing.has_box and mode == "pad":
        box = (sizing.width, sizing.height)
        left = (box[0] - resized[0]) // 2
        top = (box[1] - resized[1]) // 2
        window = (-left, -top, box[0] - left, box[1] - top)

    if crop is not None:
        inner = _centred_window((window[2] - window[0], window[3] - window[1]), crop)
        window = (
            window[0] + inner[0],
            window[1] + inner[1],
            window[0] + inner[2],
            window[1] + inner[3],
        )
    return Geometry(source=source, resized=resized, window=window)


def over_pixel_limit(plan: Geometry, limit: int | None, resized_whole: bool = True) -> str | None:
    """Why this geometry needs an image larger than `limit` pixels, or None.

    Checked per image before decoding (the sizes depend on each image's aspect), so a typo
    such as `--size 100000x100000` fails at once instead of exhausting the memory of every
    worker in turn. The resized image is checked first where it is allocated whole before a
    part is kept (`resized_whole`); a resize that builds only the kept part needs no more
    than the output.
    """
    if limit is None:
        return None
    sizes = [("resized image", plan.resized)] if resized_whole else []
    for what, (width, height) in [*sizes, ("output", plan.output)]:
        if width * height > limit:
            return (
                f"the {what} would be {width}x{height} = {width * height} pixels, over the "
                f"limit of {limit} (--max-pixels)"
            )
    return None


def pixel_limit_error(
    plan: Geometry,
    limit: int | None,
    sizing: Sizing,
    crop: tuple[int, int] | None,
    resized_whole: bool = True,
) -> str | None:
    """resize's words for a geometry over `limit` (over_pixel_limit), naming the options that set
    the size as typed, since the likely typo is among them; None if within. `scan` predicts the
    failure with the same words."""
    why = over_pixel_limit(plan, limit, resized_whole)
    if why is None:
        return None
    target = f"--{sizing.describe()}"
    if crop is not None:
        target += f" --crop {crop[0]}x{crop[1]}"
    # Where only a part is kept, say why the whole resized image counted: --exact and the
    # opencv backend resize the whole image, then crop (that is what makes them bit-identical
    # to the one-call resize and to a crop of the whole); the pillow backend's default path
    # builds only the part it keeps. A narrow, tall source with --shorter shows it: 16x65280
    # becomes 256x1044480 of which 224x224 are kept.
    hint = ""
    if resized_whole and plan.crop_box != (0, 0, *plan.resized):
        hint = "; --exact and the opencv backend resize the whole image before cropping"
    return f"{target} is too large for this image: {why}{hint}"


def shift(box: tuple[int, int, int, int], dx: int, dy: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    return left + dx, top + dy, right + dx, bottom + dy


def box_in_stored(
    box: tuple[float, float, float, float], upright: tuple[float, float], orientation: int
) -> tuple[float, float, float, float]:
    """Map a box from upright coordinates to the image as stored, before its EXIF orientation.

    `upright` is the upright image's (width, height). Used to resize a JPEG while it is still
    stored sideways, and turn only the small result upright.
    """
    left, top, right, bottom = box
    width, height = upright
    stored_width, stored_height = (height, width) if orientation in (5, 6, 7, 8) else upright
    if orientation == 2:
        return stored_width - right, top, stored_width - left, bottom
    if orientation == 3:
        return (
            stored_width - right,
            stored_height - bottom,
            stored_width - left,
            stored_height - top,
        )
    if orientation == 4:
        return left, stored_height - bottom, right, stored_height - top
    if orientation == 5:
        return top, left, bottom, right
    if orientation == 6:
        return top, stored_height - right, bottom, stored_height - left
    if orientation == 7:
        return (
            stored_width - bottom,
            stored_height - right,
            stored_width - top,
            stored_height - left,
        )
    if orientation == 8:
        return stored_width - bottom, left, stored_width - top, right
    return box
