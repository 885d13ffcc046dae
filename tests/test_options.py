"""From what a user types or passes to one Settings: sizes, colours, aliases, recipes and the rule
that makes OUT an output file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from conftest import save_photo

from resizer.geometry import Sizing
from resizer.options import RECIPES, make_settings, parse_scale, parse_size
from resizer.settings import OptionError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("224x224", (224, 224)),
        (" 224 × 160 ", (224, 160)),
        ("640", (640, None)),
        ("x480", (None, 480)),
        (640, (640, None)),
        ((224, 160), (224, 160)),
        ([224, None], (224, None)),
    ],
)
def test_sizes_as_text_or_tuples(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ((1.5, 2), "sides must be whole numbers"),
        ((1, 2, 3), "give (width, height)"),
        ((0, 5), "sides must be at least 1 pixel"),
        ("x", "is not a size"),
    ],
)
def test_bad_sizes(value, message):
    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_size(value)


@pytest.mark.parametrize(
    ("value", "factor"),
    [(0.1, Fraction(1, 10)), ("0.25", Fraction(1, 4)), (2, Fraction(2)), ("1/3", Fraction(1, 3))],
)
def test_scale_factors_are_exact(value, factor):
    """A float is read by its shortest decimal: 0.1 is 1/10, not 0.1000000000000000055..."""
    assert parse_scale(value) == factor


def settings(tmp_path: Path, **options):
    return make_settings(tmp_path / "src", tmp_path / "out", **options)


ALIASES = [
    ({"interpolation": "linear"}, {"interpolation": "bilinear"}),
    ({"interpolation": "cubic"}, {"interpolation": "bicubic"}),
    ({"interpolation": "lanczos4"}, {"interpolation": "lanczos"}),
    ({"interpolation": "box"}, {"interpolation": "area"}),
    ({"interpolation": "BILINEAR"}, {"interpolation": "bilinear"}),
    ({"format": "jpg"}, {"format": "jpeg"}),
    ({"format": "tif"}, {"format": "tiff"}),
    ({"format": "JPG"}, {"format": "jpeg"}),
    ({"backend": "OpenCV"}, {"backend": "opencv"}),
    ({"mode": "Fill", "size": "9x9"}, {"mode": "fill", "size": "9x9"}),
]


@pytest.mark.parametrize(("alias", "canonical"), ALIASES)
def test_aliases_are_normalised_before_settings(tmp_path, alias, canonical):
    """An OpenCV or Pillow user's name gives the same Settings, so the same fingerprint."""
    made = settings(tmp_path, **{"size": 64, **alias})
    assert made == settings(tmp_path, **{"size": 64, **canonical})
    assert made.fingerprint == settings(tmp_path, **{"size": 64, **canonical}).fingerprint


def test_recipe_sets_its_options(tmp_path):
    made = settings(tmp_path, recipe="torchvision-eval")
    assert made.sizing == Sizing("shorter", length=256)
    assert (made.crop, made.interpolation, made.rounding) == ((224, 224), "bilinear", "floor")
    assert (made.exact, made.backend, made.format) == (True, "pillow", "png")
    assert (made.mode, made.upscale, made.quality) == ("fit", True, 90)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"interpolation": "bicubic"}, {"interpolation": "bicubic", "rounding": "floor"}),
        ({"interpolation": "lanczos"}, {"interpolation": "lanczos"}),  # equal to the default
        ({"exact": False}, {"exact": False}),
        ({"format": "jpg"}, {"format": "jpeg"}),
        ({"crop": "200x200"}, {"crop": (200, 200), "sizing": Sizing("shorter", length=256)}),
        ({"shorter": 288}, {"sizing": Sizing("shorter", length=288), "crop": (224, 224)}),
        ({"size": "300x300", "mode": "fill"}, {"sizing": Sizing("size", width=300, height=300)}),
    ],
)
def test_options_given_explicitly_win_over_the_recipe(tmp_path, given, expected):
    made = settings(tmp_path, recipe="torchvision-eval", **given)
    for name, value in expected.items():
        assert getattr(made, name) == value


def test_unknown_recipe_names_the_recipes(tmp_path):
    with pytest.raises(OptionError, match="--recipe 'imagenet' is not one of torchvision-eval"):
        settings(tmp_path, recipe="imagenet")
    assert set(RECIPES) == {"torchvision-eval"}


def test_unknown_option_is_refused(tmp_path):
    with pytest.raises(OptionError, match="unknown option 'colour'"):
        settings(tmp_path, size=9, colour="red")


# --- OUT as an output file --------------------------------------------------------------------


def test_out_with_an_image_extension_and_one_source_file_is_the_output_file(tmp_path):
    source = save_photo(tmp_path / "photo.png", 20, 10)
    made = make_settings(source, tmp_path / "thumbs" / "Small.JPG", size=8)
    assert (made.out, made.output_name, made.format) == (tmp_path / "thumbs", "Small.JPG", "jpeg")
    assert made.manifest_path == tmp_path / "thumbs" / "Small.manifest.jsonl"


@pytest.mark.parametrize(
    ("make_sources", "out", "message"),
    [
        (lambda p: [p / "a.png", p / "b.png"], "small.jpg", "takes exactly one SRC image file"),
        (lambda p: [p], "small.jpg", "takes exactly one SRC image file"),
        (lambda p: [p / "a.png"], "small.gif", "name the output .jpg, .png, .webp or .tif"),
        (lambda p: [p / "a.png"], "notes.txt", "is a file, not a folder"),
    ],
)
def test_out_as_a_file_needs_one_source_file(tmp_path, make_sources, out, message):
    save_photo(tmp_path / "a.png", 20, 10)
    save_photo(tmp_path / "b.png", 20, 10)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(OptionError, match=message.replace(".", r"\.")):
        make_settings(make_sources(tmp_path), tmp_path / out, size=8)


def test_format_contradicting_the_output_file_name(tmp_path):
    source = save_photo(tmp_path / "photo.png", 20, 10)
    with pytest.raises(OptionError, match="--format png contradicts the output file name"):
        make_settings(source, tmp_path / "small.jpg", size=8, format="png")
    assert make_settings(source, tmp_path / "small.jpg", size=8, format="jpg").format == "jpeg"


def test_an_existing_folder_with_an_image_extension_stays_a_folder(tmp_path):
    source = save_photo(tmp_path / "photo.png", 20, 10)
    (tmp_path / "odd.png").mkdir()
    made = make_settings(source, tmp_path / "odd.png", size=8)
    assert (made.out, made.output_name) == (tmp_path / "odd.png", None)
