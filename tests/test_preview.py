"""`resize --preview`: sampled sources with the kept region drawn, beside their outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import read_records, save_photo
from PIL import Image

from resizer.geometry import Sizing
from resizer.preview import CAPTION, GAP, OUTLINE, THUMB, choose, source_path
from resizer.settings import Settings

ANY_SIZE = Sizing("shorter", length=8)


def _row_top(index: int) -> int:
    return GAP + index * (THUMB + CAPTION + GAP)


@pytest.fixture
def white_tree(tmp_path: Path) -> Path:
    """Plain images: what is drawn can be told pixel by pixel."""
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (400, 200), "white").save(src / "wide.png")
    Image.new("RGB", (100, 300), (0, 0, 255)).save(src / "tall.png")
    return src


def test_kept_region_is_outlined_and_the_rest_dimmed(run_cli, white_tree, tmp_path):
    preview = tmp_path / "preview.png"
    result = run_cli(
        "resize", white_tree, "-o", tmp_path / "out", "--size", "100x100", "--mode", "fill",
        "--preview", preview, "-j1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(preview).convert("RGB")).astype(int)
    assert image.shape == (2 * (THUMB + CAPTION + GAP) + GAP, 2 * THUMB + 3 * GAP, 3)
    # Row 0 is tall.png (sources in order): 100x300 shown 80x240, all of it kept (fill 100x100
    # keeps the centre 100x100 of the 100x300 resize: rows 100-200 of 300 -> 80-160 of 240).
    # Row 1 is wide.png: 400x200 shown 240x120; fill keeps the centre square: x 60-180.
    top = _row_top(1)
    assert image[top + 60, GAP + 120].tolist() == [255, 255, 255]  # kept: as it is
    assert image[top + 60, GAP + 20].tolist() == [110, 110, 110]  # cut away: dimmed
    assert image[top + 60, GAP + 60].tolist() == list(OUTLINE)  # the outline, at x = 60
    # The output beside it: the 100x100 white output, enlarged twice (nearest) to 200x200.
    assert image[top + 120, 2 * GAP + THUMB + 120].tolist() == [255, 255, 255]
    tall = _row_top(0)
    source_left = GAP + (THUMB - 80) // 2
    assert image[tall + 40, source_left + 40].tolist() == [0, 0, 110]  # above the kept square
    assert image[tall + 120, source_left + 40].tolist() == [0, 0, 255]  # inside it


def test_the_same_draw_for_the_same_seed_and_no_op_reruns(run_cli, photo_tree, tmp_path):
    for index in range(12):
        save_photo(photo_tree / "more" / f"{index:02d}.jpg", 40 + index, 30, seed=index)
    out = tmp_path / "out"
    options = ("--size", "32x32", "--mode", "pad", "-j1", "--preview-count", "4")
    first, again, other = (tmp_path / name for name in ("a.png", "b.png", "c.png"))
    assert run_cli("resize", photo_tree, "-o", out, *options, "--preview", first).exit_code == 0
    rerun = run_cli("resize", photo_tree, "-o", out, *options, "--preview", again)
    assert "0 ok, 15 skipped" in rerun.stderr
    assert first.read_bytes() == again.read_bytes()
    run_cli("resize", photo_tree, "-o", out, *options, "--preview", other, "--preview-seed", "5")
    assert other.read_bytes() != first.read_bytes()
    assert Image.open(first).height == 4 * (THUMB + CAPTION + GAP) + GAP


def test_choose_draws_only_ok_records_in_source_order():
    records = {f"{index:02d}.jpg": '{"status": "ok"}' for index in range(20)}
    records["bad.jpg"] = '{"status": "failed"}'
    chosen = [record for record in choose(records, 5, seed=1)]
    assert len(chosen) == 5 and all(record["status"] == "ok" for record in chosen)
    assert choose(records, 5, seed=1) == chosen
    assert len(choose(records, 50, seed=1)) == 20


def test_source_path_inverts_the_planners_names(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        (folder / "cats").mkdir(parents=True)
    single = tmp_path / "single.jpg"
    single.write_bytes(b"")
    settings = Settings(sources=(one,), out=tmp_path / "out", sizing=ANY_SIZE)
    assert source_path(settings, "cats/a.jpg") == one / "cats" / "a.jpg"
    several = Settings(sources=(one, two, single), out=tmp_path / "out", sizing=ANY_SIZE)
    assert source_path(several, "two/cats/a.jpg") == two / "cats" / "a.jpg"
    assert source_path(several, "single.jpg") == single


def test_the_names_in_a_run_are_found_again(run_cli, photo_tree, tmp_path):
    """For every record of a real run with two SRC folders and a file, the path exists."""
    other = tmp_path / "other"
    save_photo(other / "x.png", 20, 20)
    loose = save_photo(tmp_path / "loose.jpg", 20, 20)
    out = tmp_path / "out"
    assert run_cli("resize", photo_tree, other, loose, "-o", out, "--size", "8").exit_code == 0
    settings = Settings(sources=(photo_tree, other, loose), out=out, sizing=ANY_SIZE)
    for record in read_records(out / "manifest.jsonl"):
        assert source_path(settings, record["source"]).is_file(), record["source"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("src/preview.png", "is inside SRC"),
        ("out/preview.png", "is inside OUT"),
        ("preview.jpg", "the preview is a PNG file"),
    ],
)
def test_preview_in_the_data_is_a_usage_error(run_cli, white_tree, tmp_path, where, message):
    result = run_cli(
        "resize", white_tree, "-o", tmp_path / "out", "--size", "10", "--preview", tmp_path / where
    )
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_unwritable_preview_is_reported_and_the_run_stands(run_cli, white_tree, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli(
        "resize", white_tree, "-o", tmp_path / "out", "--size", "10", "-j1",
        "--preview", blocker / "preview.png",
    )  # fmt: skip
    assert result.exit_code == 0
    assert "resizer: cannot write the preview" in result.stderr
    assert len(read_records(tmp_path / "out" / "manifest.jsonl")) == 2


def test_one_file_jobs_may_have_their_preview_beside_the_output(run_cli, tmp_path):
    source = save_photo(tmp_path / "photo.jpg", 90, 60)
    preview = tmp_path / "job.png"
    result = run_cli("resize", source, "-o", tmp_path / "small.jpg", "--longer", "30",
                     "--preview", preview)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert Image.open(preview).height == THUMB + CAPTION + 2 * GAP


def test_the_api_draws_it_too(tmp_path):
    import resizer

    source = save_photo(tmp_path / "src" / "a.jpg", 90, 60)
    preview = tmp_path / "api.png"
    done = resizer.resize(source.parent, tmp_path / "out", longer=30, preview=preview)
    assert done.exit_code == 0 and preview.is_file()
