"""Reading and writing image files: header probe, decode, EXIF orientation, colour modes, encode.

Both backends decode through here, so every image reaches a backend upright and in one of a few
modes: L, LA, RGB, RGBA (8-bit) as a PIL image; I;16 (16-bit grey) as a PIL image; 16-bit colour
as a numpy array (Pillow would silently read it as 8-bit, so OpenCV decodes it). Pillow's JPEG
decode is bit-identical to `cv2.imread(..., IMREAD_COLOR)` (both are libjpeg-turbo with the same
settings), and unlike OpenCV it raises on a truncated file instead of returning a grey image.
"""

from __future__ import annotations

import io
import math
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageFile

Pixels = Image.Image | np.ndarray

# The checks are ours (--max-pixels, from the header, for both backends): OpenCV's own limit
# (read once, when cv2 is first imported) must not refuse what --max-pixels allows.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(1 << 40))
# Pillow must not load truncated data.
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False

ORIENTATION_TAG = 0x0112
# Shrink-on-load keeps the decoded JPEG at least this many times the resize target.
SHRINK_BOUND = 2.0
# EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF"}


class ImageError(Exception):
    """A problem with one input image; becomes a failed manifest record, never a crash."""


@dataclass
class Header:
    """What the file says about itself before any pixel is decoded."""

    image: Image.Image  # opened lazily; decoding happens in `decode`
    format: str  # Pillow's name: JPEG, PNG, ...
    stored_size: tuple[int, int]
    orientation: int
    deep_colour: bool  # 16-bit colour, which Pillow would truncate to 8 bits
    mode: str  # the source's own mode; 16-bit colour as RGB;16, RGBA;16 or LA;16

    @property
    def decoder_orients(self) -> bool:
        """Pillow's TIFF reader makes the image upright as it loads (and drops the tag)."""
        return self.format == "TIFF"

    @property
    def decodes_upright(self) -> bool:
        """True when `decode` returns upright pixels even with orient=False."""
        return self.decoder_orients or self.deep_colour

    @property
    def decode_scale(self) -> int:
        """The DCT scale the decoder was asked for by `shrink_on_load` (1 = full size)."""
        return max(1, round(self.stored_size[0] / self.image.size[0]))

    @property
    def upright_size(self) -> tuple[int, int]:
        width, height = self.stored_size
        return (height, width) if self.orientation in (5, 6, 7, 8) else (width, height)


def probe(path: Path, max_pixels: int | None) -> Header:
    """Open `path` and read its header: format, size, orientation. Rejects bombs before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(path)
    except Image.UnidentifiedImageError:
        raise ImageError("not an image, or a format this tool cannot read") from None
    width, height = image.size
    if width < 1 or height < 1:
        image.close()
        raise ImageError(f"image has no pixels ({width}x{height})")
    if max_pixels is not None and width * height > max_pixels:
        image.close()
        raise ImageError(
            f"decompression bomb: {width}x{height} = {width * height} pixels is over the "
            f"limit of {max_pixels} (--max-pixels)"
        )
    rawmode = _rawmode(image)
    deep_colour = image.mode in ("RGB", "RGBA", "LA") and ";16" in rawmode
    mode = rawmode.split(";")[0] + ";16" if deep_colour else image.mode
    if image.format == "PNG" and not deep_colour:
        # Pillow may find a PNG's EXIF only after the image data: decode first, and let a
        # decoding error surface here rather than be swallowed inside getexif().
        _load(image)
    orientation = _orientation(image)
    stored_size = (width, height)
    if image.format == "TIFF":
        # Pillow's TIFF reader applies the orientation itself when it loads, and (since
        # Pillow 11) reports the upright size already: the stored size is in the tags.
        tags = image.tag_v2
        stored_size = (tags.get(256, width), tags.get(257, height))
    return Header(image, image.format or "", stored_size, orientation, deep_colour, mode)


def _rawmode(image: Image.Image) -> str:
    if not image.tile:
        return ""
    args = image.tile[0].args
    rawmode = args[0] if isinstance(args, tuple) and args else args
    return rawmode if isinstance(rawmode, str) else ""


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # a malformed EXIF block is no reason to lose the image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as error:
        raise ImageError(f"cannot decode: {error}") from None


def shrink_on_load(header: Header, resize_to: tuple[int, int]) -> bool:
    """Ask the JPEG decoder for a DCT-scaled image that stays >= SHRINK_BOUND x the target.

    Measured on the benchmark photographs (with the exact extent, see process.py): at 2x the
    worst pixel PSNR against --exact is 48 dB, at 1.5x 41 dB, and lower bounds fall further,
    while a smaller DCT scale makes the decode only 10-25% cheaper (entropy decoding does not
    scale). The bound is computed in stored
    orientation because the decoder works before the EXIF turn. Returns whether it will scale.
    """
    if header.format not in ("JPEG", "MPO"):
        return False
    width, height = resize_to
    if header.orientation in (5, 6, 7, 8):
        width, height = height, width
    stored_w, stored_h = header.stored_size
    least = (math.ceil(SHRINK_BOUND * width), math.ceil(SHRINK_BOUND * height))
    if stored_w < 2 * least[0] or stored_h < 2 * least[1]:
        return False  # even a 1/2 scale would fall below the bound
    header.image.draft(header.image.mode, least)
    return header.image.size != header.stored_size


def decode(header: Header, orient: bool = True) -> tuple[Pixels, bytes | None]:
    """Decode and normalise the mode. Returns the pixels and the ICC profile.

    With orient=False an image is left as stored (unless `header.decodes_upright`), so that the
    caller can resize first and turn the small result upright, which is cheaper.
    """
    image = header.image
    icc = image.info.get("icc_profile")
    if header.deep_colour:
        return _decode_deep_colour(header), icc
    _load(image)
    if orient and not header.decoder_orients:
        image = orient_image(image, header.orientation)
    return _normal_mode(image, icc)


def orient_image(pixels: Pixels, orientation: int) -> Pixels:
    """Turn stored pixels upright for an EXIF orientation, whichever kind they are."""
    if orientation not in UPRIGHT:
        return pixels
    if isinstance(pixels, np.ndarray):
        return np.ascontiguousarray(orient_array(pixels, orientation))
    return pixels.transpose(UPRIGHT[orientation])


def _normal_mode(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA", "I;16"):
        return image, icc
    if mode == "1":
        return image.convert("L"), icc
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
        return image.convert("RGBA" if has_alpha else "RGB"), icc
    if mode == "PA":
        return image.convert("RGBA"), icc
    if mode in ("I;16L", "I;16B", "I;16N"):
        return image.convert("I;16"), icc
    if mode in ("I", "F"):
        # 32-bit grey: the nearest mode we can write everywhere is 16-bit grey.
        array = np.clip(np.asarray(image, dtype=np.float64), 0, 65535).round().astype(np.uint16)
        return grey16_image(array), icc
    if mode == "CMYK":
        return _cmyk_to_rgb(image, icc), None
    if mode in ("La", "RGBa"):
        return image.convert("RGBA" if mode == "RGBa" else "LA"), icc
    return image.convert("RGB"), icc


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Use the embedded CMYK profile when there is one: the naive formula shifts colours."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            return ImageCms.profileToProfile(image, source, target, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass
    return image.convert("RGB")


def _decode_deep_colour(header: Header) -> np.ndarray:
    """16-bit colour through OpenCV, which reads it exactly; then RGB order and upright."""
    import cv2

    filename = getattr(header.image, "filename", "")
    upright_preview = None
    if header.decoder_orients and header.orientation != 1:
        # OpenCV's TIFF reader may apply the Orientation tag itself, whatever the read flags
        # say (OpenCV 5 does): Pillow's upright 8-bit decode tells whether it did.
        _load(header.image)
        upright_preview = np.asarray(header.image)
    header.image.close()
    data = np.fromfile(filename, dtype=np.uint8)
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        raise ImageError("cannot decode 16-bit colour image: the file is truncated or corrupt")
    if array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    elif array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    if upright_preview is not None and _same_pixels(array, upright_preview):
        return array
    return np.ascontiguousarray(orient_array(array, header.orientation))


def _same_pixels(deep: np.ndarray, preview: np.ndarray) -> bool:
    """Whether 16-bit pixels are, in their high bytes, the 8-bit `preview` (same layout)."""
    if deep.shape[:2] != preview.shape[:2] or deep.ndim != preview.ndim:
        return False
    high = (deep >> 8).astype(np.int16)
    preview = preview.astype(np.int16)
    if deep.ndim == 3:
        channels = min(deep.shape[2], preview.shape[2], 3)
        high, preview = high[..., :channels], preview[..., :channels]
    return bool(np.abs(high - preview).max() <= 1)


def orient_array(array: np.ndarray, orientation: int) -> np.ndarray:
    """The numpy twin of UPRIGHT (rows are y, columns are x)."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return array.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(array, 1)
    return array


def mode_of(pixels: Pixels) -> str:
    """Mode name for either kind of pixels; 16-bit colour is RGB;16 / RGBA;16."""
    if isinstance(pixels, Image.Image):
        return pixels.mode
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    name = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    if pixels.dtype == np.uint16:
        return "I;16" if channels == 1 else f"{name};16"
    return name


def grey16_image(array: np.ndarray) -> Image.Image:
    """A 2-D uint16 array as an I;16 image (Pillow 13 rejects fromarray(..., "I;16"))."""
    image = Image.fromarray(np.ascontiguousarray(array, dtype="<u2"))
    return image if image.mode == "I;16" else image.convert("I;16")


def size_of(pixels: Pixels) -> tuple[int, int]:
    if isinstance(pixels, Image.Image):
        return pixels.size
    return pixels.shape[1], pixels.shape[0]


def encode(
    pixels: Pixels,
    fmt: str,
    quality: int,
    icc: bytes | None,
    background: tuple[int, ...] | None,
) -> tuple[bytes, str]:
    """Encode to bytes in memory (hashed and written by the caller). Returns (data, mode written).

    JPEG has no alpha: alpha images are flattened onto `background` (default black). JPEG and
    WebP have no 16 bits: 16-bit images are rounded to 8. Output is deterministic: same pixels,
    same bytes.
    """
    mode = mode_of(pixels)
    if mode.endswith(";16") and mode != "I;16":
        if fmt in ("png", "tiff"):
            return _encode_deep_colour(pixels, fmt, icc), mode
        pixels = _to_8bit(pixels)
    if isinstance(pixels, np.ndarray):
        pixels = grey16_image(pixels) if pixels.dtype == np.uint16 else Image.fromarray(pixels)
    if pixels.mode == "I;16" and fmt in ("jpeg", "webp"):
        pixels = Image.fromarray(_to_8bit(np.asarray(pixels)), "L")
    if fmt == "jpeg" and pixels.mode in ("RGBA", "LA"):
        pixels = flatten(pixels, background)
    buffer = io.BytesIO()
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
    pixels.save(buffer, PIL_FORMAT[fmt], **options)
    return buffer.getvalue(), pixels.mode


def flatten(image: Image.Image, background: tuple[int, ...] | None) -> Image.Image:
    """Composite an alpha image onto an opaque background colour."""
    colour_mode = "L" if image.mode == "LA" else "RGB"
    colour = background if background is not None else (0, 0, 0)
    fill = colour[0] if colour_mode == "L" else tuple(colour[:3])
    canvas = Image.new(colour_mode, image.size, fill)
    canvas.paste(image.convert(colour_mode), mask=image.getchannel("A"))
    return canvas


def _to_8bit(array: np.ndarray) -> np.ndarray:
    return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


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
