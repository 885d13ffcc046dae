"""Smoke test of the benchmark script: it must keep running as the package changes.

The real benchmark needs a 400-image corpus and takes many minutes; this runs the same code
paths on three small generated JPEGs, without the peer tools, and checks the report it writes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import save_photo
from PIL import Image

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def table_row(report: str, job: str, tool: str) -> list[str]:
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[:2] == [job, tool]:
            return cells
    raise AssertionError(f"no table row for {job} / {tool} in:\n{report}")


def test_bench_runs_on_three_images_and_writes_the_table(tmp_path: Path):
    """Three 600x400 JPEGs: resizer, a second resizer build (here the same one) and the decode
    floor are timed, outputs are 512x341; mogrify is left out on request."""
    corpus = tmp_path / "corpus"
    for index, name in enumerate(("cats/a.jpg", "cats/b.jpg", "dogs/c.jpg")):
        save_photo(corpus / name, 600, 400, seed=index, quality=90)
    results = tmp_path / "RESULTS.md"
    work = tmp_path / "work"
    beside = Path(sys.executable).with_name("resizer")
    resizer = str(beside) if beside.exists() else shutil.which("resizer")
    assert resizer, "the resizer console script is not installed (pip install -e .)"

    done = subprocess.run(
        [
            sys.executable, str(BENCH), "--corpus", str(corpus), "--work", str(work),
            "--skip-magick", "--also-resizer", f"again={resizer}", "--limit", "3",
            "--repeat", "1", "--only", "fit-512", "--profile-images", "2",
            "--results", str(results),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    report = results.read_text(encoding="utf-8")
    ours = table_row(report, "fit-512", "resizer")
    floor = table_row(report, "fit-512", "decode floor")
    again = table_row(report, "fit-512", "resizer again")
    assert ours[9] == "3/3"
    assert again[9] == "3/3" and float(again[10]) > 0  # resizer ÷ resizer again
    assert floor[9] == "3/3"
    assert float(ours[4]) > 0 and float(floor[4]) > 0  # images/s
    assert float(floor[10]) > 0  # resizer ÷ floor
    for fmt in ("jpeg", "png"):  # job, outputs, compared against --exact, ..., worst PSNR
        quality = table_row(report, "fit-512", fmt)
        assert quality[2] == "3"
        assert float(quality[6].split()[0]) > 0  # "inf" when identical
    assert "## Targets" in report and "no-op re-run" in report
    assert "mogrify was left out (--skip-magick)." in report
    outputs = sorted((work / "out" / "fit-512" / "resizer").rglob("*.jpg"))
    assert [
        path.relative_to(work / "out" / "fit-512" / "resizer").as_posix() for path in outputs
    ] == [
        "cats/a.jpg",
        "cats/b.jpg",
        "dogs/c.jpg",
    ]
    for path in outputs:
        with Image.open(path) as image:
            assert image.size == (512, 341)
    assert "| fit-512 | resizer |" in done.stdout


SHRINK = BENCH.with_name("shrink.py")


def test_shrink_rules_table_shows_the_moire_of_a_2x_bound():
    """bench/shrink.py --quick (512x384 textures at 2x and 8x): one row per bound; with a 2x
    bound the textures fall under 40 dB against --exact, with 3x they stay above."""
    done = subprocess.run(
        [sys.executable, str(SHRINK), "--quick", "--bounds", "2,3"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    rows = {}
    for line in done.stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] in ("2x", "3x"):
            rows[cells[0]] = cells
    assert set(rows) == {"2x", "3x"}, done.stdout
    worst = {bound: float(cells[1].split()[0]) for bound, cells in rows.items()}
    assert worst["2x"] < 40 <= worst["3x"]
