"""How a comparison is shown: per-configuration rows computed from the per-image numbers, the
facts line, the table, JSON without NaN or Infinity, the contact sheet, the exit status."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resizer import compare, compare_report
from resizer.compare import Comparison, Configuration, ImageReport, Measure, ZoneReport
from resizer.compare_report import LINE, MARGIN, Row
from resizer.geometry import Sizing
from resizer.settings import Settings

ALL = compare.configurations()
FAST = Configuration("lanczos", "pillow", False)
EXACT = Configuration("nearest", "opencv", True)


def made_up(crops: bool = False) -> Comparison:
    """Two configurations, three images (one unreadable), numbers chosen by hand."""

    def crop(value):
        return np.full((8, 8, 3), value, np.uint8) if crops else None

    images = [
        ImageReport("a.jpg", size=(30, 20), measures=[Measure(40.0, 0.99, 1000, 0.010),
                                                      Measure(30.0, 0.90, 1200, 0.002)],
                    crops=[crop(10), crop(20), crop(30)] if crops else []),
        ImageReport("b.png", size=(60, 40), measures=[Measure(math.inf, None, 3000, 0.030),
                                                      Measure(20.0, None, 1400, 0.004)],
                    crops=[crop(40), crop(50), crop(60)] if crops else []),
        ImageReport("c.jpg", error="not an image, or a format this tool cannot read"),
    ]  # fmt: skip
    zones = [ZoneReport(0.05, crop(70)), ZoneReport(0.1, crop(80)), ZoneReport(0.9, crop(90))]
    settings = Settings(sources=(Path("src"),), out=Path(), sizing=Sizing("shorter", length=16))
    return Comparison(settings, [FAST, EXACT], 7, 3, images, zones, (30, 20), 1.25)


def test_rows_are_means_and_worst_of_the_measured_images():
    fast, exact = compare_report.rows(made_up())

    assert fast == Row(FAST, images=2, seconds=pytest.approx(0.02), psnr=40.0, psnr_worst=40.0,
                       ssim=0.99, ssim_worst=0.99, aliasing=0.1, bytes=2000.0)  # fmt: skip
    assert exact == Row(EXACT, images=2, seconds=pytest.approx(0.003), psnr=25.0,
                        psnr_worst=20.0, ssim=pytest.approx(0.9), ssim_worst=0.9, aliasing=0.9,
                        bytes=1300.0)  # fmt: skip


def test_rows_of_images_all_identical_to_the_reference_have_infinite_psnr():
    comparison = made_up()
    comparison.images = comparison.images[1:2]
    assert compare_report.rows(comparison)[0].psnr == math.inf


def test_facts_name_the_best_and_worst_as_measured():
    facts = compare_report.facts(compare_report.rows(made_up()))
    assert facts == [
        "best PSNR: lanczos/pillow (40.00 dB)",
        "best SSIM: lanczos/pillow (0.9900)",
        "least aliasing: lanczos/pillow (score 0.10)",
        "most aliasing: nearest/opencv --exact (score 0.90)",
        "fastest: nearest/opencv --exact (3.0 ms/image)",
        "smallest: nearest/opencv --exact (1.3 kB/image)",
        "aliasing score >= 0.5: nearest/opencv --exact (0.90)",
    ]


def test_facts_take_the_first_of_equals_and_leave_out_what_was_not_measured():
    rows = [Row(c, 1, 0.001, 30.0, 30.0, None, None, None, 10.0) for c in (FAST, EXACT)]
    assert compare_report.facts(rows) == [
        "best PSNR: lanczos/pillow (30.00 dB)",
        "fastest: lanczos/pillow (1.0 ms/image)",
        "smallest: lanczos/pillow (0.0 kB/image)",
    ]


def test_table_text_shows_each_row_with_inf_and_dashes():
    comparison = made_up()
    comparison.images[0].measures[0].psnr = math.inf
    lines = compare_report.table_text(comparison, compare_report.rows(comparison)).splitlines()
    assert lines[1].split() == ["lanczos/pillow", "20.0", "inf", "inf", "0.9900", "0.9900",
                                "0.10", "2.0"]  # fmt: skip
    assert lines[2].split() == ["nearest/opencv", "--exact", "3.0", "25.00", "20.00", "0.9000",
                                "0.9000", "0.90", "1.3"]  # fmt: skip
    assert lines[3] == "" and lines[4].startswith("best PSNR")


def test_json_is_strict_json_with_identical_as_null_and_failures_listed():
    comparison = made_up()
    document = compare_report.to_json(comparison, compare_report.rows(comparison))
    text = json.dumps(document, allow_nan=False)  # raises on inf or NaN

    parsed = json.loads(text)
    assert parsed["sample"] == ["a.jpg", "b.png", "c.jpg"] and parsed["found"] == 7
    assert parsed["seed"] == 3 and parsed["zone_plate"] == {"size": [30, 20],
                                                            "reference_score": 0.05}  # fmt: skip
    assert parsed["images"][1]["results"][0] == {
        "label": "lanczos/pillow", "psnr": None, "ssim": None, "bytes": 3000, "ms": 30.0
    }  # fmt: skip
    assert parsed["images"][2] == {
        "source": "c.jpg", "error": "not an image, or a format this tool cannot read",
        "results": [],
    }  # fmt: skip
    assert parsed["configurations"][1]["psnr_worst"] == 20.0
    assert parsed["options"]["sizing"] == {"kind": "shorter", "length": 16}


def test_show_prints_and_returns_1_when_an_image_failed(capsys):
    status = compare_report.show(made_up(), as_json=False, sheet=None, crop=0)
    out, err = capsys.readouterr()
    assert status == 1
    assert out.splitlines()[0].startswith("configuration")
    assert err.splitlines() == [
        "resizer: c.jpg: not an image, or a format this tool cannot read",
        "resizer: 2 configurations on 2 of 7 images (seed 3) in 1.2 s",
    ]
    comparison = made_up()
    comparison.images.pop()
    assert compare_report.show(comparison, as_json=True, sheet=None, crop=0) == 0
    assert json.loads(capsys.readouterr().out)["sample"] == ["a.jpg", "b.png"]


def test_sheet_puts_each_crop_in_its_row_and_column(tmp_path):
    path = tmp_path / "sheet.png"
    compare_report.write_sheet(made_up(crops=True), path, crop=8)

    cell_w, row_h, header_h = 90 + MARGIN, 8 + 2 * LINE + 2 * MARGIN, 3 * LINE + MARGIN
    with Image.open(path) as sheet:
        assert sheet.size == (120 + 3 * cell_w, header_h + 3 * row_h)  # the failed image: no row
        pixels = np.asarray(sheet.convert("RGB"))
    expected = {(0, 0): 70, (0, 1): 80, (0, 2): 90, (1, 0): 10, (1, 2): 30, (2, 1): 50}
    for (row, column), value in expected.items():
        top, left = header_h + row * row_h, 120 + column * cell_w
        assert (pixels[top : top + 8, left : left + 8] == value).all(), (row, column)


# --- through the command ----------------------------------------------------------------------


def test_compare_prints_a_row_per_configuration_and_the_facts(run_cli, small_tree):
    result = run_cli("compare", small_tree, "--size", "48x48", "--mode", "fill", "-j", "1")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "configuration",
        "ms/image",
        "PSNR",
        "dB",
        "worst",
        "SSIM",
        "worst",
        "aliasing",
        "kB/image",
    ]
    rows = lines[1:21]
    assert [row[:24].strip() for row in rows] == [c.label for c in ALL]
    assert all(len(row[24:].split()) == 7 for row in rows)
    facts = lines[22:]
    assert facts[0].startswith("best PSNR: ") and facts[0].endswith(" dB)")
    assert any(fact.startswith("most aliasing: nearest/") for fact in facts)
    assert "20 configurations on 4 of 4 images (seed 0)" in result.stderr


def test_compare_json_carries_every_number_and_matches_the_table(run_cli, small_tree):
    table = run_cli("compare", small_tree, "--size", "48x48", "-j", "1").stdout
    result = run_cli("compare", small_tree, "--size", "48x48", "-j", "1", "--json")

    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["sample"] == ["cats/a.jpg", "cats/b.png", "dogs/c.jpg", "dogs/d.webp"]
    assert document["options"]["sizing"] == {"kind": "size", "width": 48, "height": 48}
    assert document["zone_plate"]["size"] == [120, 90]  # median image by pixels
    assert [c["label"] for c in document["configurations"]] == [c.label for c in ALL]
    for row, line in zip(document["configurations"], table.splitlines()[1:21], strict=True):
        cells = line[24:].split()
        assert cells[1] == f"{row['psnr']:.2f}" and cells[3] == f"{row['ssim']:.4f}"
        assert cells[5] == f"{row['aliasing']:.2f}"
        per_image = [
            image["results"][document["configurations"].index(row)] for image in document["images"]
        ]
        assert row["psnr"] == pytest.approx(np.mean([r["psnr"] for r in per_image]))
        assert row["bytes_per_image"] == pytest.approx(np.mean([r["bytes"] for r in per_image]))
    assert isinstance(document["facts"], list) and document["facts"]


def test_compare_sheet_has_a_column_per_configuration_and_a_row_per_image(
    run_cli, small_tree, tmp_path
):
    sheet = tmp_path / "sheets" / "sheet.png"
    result = run_cli(
        "compare",
        small_tree,
        "--size",
        "48x48",
        "--mode",
        "fill",
        "--backend",
        "opencv",
        "--sheet",
        sheet,
    )

    assert result.exit_code == 0
    from resizer.compare_report import LINE, MARGIN

    with Image.open(sheet) as image:
        cell = max(compare.SHEET_CROP, 90) + MARGIN
        assert image.width == 120 + cell * (1 + 10)  # names, reference, 10 configurations
        row = compare.SHEET_CROP + 2 * LINE + 2 * MARGIN
        assert image.height == 3 * LINE + MARGIN + row * (1 + 4)  # zone plate and 4 images


def test_a_reader_that_goes_away_ends_the_output_not_the_command(small_tree):
    """`resizer compare ... | head`: stdout closed before the table is written."""
    process = subprocess.Popen(
        [sys.executable, "-m", "resizer", "compare", str(small_tree), "--size", "32",
         "--interpolation", "area", "-j", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 0
    assert "Traceback" not in stderr
    assert "4 configurations on 4 of 4 images" in stderr
