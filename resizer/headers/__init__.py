"""What an image file says about itself, read from its header without decoding a pixel.

For `resizer scan`: format, size, mode, bit depth, alpha, ICC profile, EXIF orientation,
animation, and whether the file is complete. JPEG, PNG and WebP, the formats of most datasets,
are walked here (markers and chunks, skipping the image data), because Pillow's `getexif()`
decodes a whole PNG to find an eXIf chunk that follows the image data, and because opening
every file with Pillow costs more than reading its header. Other formats (TIFF, BMP, GIF and
whatever else Pillow opens) go through resize's own probe, which reads only their headers and
tags. Names of formats and modes are Pillow's, as the manifest shows them (`RGB;16` for 16-bit
colour), and the orientation follows Pillow's rules (exif.py), so the upright size is the one
resize will see.
"""

from __future__ import annotations

import os
import stat

from . import jpeg, png, webp
from .common import ALPHA_MODES, FileInfo, Unreadable
from .files import COMPLETE, Reader

__all__ = ["FileInfo", "read_header"]


def read_header(path: str, max_pixels: int | None = None) -> FileInfo:
    """The header facts of one file; never raises for a problem with the file."""
    info = FileInfo()
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        return FileInfo(status="unreadable", error=f"cannot open: {error.strerror or error}")
    try:
        status = os.fstat(descriptor)
        info.bytes = status.st_size
        if not stat.S_ISREG(status.st_mode):
            raise Unreadable("not a regular file")
        if status.st_size == 0:
            raise Unreadable("empty file")
        reader = Reader(descriptor, status.st_size)
        _dispatch(reader, path, info)
        stored = info.width * info.height
        if info.width < 1 or info.height < 1:
            raise Unreadable(f"image has no pixels ({info.width}x{info.height})")
        if max_pixels is not None and stored > max_pixels:
            raise Unreadable(
                f"decompression bomb: {info.width}x{info.height} = {stored} pixels is over the "
                f"limit of {max_pixels} (--max-pixels)"
            )
    except Unreadable as error:
        reason = str(error)
    except OSError as error:
        reason = f"cannot read: {error.strerror or error}"
    except Exception as error:  # a malformed header must not stop a scan of 100,000 files
        reason = f"broken header ({type(error).__name__}: {error})"
    else:
        return info
    finally:
        os.close(descriptor)
    return FileInfo(status="unreadable", error=reason, bytes=info.bytes)


def _dispatch(reader: Reader, path: str, info: FileInfo) -> None:
    head = reader.head
    if head.startswith(b"\xff\xd8\xff"):
        jpeg.read(reader, info)
    elif head.startswith(png.SIGNATURE):
        png.read(reader, info)
    elif webp.accepts(head):
        webp.read(reader, info)
    else:
        _pillow(reader, path, info)


def _pillow(reader: Reader, path: str, info: FileInfo) -> None:
    """TIFF, BMP, GIF and other formats: Pillow reads their headers and tags lazily."""
    from pathlib import Path

    from .. import codecs

    try:
        header = codecs.probe(Path(path), None)
    except codecs.ImageError as error:
        raise Unreadable(str(error)) from None
    image = header.image
    try:
        info.format, info.mode = header.format, header.mode
        info.bits = _bits_of_mode(header.mode)
        info.alpha = header.mode in ALPHA_MODES or "transparency" in image.info
        info.icc = bool(image.info.get("icc_profile"))
        info.orient(header.stored_size, header.orientation)
        complete = COMPLETE.get(info.format)
        if complete is not None and not complete(reader, image):
            info.suspect(f"truncated: the {info.format} image data runs past the end of the file")
        info.frames = header.frames
    finally:
        image.close()


def _bits_of_mode(mode: str) -> int:
    if mode == "1":
        return 1
    if mode.startswith("I;16") or mode.endswith(";16"):
        return 16
    if mode in ("I", "F"):
        return 32
    return 8
