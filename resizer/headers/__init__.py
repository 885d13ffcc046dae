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
from pathlib import Path

from ..storage import is_url
from . import jpeg, png, webp
from .common import ALPHA_MODES, FileInfo, Unreadable
from .files import COMPLETE, Reader

__all__ = ["FileInfo", "read_header"]


def read_header(
    path: str,
    max_pixels: int | None = None,
    size: int | None = None,
    storage_options: tuple[tuple[str, str], ...] = (),
) -> FileInfo:
    """The header facts of one file, or of one object (a URL: ranged reads of its first KiB,
    see objects.py; `size` from the listing); never raises for a problem with the file."""
    if is_url(path):
        return _read_object(path, size, storage_options, max_pixels)
    info = FileInfo()
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        return FileInfo(status="unreadable", error=f"cannot open: {error.strerror or error}")
    try:
        status = os.fstat(descriptor)
        info.bytes = status.st_size
        if not stat.S_ISREG(status.st_mode):
            return _unreadable("not a regular file", info)
        return _examine(lambda: Reader(descriptor, status.st_size), Path(path), info, max_pixels)
    finally:
        os.close(descriptor)


def _read_object(
    url: str, size: int | None, options: tuple[tuple[str, str], ...], max_pixels: int | None
) -> FileInfo:
    from ..storage import cause
    from .objects import ObjectFile, open_object

    info = FileInfo(bytes=size)
    readers: list = []

    def opened():
        readers.append(open_object(url, size, options))
        info.bytes = readers[0].size
        return readers[0]

    # The store's refusals (gone, access denied, ...) in words, without the URL or key.
    return _examine(opened, lambda: ObjectFile(readers[0]), info, max_pixels, cause)


def _examine(open_reader, source, info: FileInfo, max_pixels: int | None, worded=None) -> FileInfo:
    """Dispatch to the format's reader and check the size; `source` is what Pillow opens for
    other formats (a path, or a callable giving a file); `worded` says an OSError's cause."""
    worded = worded or (lambda error: error.strerror or error)
    try:
        reader = open_reader()
        if reader.size == 0:
            raise Unreadable("empty file")
        _dispatch(reader, source, info)
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
        reason = f"cannot read: {worded(error)}"
    except Exception as error:  # a malformed header must not stop a scan of 100,000 files
        reason = f"broken header ({type(error).__name__}: {error})"
    else:
        return info
    return _unreadable(reason, info)


def _unreadable(reason: str, info: FileInfo) -> FileInfo:
    return FileInfo(status="unreadable", error=reason, bytes=info.bytes)


def _dispatch(reader: Reader, source, info: FileInfo) -> None:
    head = reader.head
    if head.startswith(b"\xff\xd8\xff"):
        jpeg.read(reader, info)
    elif head.startswith(png.SIGNATURE):
        png.read(reader, info)
    elif webp.accepts(head):
        webp.read(reader, info)
    else:
        _pillow(reader, source, info)


def _pillow(reader: Reader, source, info: FileInfo) -> None:
    """TIFF, BMP, GIF and other formats: Pillow reads their headers and tags lazily (from the
    path, or from a file over the object's ranged reads)."""
    from .. import codecs

    try:
        header = codecs.probe(source if isinstance(source, Path) else source(), None)
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
