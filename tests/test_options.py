"""From what a user types or passes to one Settings: sizes, colours, aliases, recipes (and the
torchvision-eval recipe's pixels against torchvision's transform), and the rule that makes OUT
an output file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import photo_array, save_photo
from PIL import Image

import resizer
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


# --- parity with torchvision's evaluation transform ---------------------------------------------


def torchvision_eval(image: Image.Image) -> Image.Image:
    """`CenterCrop(224)(Resize(256)(image))` on a PIL image, by torchvision's arithmetic:
    Resize(256) makes the shorter side 256 and the longer `int(256 * long / short)`, resized with
    Pillow's bilinear (`image.resize((w, h), BILINEAR)`); CenterCrop(224) cuts at
    `int(round((side - 224) / 2.0))`."""
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = 256, int(256 * long / short)
    size = (new_short, new_long) if width <= height else (new_long, new_short)
    resized = image.resize(size, Image.Resampling.BILINEAR)
    left = int(round((size[0] - 224) / 2.0))  # noqa: RUF046 (torchvision's spelling)
    top = int(round((size[1] - 224) / 2.0))  # noqa: RUF046
    return resized.crop((left, top, left + 224, top + 224))


# Landscape, portrait, square, extreme, smaller than the crop (upscaled), and sizes whose
# longer side torchvision truncates where half-up rounding would round up (640x427: 383.7).
PARITY_SIZES = [
    (500, 375), (375, 500), (640, 427), (427, 640), (1000, 667), (256, 256), (300, 300),
    (257, 1024), (1024, 257), (100, 80), (224, 224), (333, 999), (1920, 1080), (511, 256),
    (1365, 2048), (701, 467),
]  # fmt: skip


def textured(width: int, height: int, seed: int) -> np.ndarray:
    """A photo-like image of any size, cheaply: a small photo enlarged, plus fine noise."""
    small = photo_array(max(8, width // 16), max(8, height // 16), seed=seed)
    smooth = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    noise = np.random.default_rng(seed).integers(-12, 13, size=smooth.shape, dtype=np.int16)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


def parity_tree(folder: Path) -> Path:
    for index, (width, height) in enumerate(PARITY_SIZES):
        rgb = textured(width, height, seed=index)
        Image.fromarray(rgb).save(folder / f"rgb/{width}x{height}.jpg", quality=90)
        if index % 4 == 0:
            Image.fromarray(rgb).save(folder / f"png/{width}x{height}.png")
            Image.fromarray(rgb[..., 0]).save(folder / f"grey/{width}x{height}.jpg", quality=90)
    return folder


@pytest.fixture(scope="module")
def parity_sources(tmp_path_factory) -> Path:
    """Made once for the module: the sources are only read."""
    folder = tmp_path_factory.mktemp("parity")
    for name in ("rgb", "png", "grey"):
        (folder / name).mkdir()
    return parity_tree(folder)


def test_torchvision_eval_recipe_is_bit_identical_to_resize_256_centre_crop_224(
    parity_sources, tmp_path
):
    """The torchvision-eval recipe's PNG outputs hold exactly torchvision's pixels, for JPEG
    and PNG sources of many sizes and aspect ratios; a grey source is written as one channel,
    equal to each channel of torchvision's RGB (ImageFolder converts to RGB first)."""
    result = resizer.resize(parity_sources, tmp_path / "out", recipe="torchvision-eval", jobs=1)
    assert result.exit_code == 0
    assert len(result.records) == len(list(parity_sources.rglob("*.*")))
    for record in result.records:
        with Image.open(parity_sources / record["source"]) as image:
            expected = np.asarray(torchvision_eval(image.convert("RGB")))
        with Image.open(tmp_path / "out" / record["output"]) as output:
            assert output.format == "PNG"
            actual = np.asarray(output)
        if actual.ndim == 2:
            actual = np.dstack([actual] * 3)
        assert np.array_equal(actual, expected), record["source"]


def test_torchvision_eval_recipe_in_memory(parity_sources):
    for path in sorted(parity_sources.glob("rgb/*.jpg")):
        with Image.open(path) as image:
            resized = resizer.resize_image(image, recipe="torchvision-eval")
            expected = torchvision_eval(image.convert("RGB"))
        assert np.array_equal(np.asarray(resized.image), np.asarray(expected)), path.name


def test_without_floor_rounding_the_longer_side_can_differ_from_torchvision(tmp_path):
    """Why the recipe sets --rounding floor: half-up makes 640x427 384 wide, torchvision 383."""
    image = Image.fromarray(photo_array(640, 427, seed=1))
    options = {"shorter": 256, "crop": (224, 224), "interpolation": "bilinear", "exact": True}
    half_up = resizer.resize_image(image, **options)
    floor = resizer.resize_image(image, rounding="floor", **options)
    assert (half_up.resize, floor.resize) == ((384, 256), (383, 256))
    expected = np.asarray(torchvision_eval(image))
    assert np.array_equal(np.asarray(floor.image), expected)
    assert not np.array_equal(np.asarray(half_up.image), expected)


def test_torchvision_itself_when_installed(parity_sources):
    """An optional oracle: torchvision's own transform, where it is installed."""
    transforms = pytest.importorskip("torchvision.transforms", reason="torchvision not installed")
    pipeline = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    for path in sorted(parity_sources.glob("*/*.*")):
        with Image.open(path) as image:
            expected = np.asarray(pipeline(image.convert("RGB")))
            resized = resizer.resize_image(image.convert("RGB"), recipe="torchvision-eval")
        assert np.array_equal(np.asarray(resized.image), expected), path
