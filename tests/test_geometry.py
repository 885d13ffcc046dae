"""The size arithmetic of every mode and sizing option: hand-computed cases, then properties.

Sizes are (width, height). A window is (left, top, right, bottom) in resized-image pixels;
where it reaches outside the resized image, the output is padded there.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resizer.geometry import MODES, Sizing, box_in_stored, compute, over_pixel_limit

PROPERTY = settings(max_examples=200, deadline=None)

BOX_224 = Sizing("size", width=224, height=224)
LANDSCAPE = (4000, 3000)
PORTRAIT = (3000, 4000)
SQUARE = (3000, 3000)


def half_up(value: Fraction) -> int:
    """The documented rounding of a scaled side: floor(x + 1/2), never below 1."""
    return max(1, math.floor(value + Fraction(1, 2)))


# --- hand-computed cases ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "resized"),
    [
        (LANDSCAPE, (224, 168)),
        (PORTRAIT, (168, 224)),
        (SQUARE, (224, 224)),
        ((1, 1), (224, 224)),
        ((1, 5000), (1, 224)),  # 0.0448 px wide: never below 1
        ((5000, 1), (224, 1)),
        ((1000, 3000), (75, 224)),  # 74.67 -> 75
    ],
)
def test_fit_keeps_aspect_inside_the_box(source, resized):
    geometry = compute(source, BOX_224, "fit")
    assert geometry.resized == resized
    assert geometry.window == (0, 0, *resized)
    assert geometry.output == resized
    assert geometry.crop_box == (0, 0, *resized)
    assert geometry.pad_offset == (0, 0)


@pytest.mark.parametrize(
    ("source", "resized", "window"),
    [
        # 4000 * 224/3000 = 298.67 -> 299; (299 - 224) / 2 = 37.5 -> 38, as torchvision's CenterCrop
        (LANDSCAPE, (299, 224), (38, 0, 262, 224)),
        (PORTRAIT, (224, 299), (0, 38, 224, 262)),
        (SQUARE, (224, 224), (0, 0, 224, 224)),
        ((1, 1), (224, 224), (0, 0, 224, 224)),
        # (297 - 224) / 2 = 36.5 -> 36: half to even, as torchvision's CenterCrop
        ((297, 224), (297, 224), (36, 0, 260, 224)),
        ((1, 5000), (224, 1120000), (0, 559888, 224, 560112)),
        ((5000, 1), (1120000, 224), (559888, 0, 560112, 224)),
    ],
)
def test_fill_covers_the_box_and_centre_crops(source, resized, window):
    geometry = compute(source, BOX_224, "fill")
    assert geometry.resized == resized
    assert geometry.window == window
    assert geometry.output == (224, 224)
    assert geometry.crop_box == window
    assert geometry.pad_offset == (0, 0)
    assert not geometry.needs_pad


@pytest.mark.parametrize(
    ("source", "resized", "pad_offset"),
    [
        (LANDSCAPE, (224, 168), (0, 28)),
        (PORTRAIT, (168, 224), (28, 0)),
        (SQUARE, (224, 224), (0, 0)),
        ((1, 1), (224, 224), (0, 0)),
        ((1, 5000), (1, 224), (111, 0)),  # 223 px of padding: the smaller half (111) first
        ((5000, 1), (224, 1), (0, 111)),
    ],
)
def test_pad_fits_then_centres_on_the_canvas(source, resized, pad_offset):
    geometry = compute(source, BOX_224, "pad")
    assert geometry.resized == resized
    assert geometry.output == (224, 224)
    assert geometry.pad_offset == pad_offset
    assert geometry.crop_box == (0, 0, *resized)
    left, top = pad_offset
    assert geometry.window == (-left, -top, 224 - left, 224 - top)
    assert geometry.needs_pad == (resized != (224, 224))


@pytest.mark.parametrize("source", [LANDSCAPE, PORTRAIT, SQUARE, (1, 1), (1, 5000), (5000, 1)])
def test_stretch_is_exactly_the_box(source):
    geometry = compute(source, Sizing("size", width=224, height=160), "stretch")
    assert geometry.resized == (224, 160)
    assert geometry.window == (0, 0, 224, 160)
    assert geometry.output == (224, 160)


@pytest.mark.parametrize(
    ("source", "sizing", "resized"),
    [
        (LANDSCAPE, Sizing("size", width=640), (640, 480)),
        (PORTRAIT, Sizing("size", width=640), (640, 853)),  # 853.33
        (SQUARE, Sizing("size", width=640), (640, 640)),
        ((1, 5000), Sizing("size", width=640), (640, 3200000)),
        ((5000, 1), Sizing("size", width=640), (640, 1)),  # 0.128 -> 1
        (LANDSCAPE, Sizing("size", height=480), (640, 480)),
        (PORTRAIT, Sizing("size", height=480), (360, 480)),
        ((1, 5000), Sizing("size", height=480), (1, 480)),
        ((1, 1), Sizing("size", height=480), (480, 480)),
        (LANDSCAPE, Sizing("shorter", length=256), (341, 256)),  # 341.33
        (PORTRAIT, Sizing("shorter", length=256), (256, 341)),
        (SQUARE, Sizing("shorter", length=256), (256, 256)),
        ((1, 5000), Sizing("shorter", length=256), (256, 1280000)),
        ((1, 1), Sizing("shorter", length=256), (256, 256)),
        ((1500, 1000), Sizing("shorter", length=3), (5, 3)),  # exactly 4.5: half up, not to even
        (LANDSCAPE, Sizing("longer", length=256), (256, 192)),
        (PORTRAIT, Sizing("longer", length=256), (192, 256)),
        ((1, 5000), Sizing("longer", length=256), (1, 256)),
        ((5000, 1), Sizing("longer", length=256), (256, 1)),
        (LANDSCAPE, Sizing("scale", factor=Fraction(1, 2)), (2000, 1500)),
        ((3, 1), Sizing("scale", factor=Fraction(1, 2)), (2, 1)),  # 1.5 -> 2, 0.5 -> 1
        ((5, 5), Sizing("scale", factor=Fraction(1, 2)), (3, 3)),  # 2.5 -> 3
        ((1, 1), Sizing("scale", factor=Fraction(1, 2)), (1, 1)),
        ((7, 3), Sizing("scale", factor=Fraction(1, 10)), (1, 1)),  # 0.7 -> 1, 0.3 -> 1
        ((1, 5000), Sizing("scale", factor=Fraction(3, 2)), (2, 7500)),
    ],
)
def test_single_side_sizings(source, sizing, resized):
    geometry = compute(source, sizing)
    assert geometry.resized == resized
    assert geometry.output == resized
    assert geometry.window == (0, 0, *resized)


def test_imagenet_evaluation_resize_256_then_centre_crop_224():
    """torchvision Resize(256) + CenterCrop(224) on a 500x375 photo."""
    geometry = compute((500, 375), Sizing("shorter", length=256), crop=(224, 224))
    assert geometry.resized == (341, 256)
    # (341 - 224) / 2 = 58.5 -> 58 and (256 - 224) / 2 = 16
    assert geometry.window == (58, 16, 282, 240)
    assert geometry.crop_box == (58, 16, 282, 240)
    assert geometry.output == (224, 224)
    assert geometry.pad_offset == (0, 0)


def test_crop_larger_than_the_image_pads_like_torchvision_centre_crop():
    """CenterCrop(8) of a 5x5 image pads (8 - 5) // 2 = 1 before and 2 after."""
    geometry = compute((5, 5), Sizing("scale", factor=Fraction(1)), crop=(8, 8))
    assert geometry.window == (-1, -1, 7, 7)
    assert geometry.pad_offset == (1, 1)
    assert geometry.crop_box == (0, 0, 5, 5)
    assert geometry.output == (8, 8)


@pytest.mark.parametrize(("image", "crop", "offset"), [(5, 6, 0), (5, 7, 1), (5, 9, 2), (5, 12, 3)])
def test_crop_padding_puts_the_smaller_half_first(image, crop, offset):
    geometry = compute((image, image), Sizing("scale", factor=Fraction(1)), crop=(crop, crop))
    assert geometry.pad_offset == (offset, offset)
    assert geometry.window == (-offset, -offset, crop - offset, crop - offset)


def test_crop_that_pads_one_side_and_crops_the_other():
    geometry = compute((100, 10), Sizing("scale", factor=Fraction(1)), crop=(50, 20))
    assert geometry.window == (25, -5, 75, 15)
    assert geometry.crop_box == (25, 0, 75, 10)
    assert geometry.pad_offset == (0, 5)
    assert geometry.output == (50, 20)


def test_crop_after_pad_cuts_the_padded_canvas():
    geometry = compute(LANDSCAPE, BOX_224, "pad", crop=(200, 200))
    # canvas window (0, -28, 224, 196), then 12 px off each side
    assert geometry.window == (12, -16, 212, 184)
    assert geometry.crop_box == (12, 0, 212, 168)
    assert geometry.pad_offset == (0, 16)
    assert geometry.output == (200, 200)


@pytest.mark.parametrize(
    ("mode", "source", "resized", "window"),
    [
        ("fit", (100, 50), (100, 50), (0, 0, 100, 50)),
        ("fit", (448, 100), (224, 50), (0, 0, 224, 50)),  # a shrink is still done
        ("pad", (100, 50), (100, 50), (-62, -87, 162, 137)),
        ("fill", (100, 50), (100, 50), (0, 0, 100, 50)),
        ("fill", (300, 100), (300, 100), (38, 0, 262, 100)),  # cropped to at most 224x224
        ("fill", LANDSCAPE, (299, 224), (38, 0, 262, 224)),
        ("stretch", (300, 100), (224, 100), (0, 0, 224, 100)),
        ("stretch", (100, 50), (100, 50), (0, 0, 100, 50)),
    ],
)
def test_no_upscale_keeps_small_images_their_own_size(mode, source, resized, window):
    geometry = compute(source, BOX_224, mode, upscale=False)
    assert geometry.resized == resized
    assert geometry.window == window


@pytest.mark.parametrize(
    ("sizing", "resized"),
    [
        (Sizing("size", width=640), (200, 100)),
        (Sizing("size", height=480), (200, 100)),
        (Sizing("shorter", length=256), (200, 100)),
        (Sizing("longer", length=256), (200, 100)),
        (Sizing("scale", factor=Fraction(2)), (200, 100)),
        (Sizing("scale", factor=Fraction(1, 2)), (100, 50)),
        (Sizing("longer", length=100), (100, 50)),
    ],
)
def test_no_upscale_with_single_side_sizings(sizing, resized):
    geometry = compute((200, 100), sizing, upscale=False)
    assert geometry.resized == resized
    assert geometry.is_identity == (resized == (200, 100))


def test_unchanged_image_is_identity_and_record_lists_the_geometry():
    assert compute((224, 224), BOX_224, "fill").is_identity
    padded = compute(LANDSCAPE, BOX_224, "pad")
    assert not padded.is_identity
    assert padded.as_record() == {
        "resize": [224, 168],
        "crop_box": [0, 0, 224, 168],
        "pad_offset": [0, 28],
    }


@pytest.mark.parametrize(
    ("sizing", "mode", "crop", "message"),
    [
        (Sizing("size", width=40, height=40), "fit", None, None),  # 40x20 = 800
        (Sizing("size", width=40, height=40), "fill", None, "resized image would be 80x40 = 3200"),
        (Sizing("shorter", length=100), "fit", (10, 10), "resized image would be 200x100 = 20000"),
        (Sizing("size", width=40, height=40), "pad", None, "output would be 40x40 = 1600"),
        (Sizing("scale", factor=Fraction(1, 10)), "fit", (50, 50), "output would be 50x50 = 2500"),
    ],
)
def test_pixel_limit_applies_to_the_resized_image_and_the_output(sizing, mode, crop, message):
    geometry = compute((200, 100), sizing, mode, crop)
    problem = over_pixel_limit(geometry, 1000)
    if message is None:
        assert problem is None
    else:
        assert message in problem and "over the limit of 1000 (--max-pixels)" in problem
    assert over_pixel_limit(geometry, None) is None


@pytest.mark.parametrize("source", [(0, 10), (10, 0), (-1, 5)])
def test_empty_source_is_rejected(source):
    with pytest.raises(ValueError, match="positive"):
        compute(source, BOX_224)


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="cover"):
        compute(LANDSCAPE, BOX_224, "cover")


@pytest.mark.parametrize(
    ("sizing", "text"),
    [
        (BOX_224, "size 224x224"),
        (Sizing("size", width=640), "size 640"),
        (Sizing("size", height=480), "size x480"),
        (Sizing("shorter", length=256), "shorter 256"),
        (Sizing("longer", length=128), "longer 128"),
        (Sizing("scale", factor=Fraction(1, 2)), "scale 0.5"),
    ],
)
def test_sizing_describes_itself(sizing, text):
    assert sizing.describe() == text
    assert sizing.has_box == (sizing is BOX_224)


# --- properties over sizes 1..20000 ---------------------------------------------------------

sides = st.integers(1, 20000)
sizes = st.tuples(sides, sides)
factors = st.fractions(min_value=Fraction(1, 20000), max_value=20, max_denominator=20000)
boxes = st.builds(lambda width, height: Sizing("size", width=width, height=height), sides, sides)
any_sizing = st.one_of(
    boxes,
    st.builds(lambda width: Sizing("size", width=width), sides),
    st.builds(lambda height: Sizing("size", height=height), sides),
    st.builds(lambda length: Sizing("shorter", length=length), sides),
    st.builds(lambda length: Sizing("longer", length=length), sides),
    st.builds(lambda factor: Sizing("scale", factor=factor), factors),
)


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


# --- rounding: half-up (resizer) or floor (torchvision) ------------------------------------


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
