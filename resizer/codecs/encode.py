"""Encoding in memory (hashed and written by the caller), and the mode the written file holds.

The mode is read back from the encoded bytes, because encoders decide it themselves: Pillow's
WebP writer stores an opaque RGBA image as RGB and a grey image as RGB, BMP keeps no alpha, and
GIF is always a palette. The manifest must say what a reader of the file will get.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageFile

from .pixels import ImageError, Pixels, grey16_image, mode_of, to_8bit
from .probe import source_mode

PIL_FORMAT = {
    "jpeg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "tiff": "TIFF",
    "bmp": "BMP",
    "gif": "GIF",
}
# Formats with no alpha that readers honour: alpha is flattened onto the background.
NO_ALPHA = ("jpeg", "bmp")
EIGHT_BIT_ONLY = ("jpeg", "webp", "bmp", "gif")
# GIF transparency is one palette entry: pixels at least half opaque stay visible.
GIF_VISIBLE_ALPHA = 128
TRANSPARENT_INDEX = 255


def output_pixels(pixels: Pixels, fmt: str, background: tuple[int, ...] | None) -> Pixels:
    """The pixels in what `fmt` can store, before compression or a palette: 16 bits rounded to
    8 where the format has no 16 bits (16-bit colour stays an array for PNG and TIFF), alpha
    flattened onto `background` (default black) where it has no alpha. Applying it to its own
    result changes nothing."""
    mode = mode_of(pixels)
    if mode.endswith(";16") and mode != "I;16":
        if fmt in ("png", "tiff"):
            return pixels
        pixels = to_8bit(pixels)
    if isinstance(pixels, np.ndarray):
        pixels = grey16_image(pixels) if pixels.dtype == np.uint16 else Image.fromarray(pixels)
    if pixels.mode == "I;16" and fmt in EIGHT_BIT_ONLY:
        pixels = Image.fromarray(to_8bit(np.asarray(pixels)), "L")
    if fmt in NO_ALPHA and pixels.mode in ("RGBA", "LA"):
        pixels = flatten(pixels, background)
    return pixels


def encode(
    pixels: Pixels,
    fmt: str,
    quality: int,
    icc: bytes | None,
    background: tuple[int, ...] | None,
) -> tuple[bytes, str]:
    """Encode to bytes. Returns (data, mode of the written file, as `probe` would name it).

    The pixels are first brought to what `fmt` stores (output_pixels); GIF is then quantised
    to a palette. Output is deterministic: same pixels, same bytes.
    """
    pixels = output_pixels(pixels, fmt, background)
    if isinstance(pixels, np.ndarray):  # 16-bit colour for PNG or TIFF
        data = _encode_deep_colour(pixels, fmt, icc)
        return data, written_mode(data)
    if isinstance(pixels, ImageFile.ImageFile):
        pixels = pixels.copy()  # a plain image: writers copy tags (XMP...) from a source file
    pixels.info = {}  # nothing of the source (a transparency key, comments) reaches the writer
    options: dict = {}
    if icc:
        options["icc_profile"] = icc
    # Measured at 512 px on photographs: Huffman optimisation makes JPEGs 4 % smaller for
    # 0.5 ms; zlib level 4 gives PNGs the size of level 6 in a third of the time; WebP method 6
    # is 1.4x slower than 4 for the same size.
    if fmt == "jpeg":
        options.update(quality=quality, optimize=True)
    elif fmt == "webp":
        options.update(quality=quality, method=4)
    elif fmt == "png":
        options.update(compress_level=4)
    elif fmt == "tiff":
        options.update(compression="tiff_adobe_deflate")
    elif fmt == "gif":
        pixels, transparency = gif_palette(pixels)
        if transparency is not None:
            options["transparency"] = transparency
    buffer = io.BytesIO()
    pixels.save(buffer, PIL_FORMAT[fmt], **options)
    data = buffer.getvalue()
    return data, written_mode(data)


def written_mode(data: bytes) -> str:
    """The mode of an encoded image as a reader gets it (16-bit colour as RGB;16 / RGBA;16)."""
    with Image.open(io.BytesIO(data)) as image:
        return source_mode(image)[0]


def flatten(image: Image.Image, background: tuple[int, ...] | None) -> Image.Image:
    """Composite an alpha image onto an opaque background colour."""
    colour_mode = "L" if image.mode == "LA" else "RGB"
    colour = background if background is not None else (0, 0, 0)
    fill = colour[0] if colour_mode == "L" else tuple(colour[:3])
    canvas = Image.new(colour_mode, image.size, fill)
    canvas.paste(image.convert(colour_mode), mask=image.getchannel("A"))
    return canvas


def gif_palette(image: Image.Image) -> tuple[Image.Image, int | None]:
    """A GIF-ready palette image and its transparent index, if any.

    Grey is kept exactly (Pillow writes a grey palette). Colour with at most 256 colours gets an
    exact palette; more colours are reduced by Pillow's median cut, without dithering (which
    would add noise). Alpha becomes one transparent entry: pixels with alpha < 128 are
    transparent, the others opaque in their own colour.
    """
    if image.mode == "L":
        return image, None
    rgb = image.convert("RGB")
    if image.mode not in ("RGBA", "LA"):
        return _paletted(rgb, 256), None
    visible = np.asarray(image.getchannel("A")) >= GIF_VISIBLE_ALPHA
    if visible.all():
        return _paletted(rgb, 256), None
    colours = np.array(rgb)
    if visible.any():  # hidden pixels take a visible colour, so they use no palette entry
        colours[~visible] = colours[visible][0]
    paletted = _paletted(Image.fromarray(colours), TRANSPARENT_INDEX)
    indices = np.array(paletted)
    indices[~visible] = TRANSPARENT_INDEX
    palette = paletted.getpalette() or []
    palette = (palette[: 3 * TRANSPARENT_INDEX] + [0] * 768)[:768]
    result = Image.fromarray(indices, "P")
    result.putpalette(palette)
    return result, TRANSPARENT_INDEX


def _paletted(rgb: Image.Image, colours: int) -> Image.Image:
    counts = rgb.getcolors(colours)
    if counts is None:
        return rgb.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette = sorted(colour for _, colour in counts)
    keys = np.array([(red << 16) | (green << 8) | blue for red, green, blue in palette])
    array = np.asarray(rgb).astype(np.uint32)
    packed = (array[..., 0] << 16) | (array[..., 1] << 8) | array[..., 2]
    result = Image.fromarray(np.searchsorted(keys, packed).astype(np.uint8), "P")
    result.putpalette([value for colour in palette for value in colour])
    return result


def _encode_deep_colour(array: np.ndarray, fmt: str, icc: bytes | None) -> bytes:
    """16-bit colour: only OpenCV writes it; it drops the ICC profile, so PNG gets it back."""
    import cv2

    if array.shape[2] == 4:
        bgr = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA)
    else:
        bgr = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png" if fmt == "png" else ".tif", bgr)
    if not ok:
        raise ImageError(f"cannot encode 16-bit colour {fmt}")
    data = data.tobytes()
    if icc and fmt == "png":
        data = _png_with_icc(data, icc)
    return data


def _png_with_icc(png: bytes, icc: bytes) -> bytes:
    """Insert an iCCP chunk right after IHDR (it must precede PLTE and IDAT)."""
    payload = b"icc\x00\x00" + zlib.compress(icc)
    chunk = struct.pack(">I", len(payload)) + b"iCCP" + payload
    chunk += struct.pack(">I", zlib.crc32(b"iCCP" + payload) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + 13 + 4  # signature, length + type, IHDR data, CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]
