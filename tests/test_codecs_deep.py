"""16-bit colour decoding: every TIFF layout gives the exact samples; a PNG whose two readers
disagree fails instead of coming out wrong."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from conftest import run_job
from images import apng_bytes, png16_bytes, read_back, tiff_bytes

from resizer.geometry import Sizing

SAME_SIZE = Sizing("scale", factor=Fraction(1))
LAYOUTS = [
    layout
    for layout in itertools.product(
        ["<", ">"],  # byte order
        [1, 2],  # planar configuration
        [1, 5, 8],  # none, LZW, deflate
        [1, 2],  # predictor
        [None, (16, 16)],  # strips of 5 rows, or tiles
    )
    if layout[2] != 1 or layout[3] == 1  # libtiff applies a predictor only when compressing
]


@pytest.mark.parametrize(("order", "planar", "compression", "predictor", "tile"), LAYOUTS)
def test_every_16bit_tiff_layout_decodes_exactly(
    tmp_path, order, planar, compression, predictor, tile
):
    rgba = np.random.default_rng(51).integers(0, 65536, (21, 35, 4)).astype(np.uint16)
    source = tmp_path / "deep.tif"
    source.write_bytes(
        tiff_bytes(
            [rgba],
            order=order,
            planar=planar,
            compression=compression,
            predictor=predictor,
            tile=tile,
            rows_per_strip=5,
            extra_samples=2,
        )
    )

    result = run_job(source, tmp_path / "out", "tiff", sizing=SAME_SIZE)

    assert result.status == "ok", result.error
    assert result.src_mode == result.mode == "RGBA;16"
    mode, pixels = read_back(tmp_path / "out" / result.output)
    assert mode == "RGBA;16"
    assert np.array_equal(pixels, rgba)


def test_16bit_png_readers_that_disagree_fail_the_image(tmp_path, monkeypatch):
    """OpenCV returns an APNG's first animation frame where Pillow (and every still reader)
    shows the default image. Should the animation chunks stay in, the high-byte check against
    Pillow's 8-bit decode catches the wrong frame."""
    frames = [np.full((8, 12, 3), value, dtype=np.uint16) for value in (1000, 40000, 60000)]
    source = tmp_path / "animated.png"
    source.write_bytes(apng_bytes([png16_bytes(frame) for frame in frames], False))
    monkeypatch.setattr("resizer.codecs.deep._without_animation", lambda data: data)

    result = run_job(source, tmp_path / "out", "png", sizing=SAME_SIZE)

    assert result.status == "failed"
    assert result.error == "16-bit colour decoders disagree on this file's pixels"


@pytest.mark.parametrize("kind", ["png", "tiff"])
def test_16bit_colour_given_as_bytes_decodes_as_from_its_file(tmp_path, kind):
    """An object read from a store reaches the decoder as bytes, never as a file name."""
    from resizer import codecs

    rgb = np.random.default_rng(7).integers(0, 65536, (13, 17, 3)).astype(np.uint16)
    data = png16_bytes(rgb) if kind == "png" else tiff_bytes([rgb])
    path = tmp_path / f"deep.{kind}"
    path.write_bytes(data)
    from_file, _ = codecs.decode(codecs.probe(path, None))
    path.unlink()  # the bytes alone must do
    header = codecs.probe(data, None)
    assert header.deep_colour and header.mode == "RGB;16"
    from_bytes, _ = codecs.decode(header)
    assert np.array_equal(from_bytes, from_file) and np.array_equal(from_bytes, rgb)
