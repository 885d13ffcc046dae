"""Outputs no source stands for any more are removed; nothing resizer did not write is touched."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import read_records, save_photo


def resize_args(src: Path, out: Path, *extra: str) -> list[str]:
    return ["resize", str(src), "-o", str(out), "--size", "32x32", "--jobs", "1", *extra]


def files_in(out: Path) -> set[str]:
    return {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and not p.name.startswith("manifest")
    }


def test_a_format_change_leaves_no_duplicate_of_any_image(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    run_cli(*resize_args(photo_tree, out))
    assert files_in(out) == {"cats/a.jpg", "cats/b.png", "dogs/c.jpg"}
    result = run_cli(*resize_args(photo_tree, out, "--format", "webp", "--json"))
    assert result.exit_code == 0, result.output
    assert files_in(out) == {"cats/a.webp", "cats/b.webp", "dogs/c.webp"}
    assert json.loads(result.stdout)["summary"]["removed_outputs"] == 3
    assert "removed 3 earlier outputs whose sources are gone" in result.stderr
    assert {r["output"] for r in read_records(out / "manifest.jsonl")} == files_in(out)


def test_a_deleted_or_excluded_source_takes_its_output_and_empty_folder_with_it(
    photo_tree, tmp_path, run_cli
):
    out = tmp_path / "out"
    run_cli(*resize_args(photo_tree, out))
    (photo_tree / "cats" / "a.jpg").unlink()
    run_cli(*resize_args(photo_tree, out, "--exclude", "dogs/*"))
    assert files_in(out) == {"cats/b.png"}
    assert not (out / "dogs").exists()  # no empty class folder
    assert [r["source"] for r in read_records(out / "manifest.jsonl")] == ["cats/b.png"]


def test_a_file_that_is_not_what_resizer_wrote_is_never_removed(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    run_cli(*resize_args(photo_tree, out))
    save_photo(out / "dogs" / "c.jpg", 10, 10, seed=7)  # replaced by the user
    (photo_tree / "dogs" / "c.jpg").unlink()
    result = run_cli(*resize_args(photo_tree, out, "--json"))
    assert json.loads(result.stdout)["summary"]["removed_outputs"] == 0
    assert (out / "dogs" / "c.jpg").exists()


def test_a_source_that_now_fails_does_not_keep_its_old_output(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    run_cli(*resize_args(photo_tree, out))
    (photo_tree / "dogs" / "c.jpg").write_bytes(b"\xff\xd8 now broken")
    result = run_cli(*resize_args(photo_tree, out))
    assert result.exit_code == 1
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert (records["dogs/c.jpg"]["status"], records["dogs/c.jpg"]["output"]) == ("failed", None)
    assert "dogs/c.jpg" not in files_in(out)
