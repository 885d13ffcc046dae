"""The odd-image set: one small file for every layout that broke a decoder here, with the
pixels a correct decode gives. Each expectation is for an output that keeps every sample
(PNG, or TIFF for float and integer sources) at the source's own size (`--scale 1`).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from images import (
    apng_bytes,
    bmp_bytes,
    gif_bytes,
    grey_gif_bytes,
    png16_bytes,
    png_bytes,
    rgb565,
    tiff_bytes,
)
from PIL import Image

WIDTH, HEIGHT = 24, 16


@dataclass(frozen=True)
class Odd:
    name: str
    data: bytes
    src_format: str
    src_mode: str
    mode: str | None  # the output's mode (None: the image fails)
    pixels: np.ndarray | None  # the output's pixels, RGB(A) order
    frames: int = 1
    error: tuple[str, ...] = ()  # words the error names, for an image that fails
    tolerance: int = 0
    notes: dict = field(default_factory=dict)

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.name
        path.write_bytes(self.data)
        return path


def _random(channels: int, peak: int, seed: int, dtype=np.uint16) -> np.ndarray:
    shape = (HEIGHT, WIDTH) if channels == 1 else (HEIGHT, WIDTH, channels)
    return np.random.default_rng(seed).integers(0, peak + 1, shape).astype(dtype)


def _pillow(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _sixteen_bit() -> list[Odd]:
    grey = _random(1, 65535, 1)
    rgb = _random(3, 65535, 2)
    rgba = _random(4, 65535, 3)
    rgba[..., 3] = np.random.default_rng(4).integers(16384, 65536, (HEIGHT, WIDTH))
    straight = rgba.astype(np.float64)
    premultiplied = rgba.copy()
    premultiplied[..., :3] = np.rint(straight[..., :3] * straight[..., 3:] / 65535)
    pages = [rgb, _random(3, 65535, 5)]

    def tif(name, arrays, mode, pixels, **options):
        data = tiff_bytes(arrays if isinstance(arrays, list) else [arrays], **options)
        frames = len(arrays) if isinstance(arrays, list) else 1
        return Odd(name, data, "TIFF", mode, mode, pixels, frames=frames)

    return [
        tif("grey16_le.tif", grey, "I;16", grey),
        Odd("grey16_be.tif", tiff_bytes([grey], order=">"), "TIFF", "I;16B", "I;16", grey),
        tif("rgb16_be.tif", rgb, "RGB;16", rgb, order=">"),
        tif("rgb16_planar.tif", rgb, "RGB;16", rgb, planar=2),
        tif("rgb16_planar_be_lzw.tif", rgb, "RGB;16", rgb, planar=2, order=">", compression=5),
        tif(
            "rgb16_deflate_predictor_be.tif",
            rgb,
            "RGB;16",
            rgb,
            compression=8,
            predictor=2,
            order=">",
            rows_per_strip=5,
        ),
        tif(
            "rgba16_tiled_lzw_predictor.tif",
            rgba,
            "RGBA;16",
            rgba,
            tile=(16, 16),
            compression=5,
            predictor=2,
            extra_samples=2,
        ),
        tif("rgb16_pages.tif", pages, "RGB;16", rgb, planar=2),
        Odd(
            "rgba16_associated.tif",
            tiff_bytes([premultiplied], extra_samples=1),
            "TIFF",
            "RGBA;16",
            "RGBA;16",
            rgba,
            tolerance=2,  # colour was rounded when premultiplied by alpha >= 1/4
        ),
        Odd(
            "rgb16_unspecified_extra.tif",
            tiff_bytes([rgba], extra_samples=0),
            "TIFF",
            "RGB;16",
            "RGB;16",
            rgba[..., :3],
        ),
        Odd(
            "grey_alpha16.png",
            png_bytes(rgba[..., 2:], 16, 4),
            "PNG",
            "LA;16",
            "RGBA;16",  # no library here writes 16-bit grey+alpha
            np.dstack([rgba[..., 2]] * 3 + [rgba[..., 3]]),
        ),
        Odd(
            "apng16.png",
            apng_bytes([png16_bytes(rgb), png16_bytes(pages[1]), png16_bytes(grey)], False),
            "PNG",
            "RGB;16",
            "RGB;16",
            rgb,  # the default image, not the first animation frame
            frames=3,
        ),
    ]


def _keyed() -> list[Odd]:
    grey = _random(1, 255, 6, np.uint8)
    grey[::3, ::4] = 77
    rgb = _random(3, 255, 7, np.uint8)
    rgb[1::3, ::5] = (10, 200, 30)
    grey4 = _random(1, 15, 8, np.uint8)
    grey16 = _random(1, 65535, 9)
    grey16[::2, ::3] = 4321
    levels = _random(1, 255, 10, np.uint8)
    levels[::4] = 200
    palette = [(0, 0, 0), (250, 30, 20), (20, 240, 60), (30, 40, 250)]
    indices = _random(1, 3, 11, np.uint8)
    alphas = bytes([0, 255, 128, 255])
    looked_up = np.array(palette, dtype=np.uint8)[indices]
    p_image = Image.fromarray(indices, "P")
    p_image.putpalette([value for colour in palette for value in colour])

    def la(array, transparent):
        return np.dstack([array, np.where(transparent, 0, 255).astype(np.uint8)])

    return [
        Odd(
            "keyed_grey.png",
            _pillow(Image.fromarray(grey), "PNG", transparency=77),
            "PNG",
            "L",
            "LA",
            la(grey, grey == 77),
        ),
        Odd(
            "keyed_grey4.png",
            png_bytes(grey4, 4, 0, [(b"tRNS", struct.pack(">H", 5))]),
            "PNG",
            "L",
            "LA",
            la(grey4 * 17, grey4 == 5),  # Pillow scales 4-bit samples by 17, not the key
        ),
        Odd(
            "keyed_rgb.png",
            _pillow(Image.fromarray(rgb), "PNG", transparency=(10, 200, 30)),
            "PNG",
            "RGB",
            "RGBA",
            la(rgb, (rgb == (10, 200, 30)).all(axis=2)),
        ),
        Odd(
            "keyed_grey16.png",
            png_bytes(grey16, 16, 0, [(b"tRNS", struct.pack(">H", 4321))]),
            "PNG",
            "I;16",
            "RGBA;16",
            np.dstack([grey16] * 3 + [np.where(grey16 == 4321, 0, 65535).astype(np.uint16)]),
        ),
        Odd(
            "keyed_grey_gif.gif",
            grey_gif_bytes(levels, transparency=200),
            "GIF",
            "L",
            "LA",
            la(levels, levels == 200),
        ),
        Odd(
            "palette_alpha.png",
            _pillow(p_image, "PNG", transparency=alphas),
            "PNG",
            "P",
            "RGBA",
            np.dstack([looked_up, np.frombuffer(alphas, np.uint8)[indices]]),
        ),
        Odd(
            "palette_key.gif",
            gif_bytes([p_image], transparency=0),
            "GIF",
            "P",
            "RGBA",
            la(looked_up, indices == 0),
        ),
    ]


def _animated() -> list[Odd]:
    colours = [(200, 10, 10), (10, 200, 10), (10, 10, 200)]
    frames = [Image.new("RGB", (WIDTH, HEIGHT), colour) for colour in colours]
    frames[0].paste((250, 250, 0), (0, 0, WIDTH // 2, HEIGHT // 2))
    first = np.asarray(frames[0])
    paletted = [frame.quantize(8) for frame in frames]

    def animation(image_format, **options):
        return _pillow(frames[0], image_format, save_all=True, append_images=frames[1:], **options)

    return [
        Odd("animated_gif.gif", gif_bytes(paletted), "GIF", "P", "RGB", first, frames=3),
        Odd(
            "animated_webp.webp",
            animation("WEBP", lossless=True),
            "WEBP",
            "RGB",
            "RGB",
            first,
            frames=3,
        ),
        Odd("animated_png.png", animation("PNG"), "PNG", "RGB", "RGB", first, frames=3),
        Odd("pages.tif", animation("TIFF"), "TIFF", "RGB", "RGB", first, frames=3),
    ]


def _other() -> list[Odd]:
    rgb = _random(3, 255, 12, np.uint8)
    floats = np.random.default_rng(13).random((HEIGHT, WIDTH), dtype=np.float32)
    floats[0, :2] = (0.0, 1.0)
    wide = floats * 301 - 1
    integers = _random(1, 65535, 14, np.int32)
    cmyk = Image.fromarray(rgb).convert("CMYK")
    return [
        Odd("rgb565.bmp", bmp_bytes(rgb), "BMP", "RGB", "RGB", rgb565(rgb)),
        Odd(
            "bitfields444.bmp",
            bmp_bytes(rgb, (0xF000, 0x0F00, 0x00F0)),
            "BMP",
            "",
            None,
            None,
            error=("cannot decode", "unsupported bmp bitfields layout"),
        ),
        Odd(
            "float.tif",
            tiff_bytes([floats]),
            "TIFF",
            "F",
            "I;16",
            np.rint(floats.astype(np.float64) * 65535).astype(np.uint16),
        ),
        Odd(
            "float_wide.tif",
            tiff_bytes([wide], order=">"),
            "TIFF",
            "F",
            None,
            None,
            error=("float", "-1 to 300", "0..1"),
        ),
        Odd("int32.tif", tiff_bytes([integers]), "TIFF", "I", "I;16", integers.astype(np.uint16)),
        Odd(
            "int32_wide.tif",
            tiff_bytes([integers * 2 - 5]),
            "TIFF",
            "I",
            None,
            None,
            error=("integer", "0..65535"),
        ),
        Odd(
            "cmyk.tif",
            _pillow(cmyk, "TIFF"),
            "TIFF",
            "CMYK",
            "RGB",
            np.asarray(cmyk.convert("RGB")),
        ),
    ]


def odd_images() -> list[Odd]:
    return _sixteen_bit() + _keyed() + _animated() + _other()


ODD_NAMES = [odd.name for odd in odd_images()]


def odd_image(name: str) -> Odd:
    return next(odd for odd in odd_images() if odd.name == name)
