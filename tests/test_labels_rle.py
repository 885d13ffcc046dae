"""COCO RLE: our codec against pycocotools, and masks mapped with nearest resampling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from resizer.labels import Transform, rle
from resizer.labels.transform import LabelError

mask_api = pytest.importorskip("pycocotools.mask", reason="pycocotools is in the test extra")
# pycocotools 2.0 under numpy 2 warns about its own use of __array__.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@settings(max_examples=200)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 30), st.integers(1, 30)), elements=st.integers(0, 1))
)
def test_codec_agrees_with_pycocotools(mask):
    theirs = mask_api.encode(np.asfortranarray(mask))
    assert rle.encode(mask)["counts"] == theirs["counts"].decode("ascii")
    assert rle.encode(mask)["size"] == list(theirs["size"])
    assert np.array_equal(rle.decode({"size": theirs["size"], "counts": theirs["counts"]}), mask)
    plain = rle.encode(mask, compressed=False)
    height, width = mask.shape
    assert np.array_equal(mask_api.decode(mask_api.frPyObjects(plain, height, width)), mask)


def test_counts_that_do_not_fit_the_size_are_an_error_not_a_crash():
    with pytest.raises(LabelError, match="do not fit"):
        rle.decode({"size": [2, 2], "counts": [1, 9]})
    with pytest.raises(LabelError, match="ends inside"):
        rle.decode_counts("1k")


def test_mapped_mask_is_the_nearest_resize_cut_to_the_window():
    # 8x4 source (upright), resized to 4x2, then the left 3 columns kept and one padded row.
    transform = Transform(
        upright=(8, 4), orientation=6, resize=(4, 2), crop_box=(0, 0, 3, 2),
        pad_offset=(0, 1), output=(3, 3),
    )  # fmt: skip
    upright = np.zeros((4, 8), dtype=np.uint8)
    upright[:2, 2:4] = 1  # source columns 2-3, rows 0-1 -> output column 1, row 0 (+1 pad)
    stored = np.rot90(upright, 1)  # orientation 6 is stored turned the other way
    mapped, kept, total = rle.map_rle(rle.encode(stored), transform, "stored")
    expected = np.zeros((3, 3), dtype=np.uint8)
    expected[1, 1] = 1
    compressed = {"size": mapped["size"], "counts": mapped["counts"].encode("ascii")}
    assert np.array_equal(mask_api.decode(compressed), expected)
    assert (kept, total) == (1, 1)
    assert isinstance(mapped["counts"], str)
    with pytest.raises(LabelError, match="not the image's"):
        rle.map_rle(rle.encode(upright[:3]), transform, "upright")
