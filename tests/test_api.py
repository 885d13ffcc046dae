"""`import resizer` as a Python user calls it: `resizer.resize` is the command as a function (same
options, validation, outputs), `resizer.resize_image` gives the batch job's pixels in memory,
and both work from scripts without a main guard, from stdin and from notebooks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLE_IMAGES, photo_array, read_records, save_photo
from PIL import Image

import resizer

BACKENDS = ("pillow", "opencv")
KERNELS = ("nearest", "bilinear", "bicubic", "lanczos", "area")
ROOT = Path(__file__).resolve().parent.parent


# --- resizer.resize: the command as a function -------------------------------------------------


def test_resize_returns_counts_exit_status_and_records(photo_tree, tmp_path):
    (photo_tree / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result = resizer.resize(str(photo_tree), str(tmp_path / "out"), size="32x32", jobs=1)
    assert (result.ok, result.skipped, result.failed, result.exit_code) == (3, 0, 1, 1)
    assert result.manifest == tmp_path / "out" / "manifest.jsonl"
    records = result.records
    assert records == read_records(result.manifest)
    assert [(r["source"], r["status"]) for r in records] == [
        ("cats/a.jpg", "ok"),
        ("cats/b.png", "ok"),
        ("dogs/broken.png", "failed"),
        ("dogs/c.jpg", "ok"),
    ]
    assert result.run_record["summary"]["exit_code"] == 1
    again = resizer.resize(photo_tree, tmp_path / "out", size=(32, 32), jobs=1)
    assert (again.ok, again.skipped, again.failed) == (0, 3, 1)


def test_resize_and_the_command_write_the_same_bytes(photo_tree, tmp_path, run_cli):
    """One implementation: same options, same fingerprint, same output files."""
    cli_out, api_out = tmp_path / "cli", tmp_path / "api"
    typed = ("--size", "40x30", "--mode", "pad", "--pad-color", "#808080", "--format", "webp")
    assert run_cli("resize", photo_tree, "-o", cli_out, "-j", "1", *typed).exit_code == 0
    result = resizer.resize(
        [photo_tree], api_out, size="40x30", mode="pad", pad_color="#808080", format="webp", jobs=1
    )
    assert result.exit_code == 0
    by_cli = {r["source"]: r for r in read_records(cli_out / "manifest.jsonl")}
    for record in result.records:
        twin = by_cli[record["source"]]
        assert (record["sha256"], record["fingerprint"]) == (twin["sha256"], twin["fingerprint"])


@pytest.mark.parametrize(
    ("api", "cli"),
    [
        ({"size": (64, 48)}, ("--size", "64x48")),
        ({"size": (64, None)}, ("--size", "64")),
        ({"size": 64}, ("--size", "64")),
        ({"size": (None, 48)}, ("--size", "x48")),
        ({"scale": 0.25}, ("--scale", "0.25")),
        ({"shorter": 40, "crop": (32, 32)}, ("--shorter", "40", "--crop", "32x32")),
        (
            {"size": "64x64", "pad_color": (255, 128, 0)},
            ("--size", "64x64", "--pad-color", "#ff8000"),
        ),
    ],
)
def test_python_values_mean_what_the_typed_options_mean(photo_tree, tmp_path, run_cli, api, cli):
    out = tmp_path / "cli"
    assert run_cli("resize", photo_tree, "-o", out, "-j1", *cli).exit_code == 0
    typed = read_records(out / "manifest.jsonl")
    result = resizer.resize(photo_tree, tmp_path / "api", jobs=1, **api)
    assert [(r["width"], r["height"], r["fingerprint"]) for r in result.records] == [
        (r["width"], r["height"], r["fingerprint"]) for r in typed
    ]


BAD_OPTIONS = [
    ({"size": "64", "mode": "cover"}, ("--size", "64", "--mode", "cover")),
    ({"size": "64", "interpolation": "sinc"}, ("--size", "64", "--interpolation", "sinc")),
    ({"size": "64", "backend": "vips"}, ("--size", "64", "--backend", "vips")),
    ({"size": "64", "format": "avif"}, ("--size", "64", "--format", "avif")),
    ({"size": "64", "quality": 0}, ("--size", "64", "--quality", "0")),
    ({"size": "64", "rounding": "ceil"}, ("--size", "64", "--rounding", "ceil")),
    ({"size": "0x10"}, ("--size", "0x10")),
    ({"size": "abc"}, ("--size", "abc")),
    ({}, ()),
    ({"size": "64", "shorter": 9}, ("--size", "64", "--shorter", "9")),
    ({"shorter": 9, "mode": "fill"}, ("--shorter", "9", "--mode", "fill")),
    ({"shorter": 9, "crop": "224"}, ("--shorter", "9", "--crop", "224")),
    ({"scale": "half"}, ("--scale", "half")),
    ({"scale": -0.5}, ("--scale", "-0.5")),
    ({"size": "64", "pad_color": "notacolour"}, ("--size", "64", "--pad-color", "notacolour")),
    ({"size": "64", "jobs": 0}, ("--size", "64", "--jobs", "0")),
    ({"size": "64", "timeout": 0}, ("--size", "64", "--timeout", "0")),
    ({"recipe": "keras"}, ("--recipe", "keras")),
    (
        {"size": "8x8", "mode": "fill", "crop": (9, 9)},
        ("--size", "8x8", "--mode", "fill", "--crop", "9x9"),
    ),
]


@pytest.mark.parametrize(("api", "cli"), BAD_OPTIONS)
def test_bad_options_raise_at_once_with_the_commands_message(
    photo_tree, tmp_path, run_cli, api, cli
):
    """Validated before anything is read or written; the command shows the same sentence."""
    out = tmp_path / "out"
    with pytest.raises(ValueError) as caught:
        resizer.resize(photo_tree, out, **api)
    assert isinstance(caught.value, resizer.OptionError)
    assert not out.exists()
    typed = run_cli("resize", photo_tree, "-o", out, *cli)
    assert typed.exit_code == 2
    assert typed.stderr.endswith(f"Error: {caught.value}\n")
    assert not out.exists()


def test_a_bad_mode_no_longer_fails_every_image_of_a_successful_run(photo_tree, tmp_path):
    from resizer.geometry import Sizing
    from resizer.settings import Settings

    with pytest.raises(resizer.OptionError, match="--mode 'cover'"):
        Settings(
            sources=(photo_tree,), out=tmp_path / "out", sizing=Sizing("size", 9, 9), mode="cover"
        )


def test_usage_errors_of_the_inputs_raise_plan_error(photo_tree):
    with pytest.raises(resizer.PlanError, match="is inside SRC"):
        resizer.resize(photo_tree, photo_tree / "small", size=32)


def test_dry_run_lists_the_work_and_writes_nothing(photo_tree, tmp_path):
    result = resizer.resize(photo_tree, tmp_path / "out", size=32, format="png", dry_run=True)
    assert result.to_do == [
        {"source": "cats/a.jpg", "output": "cats/a.png"},
        {"source": "cats/b.png", "output": "cats/b.png"},
        {"source": "dogs/c.jpg", "output": "dogs/c.png"},
    ]
    assert (result.exit_code, result.records, result.manifest) == (0, [], None)
    assert not (tmp_path / "out").exists()


def test_an_output_file_run_removes_no_other_file_of_its_folder(tmp_path):
    """A folder of single-file outputs is shared: a killed run's journal there names another
    output, which a run writing another file must not take for its own stale output."""
    source = save_photo(tmp_path / "in" / "photo.png", 120, 80)
    first = resizer.resize(source, tmp_path / "thumbs" / "a.jpg", longer=60, jobs=1)
    journal = tmp_path / "thumbs" / ".resizer-journal.jsonl"
    journal.write_text(json.dumps(first.records[0]) + "\n")  # as a killed run leaves it
    other = save_photo(tmp_path / "in2" / "photo.png", 90, 90, seed=2)
    second = resizer.resize(other, tmp_path / "thumbs" / "b.jpg", longer=60, jobs=1)
    assert (second.ok, second.removed) == (1, 0)
    assert (tmp_path / "thumbs" / "a.jpg").exists()


def test_one_source_file_to_an_output_file_name(tmp_path):
    source = save_photo(tmp_path / "in" / "photo.png", 120, 80)
    result = resizer.resize(source, tmp_path / "thumbs" / "small.jpg", longer=60, jobs=1)
    assert result.exit_code == 0
    with Image.open(tmp_path / "thumbs" / "small.jpg") as image:
        assert (image.format, image.size) == ("JPEG", (60, 40))
    assert result.manifest == tmp_path / "thumbs" / "small.manifest.jsonl"
    assert [(r["source"], r["output"]) for r in result.records] == [("photo.png", "small.jpg")]


# --- resizer.resize_image: the batch job's pixels, in memory -------------------------------


def write_source(folder: Path, kind: str, size=(150, 90)) -> Path:
    """A photo-like PNG (or JPEG) source of one colour mode."""
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    rgb = photo_array(width, height, seed=7)
    alpha = np.tile(np.linspace(0, 255, width).astype(np.uint8), (height, 1))
    path = folder / f"{kind.replace(';', '')}.png"
    if kind == "RGB":
        Image.fromarray(rgb).save(path)
    elif kind == "RGBA":
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    elif kind == "L":
        Image.fromarray(rgb[..., 1]).save(path)
    elif kind == "LA":
        Image.fromarray(np.dstack([rgb[..., 1], alpha])).save(path)
    elif kind == "P":
        Image.fromarray(rgb).quantize(64).save(path, transparency=3)
    elif kind == "I;16":
        Image.fromarray(rgb[..., 0].astype(np.uint16) * 257 + 11).save(path)
    elif kind == "RGB;16":
        deep = rgb.astype(np.uint16) * 257 + 11
        cv2.imwrite(str(path), cv2.cvtColor(deep, cv2.COLOR_RGB2BGR))
    elif kind == "JPEG":
        path = path.with_suffix(".jpg")
        Image.fromarray(rgb).save(path, quality=90)
    return path


def read_png(path: Path) -> np.ndarray:
    """Pixels as stored (16-bit kept), colour in RGB(A) order."""
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array.ndim == 3:
        order = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
        array = cv2.cvtColor(array, order)
    return array


def batch_png(source: Path, out: Path, **options) -> tuple[np.ndarray, dict]:
    """The batch job's output for one file, written as PNG, and its manifest record."""
    result = resizer.resize(source, out / "out.png", jobs=1, **options)
    assert result.exit_code == 0, result.records
    return read_png(out / "out.png"), result.records[0]


def as_array(image) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image
    if image.mode == "LA":  # cv2 reads a grey+alpha PNG as BGRA
        grey, alpha = np.asarray(image)[..., 0], np.asarray(image)[..., 1]
        return np.dstack([grey, grey, grey, alpha])
    return np.asarray(image)


def assert_same_as_batch(memory, batch: np.ndarray, record: dict) -> None:
    assert np.array_equal(as_array(memory.image), batch)
    assert list(memory.resize) == record["resize"]
    assert list(memory.crop_box) == record["crop_box"]
    assert list(memory.pad_offset) == record["pad_offset"]
    assert memory.orientation == record["orientation"]


GEOMETRIES = {
    "fill": {"size": "64x64", "mode": "fill"},
    "pad": {"size": "64x64", "mode": "pad", "pad_color": "#ff8000"},
    "crop": {"shorter": 50, "crop": (56, 40)},
    "upscale": {"size": "300x200"},
}


@pytest.mark.parametrize("exact", [False, True], ids=["fast", "exact"])
@pytest.mark.parametrize("geometry", GEOMETRIES.values(), ids=GEOMETRIES.keys())
@pytest.mark.parametrize("kind", ["RGB", "RGBA", "L", "LA", "P", "I;16", "JPEG"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_resize_image_of_a_pil_image_is_the_batch_output(tmp_path, backend, kind, geometry, exact):
    source = write_source(tmp_path / "src", kind)
    options = {"backend": backend, "exact": exact, **geometry}
    batch, record = batch_png(source, tmp_path, **options)
    with Image.open(source) as image:
        memory = resizer.resize_image(image, **options)
    assert isinstance(memory.image, Image.Image)  # of the kind given, whatever the backend
    assert_same_as_batch(memory, batch, record)


@pytest.mark.parametrize("interpolation", KERNELS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_resize_image_matches_the_batch_output_for_every_kernel(tmp_path, backend, interpolation):
    source = write_source(tmp_path / "src", "RGBA", size=(211, 97))
    options = {"backend": backend, "interpolation": interpolation, "size": "50x50", "mode": "fill"}
    batch, record = batch_png(source, tmp_path, **options)
    memory = resizer.resize_image(np.asarray(Image.open(source)), **options)
    assert isinstance(memory.image, np.ndarray)
    assert_same_as_batch(memory, batch, record)


@pytest.mark.parametrize("channels", ["L", "RGB", "RGBA", "RGB;16", "I;16"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_resize_image_of_a_numpy_array_in_rgb_order(tmp_path, backend, channels):
    source = write_source(tmp_path / "src", channels)
    options = {"backend": backend, "size": "64x64", "mode": "pad"}
    batch, record = batch_png(source, tmp_path, **options)
    array = read_png(source)  # RGB order, 16 bits kept
    memory = resizer.resize_image(array, **options)
    assert memory.image.dtype == array.dtype
    assert memory.image.ndim == array.ndim
    assert_same_as_batch(memory, batch, record)


@pytest.mark.parametrize("exact", [False, True], ids=["fast", "exact"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_resize_image_applies_the_exif_orientation_like_the_batch_job(
    tmp_path, backend, suffix, orientation, exact
):
    """`Image.open` keeps the EXIF tag; the image is turned upright, as the batch job does
    (Pillow's TIFF reader turns it itself as it loads: reported all the same)."""
    source = tmp_path / "src" / f"photo{suffix}"
    source.parent.mkdir()
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = Image.fromarray(photo_array(160, 96, seed=3))
    if suffix == ".tif":
        stored.save(source, tiffinfo={0x0112: orientation})
    else:
        stored.save(source, exif=exif, **({"quality": 92} if suffix == ".jpg" else {}))
    options = {"backend": backend, "exact": exact, "size": "64x64", "mode": "fill"}
    batch, record = batch_png(source, tmp_path, **options)
    with Image.open(source) as image:
        memory = resizer.resize_image(image, **options)
    assert record["orientation"] == orientation
    assert_same_as_batch(memory, batch, record)


def test_resize_image_validates_like_resize():
    image = Image.new("RGB", (10, 10))
    with pytest.raises(resizer.OptionError, match="--mode 'cover' is not one of"):
        resizer.resize_image(image, "8x8", mode="cover")
    with pytest.raises(resizer.OptionError, match="give exactly one of"):
        resizer.resize_image(image)
    with pytest.raises(ValueError, match="dtype float32: give uint8 or uint16"):
        resizer.resize_image(np.zeros((4, 4, 3), np.float32), "2x2")
    with pytest.raises(ValueError, match="shape 4x4x5"):
        resizer.resize_image(np.zeros((4, 4, 5), np.uint8), "2x2")
    with pytest.raises(TypeError, match="PIL image or a numpy array"):
        resizer.resize_image(b"not pixels", "2x2")


def test_resize_image_takes_aliases_and_recipes():
    image = Image.fromarray(photo_array(400, 300, seed=5))
    alias = resizer.resize_image(image, "100x100", interpolation="linear", backend="OpenCV")
    canonical = resizer.resize_image(image, "100x100", interpolation="bilinear", backend="opencv")
    assert np.array_equal(alias.image, canonical.image)
    recipe = resizer.resize_image(image, recipe="torchvision-eval")
    assert recipe.image.size == (224, 224)
    assert (recipe.resize, recipe.crop_box) == ((341, 256), (58, 16, 282, 240))


def run_python(args: list[str], cwd: Path, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_readme_python_example_runs_and_prints_what_it_says(tmp_path):
    """The README's Python section, run as a script: each `# comment` is the line it prints."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("\n## Python\n", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    expected = [line.split("  # ", 1)[1] for line in example.splitlines() if "print(" in line]
    (tmp_path / "sample_images").symlink_to(SAMPLE_IMAGES)
    completed = run_python(["-"], tmp_path, stdin=example)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == expected


def test_package_exposes_a_small_documented_api():
    for name in ("resize", "resize_image", "ResizeResult", "ResizedImage", "OptionError",
                 "PlanError", "OutError", "BusyError"):  # fmt: skip
        assert getattr(resizer, name).__doc__, name
    assert resizer.RECIPES["torchvision-eval"]["rounding"] == "floor"
    json.dumps(resizer.RECIPES)
