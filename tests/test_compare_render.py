"""The in-memory pipeline `resizer compare` measures: the pixels `resizer resize` encodes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from conftest import photo_array, run_job
from PIL import Image

from resizer import codecs, compare, compare_render
from resizer.geometry import Sizing
from resizer.settings import Settings

ALL = compare.configurations()


def settings_for(src: Path, **options) -> Settings:
    options.setdefault("sizing", Sizing("size", width=40, height=40))
    return Settings(sources=(src,), out=Path(), **options)


def turned_jpeg(path: Path) -> Path:
    """640x400 stored with EXIF orientation 6: a 40x40 fill decodes it at 1/2 (shrink-on-load)
    and, without --exact, resizes it sideways before turning it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo_array(640, 400, seed=11)).save(path, quality=90, exif=exif)
    return path


def cutout_png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgba = photo_array(90, 60, seed=12, channels=4)
    rgba[:, :30, 3] = 0  # a transparent band whose colour must not bleed
    Image.fromarray(rgba, "RGBA").save(path)
    return path


# --- the measured pipeline is resize's ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "options"),
    [
        ("turned.jpg", turned_jpeg, {"mode": "fill"}),
        ("cutout.png", cutout_png, {"mode": "pad", "pad_color": (10, 200, 30)}),
    ],
)
def test_render_encodes_to_the_bytes_resize_writes_for_every_configuration(
    tmp_path, name, make, options
):
    source = make(tmp_path / "src" / name)
    fmt = "jpeg" if name.endswith(".jpg") else "png"
    for config in ALL:
        settings = settings_for(
            source.parent,
            interpolation=config.interpolation,
            backend=config.backend,
            exact=config.exact,
            **options,
        )
        out = tmp_path / "out" / config.label.replace("/", "-").replace(" ", "")
        written = run_job(source, out, fmt, **{**options, **pixel_options(settings)})
        assert written.status == "ok", written.error

        decoded = compare_render.decode(source, settings)
        pixels = compare_render.render(source, settings)
        data, _ = codecs.encode(pixels, fmt, settings.quality, decoded.icc, settings.pad_color)

        assert hashlib.sha256(data).hexdigest() == written.sha256, config.label
        assert list(decoded.geometry.resized) == written.resize
        assert decoded.seconds > 0


def pixel_options(settings: Settings) -> dict:
    return {
        "sizing": settings.sizing,
        "interpolation": settings.interpolation,
        "backend": settings.backend,
        "exact": settings.exact,
    }


def test_the_jpeg_case_really_takes_the_shrink_on_load_path(tmp_path):
    source = turned_jpeg(tmp_path / "src" / "turned.jpg")
    result = run_job(
        source, tmp_path / "out", "jpeg", sizing=Sizing("size", width=40, height=40), mode="fill"
    )
    assert result.decode_scale == 2 and result.orientation == 6


def test_finish_leaves_the_decoded_image_as_it_was(tmp_path):
    """compare finishes one decode for several configurations."""
    source = turned_jpeg(tmp_path / "src" / "turned.jpg")
    settings = settings_for(source.parent, mode="fill", exact=True)
    decoded = compare_render.decode(source, settings)
    before = np.asarray(decoded.pixels).copy()
    for config in ALL:
        if config.exact:
            configured = settings_for(
                source.parent,
                mode="fill",
                exact=True,
                interpolation=config.interpolation,
                backend=config.backend,
            )
            compare_render.finish(decoded, configured)
    assert (np.asarray(decoded.pixels) == before).all()


def test_only_the_default_path_of_a_smoothing_kernel_decodes_shrunk():
    assert not compare_render.shrinks(settings_for(Path(), exact=True))
    assert compare_render.shrinks(settings_for(Path()))
    assert not compare_render.shrinks(settings_for(Path(), interpolation="nearest"))


def test_as_array_gives_the_peak_of_8_and_16_bit_pixels():
    grey16 = codecs.grey16_image(np.array([[0, 65535]], np.uint16))
    array, peak = compare_render.as_array(grey16)
    assert array.dtype == np.uint16 and array.tolist() == [[0, 65535]] and peak == 65535
    rgb16 = np.zeros((2, 2, 3), np.uint16)
    assert compare_render.as_array(rgb16)[1] == 65535
    rgb = Image.new("RGB", (2, 1), (1, 2, 3))
    array, peak = compare_render.as_array(rgb)
    assert array.tolist() == [[[1, 2, 3], [1, 2, 3]]] and peak == 255
