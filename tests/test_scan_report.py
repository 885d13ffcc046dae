"""The scan report's arithmetic and its text form (resizer/scan_report.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from resizer.geometry import Sizing
from resizer.scan import FIELDS, Scan, ScanSettings
from resizer.scan_report import failed_checks, percentile, render, summarise


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200), st.integers(1, 100))
def test_percentile_is_nearest_rank(values, share):
    ordered = np.sort(np.array(values))
    expected = np.percentile(ordered, share, method="inverted_cdf")
    assert percentile(ordered, share) == round(float(expected), 4)


def _row(source: str, status: str = "ok", size=(100, 50), geometry=None, **facts) -> tuple:
    record = dict.fromkeys(FIELDS)
    record.update(source=source, status=status, src_width=size[0], src_height=size[1])
    record.update(src_format="JPEG", src_mode="RGB", bits=8, orientation=1, src_bytes=1)
    record.update(alpha=False, icc=False, src_frames=1)
    if status == "unreadable":
        record.update(src_width=None, src_height=None, error="empty file")
    record.update(facts)
    if geometry:
        names = ("width", "height", "resize", "crop_box", "pad_offset")
        record.update(zip(names, geometry, strict=True))
    return tuple(record[name] for name in FIELDS)


def test_histogram_bins_and_counts():
    rows = [_row(f"{index}.jpg", size=(width, 10)) for index, width in enumerate([60, 64, 300])]
    document = summarise(Scan(rows=rows), ScanSettings(sources=()))
    assert document["width"]["histogram"] == [
        {"from": 1, "to": 64, "count": 1},
        {"from": 64, "to": 128, "count": 1},
        {"from": 128, "to": 256, "count": 0},
        {"from": 256, "to": 512, "count": 1},
    ]
    assert "       64-127        1 ██████████████████████████████" in render(document)


def test_unreadable_files_are_kept_out_of_the_statistics():
    rows = [_row("a.jpg", size=(10, 20)), _row("b.jpg", status="unreadable")]
    document = summarise(Scan(rows=rows), ScanSettings(sources=()))
    assert (document["files"], document["images"]) == (2, 1)
    assert document["width"]["max"] == 10
    assert document["unreadable"] == [{"source": "b.jpg", "error": "empty file"}]


def test_text_lists_twenty_problems_and_counts_the_rest():
    rows = [_row(f"{index:02d}.jpg", status="unreadable") for index in range(25)]
    text = render(summarise(Scan(rows=rows), ScanSettings(sources=())))
    assert "  19.jpg: empty file" in text and "  20.jpg" not in text
    assert "  ... and 5 more (all of them in --json)" in text


def test_prediction_categories_and_shares():
    """Upscaled 2x, downscaled 4x (cropped to half), padded to twice the area, and unchanged."""
    settings = ScanSettings(sources=(), sizing=Sizing("size", width=100, height=100))
    whole = (0, 0, 100, 100)
    rows = [
        _row("up.jpg", size=(50, 50), geometry=(100, 100, (100, 100), whole, (0, 0))),
        _row("down.jpg", size=(800, 400), geometry=(100, 100, (200, 100), (50, 0, 150, 100), None)),
        _row("pad.jpg", size=(200, 100), geometry=(100, 100, (100, 50), (0, 0, 100, 50), (0, 25))),
        _row("same.jpg", size=(100, 100), geometry=(100, 100, (100, 100), whole, (0, 0))),
    ]  # fmt: skip
    prediction = summarise(Scan(rows=rows, predicted=True), settings)["prediction"]
    assert prediction["upscaled"]["count"] == 1 and prediction["upscaled"]["factor"]["max"] == 2
    assert prediction["downscaled"]["count"] == 2
    assert prediction["downscaled"]["factor"]["max"] == 4
    assert prediction["unchanged"] == 1
    assert prediction["cropped"] == {
        "count": 1,
        "area_discarded": {"p50": 0.0, "p90": 0.5, "p99": 0.5, "max": 0.5},
    }
    assert prediction["padded"]["count"] == 1 and prediction["padded"]["area_added"]["max"] == 0.5
    assert prediction["distorted"]["count"] == 0
    assert prediction["output_sizes"] == {"distinct": 1, "most_common": {"100x100": 4}}


def test_failed_checks_name_the_check_and_count():
    document = {"unreadable": [{}, {}], "suspect": [], "too_large": [], "animated": 1}
    assert failed_checks(document, ("unreadable", "suspect", "animated")) == [
        "2 images unreadable (--fail-on unreadable)",
        "1 image animated or multi-frame (--fail-on animated)",
    ]
