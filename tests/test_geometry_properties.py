"""The size arithmetic of every mode and sizing option, as properties over sizes 1..20000.

Sizes are (width, height). A window is (left, top, right, bottom) in resized-image pixels.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from geometry_cases import PROPERTY, any_sizing, boxes, factors, sides, sizes
from hypothesis import given
from hypothesis import strategies as st

from resizer.geometry import MODES, Sizing, box_in_stored, compute, over_pixel_limit


def half_up(value: Fraction) -> int:
    """The documented rounding of a scaled side: floor(x + 1/2), never below 1."""
    return max(1, math.floor(value + Fraction(1, 2)))


def assert_rounded_scaling(source, resized, ratio):
    """Each side is side * ratio rounded half up, never below 1: aspect kept to half a pixel."""
    for side, new in zip(source, resized, strict=True):
        exact = side * ratio
        assert new == half_up(exact)
        if exact >= Fraction(1, 2):
            assert -Fraction(1, 2) < new - exact <= Fraction(1, 2)
    (width, height), (new_width, new_height) = source, resized
    if min(width, height) * ratio >= Fraction(1, 2):
        # w'/h' - w/h, cross-multiplied: at most half a pixel of error on each side.
        assert abs(new_width * height - new_height * width) <= Fraction(width + height, 2)


def assert_window_consistent(geometry):
    """The kept part lies inside the resized image and lands inside the output canvas."""
    left, top, right, bottom = geometry.crop_box
    width, height = geometry.resized
    assert 0 <= left <= right <= width
    assert 0 <= top <= bottom <= height
    out_width, out_height = geometry.output
    pad_x, pad_y = geometry.pad_offset
    assert 0 <= pad_x <= pad_x + (right - left) <= out_width
    assert 0 <= pad_y <= pad_y + (bottom - top) <= out_height
    assert min(*geometry.resized, *geometry.output) >= 1


def assert_centred(outer: int, start: int, inner: int):
    """A span of `inner` at `start` in `outer`: margins differ by at most one pixel."""
    before, after = start, outer - start - inner
    assert abs(before - after) <= 1


@PROPERTY
@given(source=sizes, box=boxes)
def test_fit_property(source, box):
    geometry = compute(source, box, "fit")
    width, height = geometry.resized
    assert geometry.output == geometry.resized
    assert width <= box.width and height <= box.height
    assert width == box.width or height == box.height
    ratio = min(Fraction(box.width, source[0]), Fraction(box.height, source[1]))
    assert_rounded_scaling(source, geometry.resized, ratio)
    assert_window_consistent(geometry)


@PROPERTY
@given(source=sizes, box=boxes)
def test_fill_property(source, box):
    geometry = compute(source, box, "fill")
    width, height = geometry.resized
    assert geometry.output == (box.width, box.height)
    assert width >= box.width and height >= box.height
    assert width == box.width or height == box.height
    assert not geometry.needs_pad
    left, top, _, _ = geometry.window
    assert_centred(width, left, box.width)
    assert_centred(height, top, box.height)
    ratio = max(Fraction(box.width, source[0]), Fraction(box.height, source[1]))
    assert_rounded_scaling(source, geometry.resized, ratio)
    assert_window_consistent(geometry)


@PROPERTY
@given(source=sizes, box=boxes)
def test_pad_property(source, box):
    geometry = compute(source, box, "pad")
    fitted = compute(source, box, "fit")
    assert geometry.resized == fitted.resized
    assert geometry.output == (box.width, box.height)
    assert geometry.crop_box == (0, 0, *geometry.resized)
    pad_x, pad_y = geometry.pad_offset
    width, height = geometry.resized
    assert pad_x == (box.width - width) // 2
    assert pad_y == (box.height - height) // 2
    assert_window_consistent(geometry)


@PROPERTY
@given(source=sizes, box=boxes, upscale=st.booleans())
def test_stretch_property(source, box, upscale):
    geometry = compute(source, box, "stretch", upscale=upscale)
    if upscale:
        expected = (box.width, box.height)
    else:
        expected = (min(box.width, source[0]), min(box.height, source[1]))
    assert geometry.resized == expected
    assert geometry.output == expected
    assert geometry.window == (0, 0, *expected)


@PROPERTY
@given(source=sizes, box=boxes, mode=st.sampled_from(("fit", "fill", "pad")))
def test_no_upscale_property(source, box, mode):
    geometry = compute(source, box, mode, upscale=False)
    to_width, to_height = Fraction(box.width, source[0]), Fraction(box.height, source[1])
    ratio = max(to_width, to_height) if mode == "fill" else min(to_width, to_height)
    if ratio <= 1:  # a shrink: exactly what the upscaling run does
        assert geometry == compute(source, box, mode)
    else:
        assert geometry.resized == source
    out_width, out_height = geometry.output
    if mode == "pad":
        assert geometry.output == (box.width, box.height)
    else:
        assert out_width <= box.width and out_height <= box.height
    assert_window_consistent(geometry)


@PROPERTY
@given(source=sizes, length=sides, upscale=st.booleans())
def test_shorter_property(source, length, upscale):
    geometry = compute(source, Sizing("shorter", length=length), upscale=upscale)
    shorter = min(source)
    ratio = Fraction(length, shorter)
    if not upscale and ratio > 1:
        ratio = Fraction(1)
    assert min(geometry.resized) == half_up(shorter * ratio)
    if upscale or length <= shorter:
        assert min(geometry.resized) == length
    assert_rounded_scaling(source, geometry.resized, ratio)
    assert_window_consistent(geometry)


@PROPERTY
@given(source=sizes, length=sides, upscale=st.booleans())
def test_longer_property(source, length, upscale):
    geometry = compute(source, Sizing("longer", length=length), upscale=upscale)
    longer = max(source)
    ratio = Fraction(length, longer)
    if not upscale and ratio > 1:
        ratio = Fraction(1)
    if upscale or length <= longer:
        assert max(geometry.resized) == length
    else:
        assert geometry.resized == source
    assert_rounded_scaling(source, geometry.resized, ratio)
    assert_window_consistent(geometry)


@PROPERTY
@given(source=sizes, width=sides)
def test_width_only_property(source, width):
    geometry = compute(source, Sizing("size", width=width))
    assert geometry.resized[0] == width
    assert_rounded_scaling(source, geometry.resized, Fraction(width, source[0]))
    assert_window_consistent(geometry)


@PROPERTY
@given(source=sizes, height=sides)
def test_height_only_property(source, height):
    geometry = compute(source, Sizing("size", height=height))
    assert geometry.resized[1] == height
    assert_rounded_scaling(source, geometry.resized, Fraction(height, source[1]))
    assert_window_consistent(geometry)


@PROPERTY
@given(source=sizes, factor=factors, upscale=st.booleans())
def test_scale_property(source, factor, upscale):
    geometry = compute(source, Sizing("scale", factor=factor), upscale=upscale)
    applied = factor if upscale or factor <= 1 else Fraction(1)
    assert geometry.resized == (half_up(source[0] * applied), half_up(source[1] * applied))
    assert geometry.output == geometry.resized
    assert_rounded_scaling(source, geometry.resized, applied)


@PROPERTY
@given(
    source=sizes,
    sizing=any_sizing,
    mode=st.sampled_from(MODES),
    crop=sizes,
    upscale=st.booleans(),
)
def test_crop_property(source, sizing, mode, crop, upscale):
    if not sizing.has_box:
        mode = "fit"
    before = compute(source, sizing, mode, upscale=upscale)
    geometry = compute(source, sizing, mode, crop=crop, upscale=upscale)
    assert geometry.resized == before.resized
    assert geometry.output == crop
    left, top, _, _ = geometry.window
    outer_left, outer_top, _, _ = before.window
    before_width, before_height = before.output
    assert_centred(before_width, left - outer_left, crop[0])
    assert_centred(before_height, top - outer_top, crop[1])
    assert_window_consistent(geometry)


@PROPERTY
@given(source=sizes, sizing=any_sizing, mode=st.sampled_from(MODES), upscale=st.booleans())
def test_no_side_is_ever_below_one_pixel(source, sizing, mode, upscale):
    if not sizing.has_box:
        mode = "fit"
    geometry = compute(source, sizing, mode, upscale=upscale)
    assert_window_consistent(geometry)
    if geometry.window == (0, 0, *geometry.resized):
        assert geometry.output == geometry.resized


@pytest.mark.parametrize("orientation", range(1, 9))
def test_box_in_stored_picks_the_same_pixels_before_the_exif_turn(orientation):
    """Cropping the stored image at the mapped box, then turning it upright, must give exactly
    the upright image's crop: the fast path resizes before turning and relies on this."""
    import numpy as np
    from PIL import Image

    from resizer.codecs import orient_image

    rng = np.random.default_rng(orientation)
    stored = Image.fromarray(rng.integers(0, 255, size=(7, 11, 3), dtype=np.uint8))
    upright = orient_image(stored, orientation)
    for box in [(0, 0, *upright.size), (1, 2, 4, 6), (0, 3, upright.size[0], 5), (2, 0, 3, 1)]:
        mapped = box_in_stored(box, upright.size, orientation)
        expected = np.asarray(upright.crop(box))
        actual = np.asarray(orient_image(stored.crop(mapped), orientation))
        assert np.array_equal(actual, expected), (orientation, box, mapped)


def test_pixel_limit_skips_the_resized_image_when_only_the_kept_part_is_built():
    """--shorter 100 --crop 10x10 on 200x100: the resized image (200x100) is over 1000 pixels,
    but a resize that builds only the 10x10 it keeps needs no more than the output."""
    geometry = compute((200, 100), Sizing("shorter", length=100), "fit", (10, 10))
    assert over_pixel_limit(geometry, 1000, resized_whole=False) is None
    assert "resized image" in over_pixel_limit(geometry, 1000, resized_whole=True)
    assert "output would be 10x10" in over_pixel_limit(geometry, 99, resized_whole=False)
