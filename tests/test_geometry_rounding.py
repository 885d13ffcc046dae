"""Rounding of scaled sides: half-up (resizer) or floor (torchvision), against torchvision's
own arithmetic."""

from __future__ import annotations

import pytest
from geometry_cases import BOX_224, LANDSCAPE, PROPERTY, boxes, sizes
from hypothesis import given
from hypothesis import strategies as st

from resizer.geometry import MODES, Sizing, compute


def torchvision_resize(source: tuple[int, int], size: int) -> tuple[int, int]:
    """torchvision's `Resize(size)` output (w, h) as its `_compute_resized_output_size` computes
    it: the shorter side is `size`, the longer `int(size * long / short)` in floats."""
    width, height = source
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_short, new_long) if width <= height else (new_long, new_short)


def torchvision_centre_crop(image: tuple[int, int], crop: int) -> tuple[int, int]:
    """torchvision's `CenterCrop(crop)` offsets (left, top) on an image at least `crop` big."""
    width, height = image
    # torchvision's own spelling, kept verbatim.
    left = int(round((width - crop) / 2.0))  # noqa: RUF046
    top = int(round((height - crop) / 2.0))  # noqa: RUF046
    return left, top


@pytest.mark.parametrize(
    ("source", "half_up_size", "floor_size"),
    [
        ((640, 427), (384, 256), (383, 256)),  # 383.70
        ((427, 640), (256, 384), (256, 383)),
        ((500, 375), (341, 256), (341, 256)),  # 341.33: both
        ((1000, 667), (384, 256), (383, 256)),  # 383.81
        ((256, 256), (256, 256), (256, 256)),
    ],
)
def test_floor_rounding_truncates_the_longer_side_like_torchvision(
    source, half_up_size, floor_size
):
    shorter = Sizing("shorter", length=256)
    assert compute(source, shorter).resized == half_up_size
    assert compute(source, shorter, rounding="floor").resized == floor_size
    assert torchvision_resize(source, 256) == floor_size


def test_floor_rounding_never_gives_a_side_below_one_pixel():
    assert compute((1, 5000), BOX_224, rounding="floor").resized == (1, 224)
    assert compute((5000, 1), Sizing("longer", length=224), rounding="floor").resized == (224, 1)


def test_unknown_rounding_is_rejected():
    with pytest.raises(ValueError, match="'ceil'"):
        compute(LANDSCAPE, BOX_224, rounding="ceil")


@PROPERTY
@given(source=sizes, length=st.integers(1, 1024))
def test_shorter_with_floor_is_torchvision_resize_property(source, length):
    assert compute(source, Sizing("shorter", length=length), rounding="floor").resized == (
        torchvision_resize(source, length)
    )


@PROPERTY
@given(source=sizes, length=st.integers(1, 512), crop=st.integers(1, 512))
def test_floor_shorter_and_crop_is_torchvision_resize_and_centre_crop_property(
    source, length, crop
):
    """The torchvision-eval recipe's arithmetic: Resize(length) + CenterCrop(crop)."""
    geometry = compute(
        source, Sizing("shorter", length=length), crop=(crop, crop), rounding="floor"
    )
    resized = torchvision_resize(source, length)
    assert geometry.resized == resized
    if crop <= min(resized):
        left, top = torchvision_centre_crop(resized, crop)
        assert geometry.window == (left, top, left + crop, top + crop)
        assert not geometry.needs_pad


@PROPERTY
@given(source=sizes, box=boxes, mode=st.sampled_from(MODES))
def test_floor_is_at_most_one_pixel_below_half_up_property(source, box, mode):
    rounded = compute(source, box, mode)
    floored = compute(source, box, mode, rounding="floor")
    for near, low in zip(rounded.resized, floored.resized, strict=True):
        assert near - 1 <= low <= near
    if mode == "fill":  # floor still covers the box
        assert floored.output == (box.width, box.height)
        assert floored.resized[0] >= box.width and floored.resized[1] >= box.height
