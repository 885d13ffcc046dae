"""The size arithmetic of every mode and sizing option: hand-computed cases (properties in
test_geometry_properties.py, rounding in test_geometry_rounding.py).

Sizes are (width, height). A window is (left, top, right, bottom) in resized-image pixels;
where it reaches outside the resized image, the output is padded there.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from geometry_cases import BOX_224, LANDSCAPE, PORTRAIT, SQUARE

from resizer.geometry import Sizing, compute, over_pixel_limit

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
