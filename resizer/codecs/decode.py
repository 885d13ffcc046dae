"""Decoding into the few modes the backends resize: L, LA, RGB, RGBA, I;16, 16-bit colour.

Every other mode is converted here by a rule the README states: palette and 1-bit images become
colour or grey; a colour key (tRNS, GIF transparency) becomes a real alpha channel; CMYK goes to
RGB through its ICC profile; 32-bit float and integer grey become 16-bit grey when their values
fit, and fail naming their range when they do not.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

from .deep import decode_deep_colour
from .pixels import ImageError, Pixels, grey16_image, orient_image
from .probe import Header, load

# 2- and 4-bit grey PNGs: Pillow scales the samples to 8 bits but not the tRNS key.
LOW_DEPTH_KEY_SCALE = {"L;2": 85, "L;4": 17}
KEYED_MODES = ("1", "L", "RGB", "I;16", "I;16B", "I;16L", "I;16N")


def decode(header: Header, orient: bool = True) -> tuple[Pixels, bytes | None]:
    """Decode the first frame and normalise its mode. Returns the pixels and the ICC profile.

    With orient=False an image is left as stored (unless `header.decodes_upright`), so that the
    caller can resize first and turn the small result upright, which is cheaper.
    """
    image = header.image
    icc = image.info.get("icc_profile")
    if header.deep_colour:
        return decode_deep_colour(header), icc
    load(image)
    if orient and not header.decoder_orients:
        image = orient_image(image, header.orientation)
    return normal_mode(image, icc, header.rawmode)


def normal_mode(
    image: Image.Image, icc: bytes | None, rawmode: str = ""
) -> tuple[Pixels, bytes | None]:
    """The image in a mode the backends resize, by the rules in this module's docstring."""
    mode = image.mode
    key = image.info.get("transparency")
    if key is not None and mode in KEYED_MODES:
        if mode == "L" and isinstance(key, int):
            key *= LOW_DEPTH_KEY_SCALE.get(rawmode, 1)
        return _key_to_alpha(image, key), icc
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
        return grey16_image(np.asarray(image)), icc  # convert("I;16") clips I;16B to 0..255
    if mode == "I":
        return grey16_image(_integer_grey(np.asarray(image))), icc
    if mode == "F":
        return grey16_image(_float_grey(np.asarray(image))), icc
    if mode == "CMYK":
        return _cmyk_to_rgb(image, icc)
    if mode in ("La", "RGBa"):
        return image.convert("RGBA" if mode == "RGBa" else "LA"), icc
    try:
        return image.convert("RGB"), icc
    except ValueError:
        raise ImageError(f"colour mode {mode} is not supported") from None


def _key_to_alpha(image: Image.Image, key) -> Pixels:
    """A colour key becomes alpha: pixels equal to the key are transparent, all others opaque.

    Resized as a key, edges would blend with the key colour (halos) and opaque pixels that land
    on it would turn transparent; resized as alpha (premultiplied), neither happens.
    """
    array = np.asarray(image)
    if image.mode == "RGB":
        if not isinstance(key, tuple):
            return image
        transparent = (array == np.array(key[:3], dtype=array.dtype)).all(axis=2)
        return Image.fromarray(np.dstack([array, _alpha(transparent, 255)]), "RGBA")
    if not isinstance(key, int):
        return image if image.mode != "1" else image.convert("L")
    if image.mode == "1":
        array = array.astype(np.uint8) * 255
        key = 255 if key else 0
    transparent = array == key
    if image.mode in ("1", "L"):
        return Image.fromarray(np.dstack([array, _alpha(transparent, 255)]), "LA")
    # 16-bit grey with a key: 16-bit grey+alpha travels (and is written) as RGBA;16.
    grey = array.astype(np.uint16)
    return np.dstack([grey, grey, grey, _alpha(transparent, 65535)])


def _alpha(transparent: np.ndarray, peak: int) -> np.ndarray:
    dtype = np.uint16 if peak > 255 else np.uint8
    return np.where(transparent, 0, peak).astype(dtype)


def _integer_grey(array: np.ndarray) -> np.ndarray:
    """32-bit integer grey is kept exactly as 16-bit grey when every value is in 0..65535."""
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > 65535:
        raise ImageError(
            f"32-bit integer samples range from {low} to {high}: only 0..65535 can be kept "
            "(as 16-bit grey); convert the image first"
        )
    return array.astype(np.uint16)


def _float_grey(array: np.ndarray) -> np.ndarray:
    """32-bit float grey in 0..1 (the usual normalised range) becomes 16-bit grey, x 65535.

    Any other range has no single right mapping (HDR radiance, depth in metres, signed data):
    it fails naming the range rather than being clipped to black or stretched per image.
    """
    if not np.isfinite(array).all():
        raise ImageError("32-bit float samples include NaN or infinity; convert the image first")
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        raise ImageError(
            f"32-bit float samples range from {low:g} to {high:g}: only 0..1 is converted "
            "(to 16-bit grey); convert the image first"
        )
    return np.rint(array.astype(np.float64) * 65535).astype(np.uint16)


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Use the embedded CMYK profile when there is one (the naive formula shifts colours); the
    result is then sRGB and carries that profile."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            rgb = ImageCms.profileToProfile(image, source, target, outputMode="RGB")
            return rgb, rgb.info.get("icc_profile")
        except (ImageCms.PyCMSError, OSError):
            pass
    return image.convert("RGB"), None
