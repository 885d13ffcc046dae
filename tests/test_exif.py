"""EXIF orientation without Pillow (resizer/headers/exif.py) against Pillow itself.

resize takes the orientation from Pillow's getexif(); scan reads the same bytes by its own code.
Hypothesis builds EXIF blocks with every entry type, counts, duplicates, out-of-range offsets and
cut-short directories, plus XMP packets, puts them into real JPEG, PNG and WebP files, and
checks that scan's header reader finds the orientation resize's probe finds.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import pytest
from conftest import png_chunk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from resizer import codecs
from resizer.headers import exif, read_header

UNITS = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8}
PACK = {3: "H", 4: "L", 6: "b", 8: "h", 9: "l", 13: "L", 16: "Q", 11: "f", 12: "d"}
XMP_PACKETS = [
    None,
    b'<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>',
    b"<x:xmpmeta><tiff:Orientation>3</tiff:Orientation></x:xmpmeta>",
    b'<rdf:Description tiff:Orientation="9"/>',
    b"<x:xmpmeta>no orientation here</x:xmpmeta>",
]


@st.composite
def entries(draw):
    tag = draw(st.sampled_from([0x0112, 0x0112, 0x010F, 0x0131]))
    kind = draw(st.sampled_from([3, 3, 3, 4, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 99]))
    count = draw(st.integers(0, 3))
    unit = UNITS.get(kind, 1)
    if kind in PACK and kind not in (11, 12):
        low = -8 if kind in (6, 8, 9) else 0
        values = draw(st.lists(st.integers(low, 10), min_size=count, max_size=count))
        payload = b"".join(struct.pack("<" + PACK[kind], value) for value in values)
    elif kind in (11, 12):
        payload = b"".join(struct.pack("<" + PACK[kind], 6.0) for _ in range(count))
    else:
        payload = draw(st.binary(min_size=count * unit, max_size=count * unit))
    bogus_offset = draw(st.booleans()) and draw(st.integers(0, 5000))
    return tag, kind, count, payload, bogus_offset


@st.composite
def exif_blocks(draw):
    """A little-endian TIFF structure (payloads are packed little-endian) with one IFD."""
    items = draw(st.lists(entries(), max_size=4))
    header = b"II*\x00" + struct.pack("<I", 8)
    directory_size = 2 + 12 * len(items) + 4
    data_area = b""
    fields = b""
    for tag, kind, count, payload, bogus in items:
        if len(payload) <= 4:
            value = payload.ljust(4, b"\x00")
        else:
            offset = bogus or (8 + directory_size + len(data_area))
            value = struct.pack("<I", offset)
            data_area += payload
        fields += struct.pack("<HHI", tag, kind, count) + value
    block = header + struct.pack("<H", len(items)) + fields + b"\x00" * 4 + data_area
    cut = draw(st.none() | st.integers(0, len(block)))
    return block if cut is None else block[:cut]


def _jpeg(block: bytes | None, xmp: bytes | None) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 8), "red").save(buffer, "JPEG")
    data = buffer.getvalue()
    segments = b""
    if block is not None:
        payload = b"Exif\x00\x00" + block
        segments += b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    if xmp is not None:
        payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
        segments += b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segments + data[2:]


def _png(block: bytes | None, xmp: bytes | None, after_data: bool, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (16, 8)).save(buffer, "PNG")
    data = buffer.getvalue()
    extra = b""
    if block is not None:
        extra += png_chunk(b"eXIf", block)
    if xmp is not None:
        extra += png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp)
    where = len(data) - 12 if after_data else 33  # before IEND, or right after IHDR
    return data[:where] + extra + data[where:]


def _webp(block: bytes | None, xmp: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options = {}
    if block:
        options["exif"] = b"Exif\x00\x00" + block
    if xmp:
        options["xmp"] = xmp
    Image.new("RGB", (16, 8), "red").save(buffer, "WEBP", **options)
    return buffer.getvalue()


def resize_sees(path: Path) -> tuple[int, tuple[int, int]]:
    """The orientation and upright size resize's own probe finds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        header = codecs.probe(path, None)
    header.image.close()
    return header.orientation, header.upright_size


def scan_sees(path: Path) -> tuple[int, tuple[int, int]]:
    info = read_header(str(path))
    assert info.status == "ok", info.error
    return info.orientation, (info.width, info.height)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exif")


@SETTINGS
@given(block=st.none() | exif_blocks(), xmp=st.sampled_from(XMP_PACKETS))
def test_jpeg_orientation_is_the_one_resize_finds(folder, block, xmp):
    path = folder / "image.jpg"
    path.write_bytes(_jpeg(block, xmp))
    assert scan_sees(path) == resize_sees(path)


@SETTINGS
@given(
    block=st.none() | exif_blocks(),
    xmp=st.sampled_from(XMP_PACKETS),
    after_data=st.booleans(),
    mode=st.sampled_from(["RGB", "L"]),
)
def test_png_orientation_is_the_one_resize_finds(folder, block, xmp, after_data, mode):
    path = folder / "image.png"
    path.write_bytes(_png(block, xmp, after_data, mode))
    assert scan_sees(path) == resize_sees(path)


@SETTINGS
@given(block=st.none() | exif_blocks(), xmp=st.sampled_from(XMP_PACKETS))
def test_webp_orientation_is_the_one_resize_finds(folder, block, xmp):
    path = folder / "image.webp"
    path.write_bytes(_webp(block, xmp))
    assert scan_sees(path) == resize_sees(path)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_from_a_plain_block(orientation):
    block = Image.Exif()
    block[0x0112] = orientation
    assert exif.orientation(block.tobytes(), None) == orientation


def test_big_endian_block():
    block = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1)
    block += struct.pack(">HHI", 0x0112, 3, 1) + struct.pack(">H", 8) + b"\x00\x00" + b"\x00" * 4
    assert exif.orientation(block, None) == 8


def test_xmp_counts_only_when_exif_has_no_orientation_tag():
    no_tag = Image.Exif()
    no_tag[0x010F] = "camera"
    xmp = b'tiff:Orientation="6"'
    assert exif.orientation(no_tag.tobytes(), xmp) == 6
    invalid = Image.Exif()
    invalid[0x0112] = 0  # present but invalid: Pillow does not look at the XMP then
    assert exif.orientation(invalid.tobytes(), xmp) == 1


def test_unreadable_block_means_upright_even_with_xmp():
    assert exif.orientation(b"Exif\x00\x00garbage!", b'tiff:Orientation="6"') == 1


def test_raw_profile_text_is_hex_after_three_lines():
    block = Image.Exif()
    block[0x0112] = 3
    text = "\nexif\n    42\n" + block.tobytes().hex()
    assert exif.orientation(exif.raw_profile(text), None) == 3
    with pytest.raises(exif.BadExif):
        exif.raw_profile("\nexif\n 1\nzz")


def test_out_of_line_data_larger_than_the_block_skips_the_entry_as_pillow_does(tmp_path):
    """Pillow skips an entry once the out-of-line data read so far exceeds the block's size."""
    fields = [
        struct.pack("<HHI", 0x9000, 7, 56) + struct.pack("<I", 0),  # 56 of the 60 bytes
        struct.pack("<HHI", 0x0112, 3, 3) + struct.pack("<I", 8),  # 6 bytes: total too large
    ]
    body = struct.pack("<H", len(fields)) + b"".join(fields) + b"\x00" * 4
    block = b"II*\x00" + struct.pack("<I", 8) + body
    block = block.ljust(60, b"\x06")
    path = tmp_path / "image.jpg"
    path.write_bytes(_jpeg(block, b'tiff:Orientation="3"'))
    assert scan_sees(path) == resize_sees(path)
    assert scan_sees(path)[0] == 3  # the EXIF entry was skipped, so the XMP decides
