"""The planner: which files become jobs, where their outputs go, and which runs are refused."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path, PurePosixPath

import pytest
from conftest import read_records, save_photo
from hypothesis import given
from hypothesis import strategies as st

from resizer.geometry import Sizing
from resizer.plan import EXTENSIONS, PlanError, make_plan, output_name
from resizer.settings import Settings


def settings_for(sources, out, **options) -> Settings:
    sources = tuple(Path(source) for source in sources)
    return Settings(sources=sources, out=Path(out), sizing=Sizing("longer", length=32), **options)


def visible(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def planned(settings: Settings) -> dict[str, str]:
    return {job.name: job.output for job in make_plan(settings).jobs}


def test_one_folder_is_mirrored_into_out(photo_tree, tmp_path):
    jobs = planned(settings_for([photo_tree], tmp_path / "out"))
    assert jobs == {
        "cats/a.jpg": "cats/a.jpg",
        "cats/b.png": "cats/b.png",
        "dogs/c.jpg": "dogs/c.jpg",
    }


def test_several_folders_are_mirrored_under_their_own_names(tmp_path):
    save_photo(tmp_path / "train" / "cats" / "a.jpg", 20, 20)
    save_photo(tmp_path / "val" / "cats" / "a.jpg", 20, 20)
    jobs = planned(settings_for([tmp_path / "train", tmp_path / "val"], tmp_path / "out"))
    assert jobs == {"train/cats/a.jpg": "train/cats/a.jpg", "val/cats/a.jpg": "val/cats/a.jpg"}


def test_image_files_given_directly_land_at_their_file_name(tmp_path):
    first = save_photo(tmp_path / "deep" / "in" / "x.png", 20, 20)
    second = save_photo(tmp_path / "y.jpg", 20, 20)
    assert planned(settings_for([first, second], tmp_path / "out")) == {
        "x.png": "x.png",
        "y.jpg": "y.jpg",
    }


def test_extensions_case_insensitive_others_ignored_hidden_skipped(tmp_path):
    src = tmp_path / "src"
    save_photo(src / "IMG_0001.JPG", 20, 20)
    save_photo(src / "scan.TIFF", 20, 20)
    save_photo(src / "pic.webp", 20, 20)
    save_photo(src / ".hidden.jpg", 20, 20)
    save_photo(src / ".cache" / "thumb.jpg", 20, 20)
    (src / "notes.txt").write_text("not an image")
    (src / "labels.csv").write_text("a,b\n")
    plan = make_plan(settings_for([src], tmp_path / "out"))
    assert sorted(job.name for job in plan.jobs) == ["IMG_0001.JPG", "pic.webp", "scan.TIFF"]
    assert plan.ignored == 2


def test_include_and_exclude_filter_relative_paths(photo_tree, tmp_path):
    only_jpegs = planned(settings_for([photo_tree], tmp_path / "o", include=("*.jpg",)))
    assert sorted(only_jpegs) == ["cats/a.jpg", "dogs/c.jpg"]
    no_dogs = planned(settings_for([photo_tree], tmp_path / "o", exclude=("dogs/*",)))
    assert sorted(no_dogs) == ["cats/a.jpg", "cats/b.png"]


@pytest.mark.parametrize(
    ("name", "requested", "expected"),
    [
        ("a/IMG.JPG", "keep", ("a/IMG.JPG", "jpeg")),
        ("a/b.tiff", "keep", ("a/b.tiff", "tiff")),
        ("a/b.bmp", "keep", ("a/b.bmp", "bmp")),
        ("a/b.gif", "keep", ("a/b.gif", "gif")),
        ("a/b.GIF", "png", ("a/b.png", "png")),
        ("a/b.jpg", "gif", ("a/b.gif", "gif")),
        ("a/b.png", "bmp", ("a/b.bmp", "bmp")),
        ("a/b.png", "jpeg", ("a/b.jpg", "jpeg")),
        ("a/b.jpeg", "jpeg", ("a/b.jpeg", "jpeg")),
        ("a/b.jpg", "webp", ("a/b.webp", "webp")),
        ("a/b.jpg", "tiff", ("a/b.tif", "tiff")),
    ],
)
def test_output_name_and_format(name, requested, expected):
    assert output_name(name, requested) == expected


@given(
    parts=st.lists(
        st.text(alphabet="ab.J\udcff ", min_size=1, max_size=6).filter(
            lambda part: part not in (".", "..")  # a walk finds no such names
        ),
        min_size=1,
        max_size=3,
    ),
    requested=st.sampled_from(["keep", "png", "jpeg", "webp", "tiff"]),
)
def test_output_names_replace_the_extension_as_pathlib_does(parts, requested):
    """output_name finds the extension without pathlib (it runs once per image); it must agree
    with PurePosixPath's suffix rules for any name, dots at either end of a part included."""
    name = "/".join(parts)
    path = PurePosixPath(name)
    output, fmt = output_name(name, requested)
    if output != name:
        assert output == str(path.with_suffix(EXTENSIONS[fmt]))


def test_two_inputs_writing_one_output_is_a_usage_error(tmp_path, run_cli):
    save_photo(tmp_path / "src" / "a.png", 20, 20)
    save_photo(tmp_path / "src" / "a.jpg", 20, 20)
    with pytest.raises(PlanError, match=r"a\.webp"):
        make_plan(settings_for([tmp_path / "src"], tmp_path / "out", format="webp"))
    result = run_cli("resize", tmp_path / "src", "-o", tmp_path / "out", "--scale", "0.5",
                     "--format", "webp", "--jobs", "1")  # fmt: skip
    assert result.exit_code == 2
    assert "1 output file would be written by more than one input" in result.output
    assert not (tmp_path / "out").exists()


def test_every_clash_is_named_up_to_ten_then_counted(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    for index in range(13):
        save_photo(src / f"foo{index:02d}.bmp", 8, 8)
        save_photo(src / f"foo{index:02d}.gif", 8, 8)
    save_photo(src / "alone.bmp", 8, 8)
    result = run_cli("resize", src, "-o", out, "--scale", "0.5", "--format", "png")
    assert result.exit_code == 2
    message = result.stderr
    assert "13 output files would be written by more than one input" in message
    for index in range(10):
        assert f"'foo{index:02d}.png' from '{src}/foo{index:02d}.bmp' and " in message
    assert "foo10" not in message and "and 3 more" in message
    assert "alone" not in message
    assert "--keep-extension" in message
    assert not out.exists()


def test_keep_extension_gives_clashing_inputs_their_own_outputs(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    save_photo(src / "foo.bmp", 30, 20)
    save_photo(src / "foo.gif", 20, 30)
    save_photo(src / "bar.png", 20, 20)
    result = run_cli("resize", src, "-o", out, "--size", "10x10", "--format", "png",
                     "--keep-extension", "--jobs", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    assert {source: r["output"] for source, r in records.items()} == {
        "bar.png": "bar.png",
        "foo.bmp": "foo.bmp.png",
        "foo.gif": "foo.gif.png",
    }
    assert (records["foo.bmp"]["width"], records["foo.gif"]["height"]) == (10, 10)
    assert visible(out) == [
        "bar.png", "foo.bmp.png", "foo.gif.png", "manifest.jsonl", "manifest.run.json"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "requested", "expected"),
    [
        ("a/b.gif", "keep", ("a/b.gif", "gif")),  # keep keeps GIF: nothing to append
        ("a/b.gif", "png", ("a/b.gif.png", "png")),
        ("a/b.png", "jpeg", ("a/b.png.jpg", "jpeg")),
        ("a/b.jpeg", "jpeg", ("a/b.jpeg", "jpeg")),
        ("a/IMG.JPG", "keep", ("a/IMG.JPG", "jpeg")),
    ],
)
def test_output_name_keeping_the_extension(name, requested, expected):
    assert output_name(name, requested, keep_extension=True) == expected


def test_out_inside_src_is_refused_before_anything_is_written(photo_tree, run_cli):
    out = photo_tree / "cats" / "resized"
    result = run_cli("resize", photo_tree, "-o", out, "--size", "16x16", "--jobs", "1")
    assert result.exit_code == 2
    assert "inside SRC" in result.output
    assert not out.exists()


def test_out_equal_to_src_is_refused(photo_tree, run_cli):
    result = run_cli("resize", photo_tree, "-o", photo_tree, "--size", "16x16", "--jobs", "1")
    assert result.exit_code == 2


def test_outputs_landing_inside_a_src_under_out_are_refused(tmp_path):
    # SRC = data/raw and OUT = data: raw/x.jpg mirrored to data/x.jpg is fine, but a source
    # raw/raw/y.jpg would be written to data/raw/y.jpg, inside the input.
    save_photo(tmp_path / "data" / "raw" / "x.jpg", 20, 20)
    assert planned(settings_for([tmp_path / "data" / "raw"], tmp_path / "data")) == {
        "x.jpg": "x.jpg"
    }
    save_photo(tmp_path / "data" / "raw" / "raw" / "y.jpg", 20, 20)
    with pytest.raises(PlanError, match="inside SRC"):
        make_plan(settings_for([tmp_path / "data" / "raw"], tmp_path / "data"))


def test_manifest_inside_src_is_refused(photo_tree, tmp_path):
    with pytest.raises(PlanError, match="manifest"):
        make_plan(settings_for([photo_tree], tmp_path / "o", manifest=photo_tree / "m.jsonl"))


def test_two_src_folders_with_the_same_name_are_refused(tmp_path):
    save_photo(tmp_path / "a" / "imgs" / "x.jpg", 20, 20)
    save_photo(tmp_path / "b" / "imgs" / "y.jpg", 20, 20)
    with pytest.raises(PlanError, match="same name"):
        make_plan(settings_for([tmp_path / "a" / "imgs", tmp_path / "b" / "imgs"], tmp_path / "o"))


def test_missing_src_is_a_usage_error(tmp_path, run_cli):
    result = run_cli("resize", tmp_path / "nope", "-o", tmp_path / "o", "--scale", "0.5")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_symlinked_folders_are_not_followed_unless_asked(tmp_path):
    src = tmp_path / "src"
    save_photo(tmp_path / "elsewhere" / "e.jpg", 20, 20)
    save_photo(src / "own.jpg", 20, 20)
    os.symlink(tmp_path / "elsewhere", src / "linked")
    os.symlink(src, src / "loop")  # a loop back to the root
    assert sorted(planned(settings_for([src], tmp_path / "o"))) == ["own.jpg"]
    followed = planned(settings_for([src], tmp_path / "o", follow_symlinks=True))
    assert sorted(followed) == ["linked/e.jpg", "own.jpg"]


def test_a_link_to_a_file_outside_src_is_processed_as_that_file(tmp_path, run_cli):
    src = tmp_path / "src"
    src.mkdir()
    target = save_photo(tmp_path / "outside" / "real.jpg", 64, 32)
    os.symlink(target, src / "alias.jpg")
    result = run_cli("resize", src, "-o", tmp_path / "out", "--size", "32", "--jobs", "1")
    assert result.exit_code == 0, result.output
    [record] = read_records(tmp_path / "out" / "manifest.jsonl")
    assert (record["source"], record["width"], record["height"]) == ("alias.jpg", 32, 16)


def test_a_folder_that_cannot_be_listed_is_a_failed_record(photo_tree, tmp_path, monkeypatch):
    blocked = str(photo_tree / "dogs")
    real_scandir = os.scandir

    def scandir(path):
        if str(path) == blocked:
            raise PermissionError(13, "Permission denied", blocked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    plan = make_plan(settings_for([photo_tree], tmp_path / "o"))
    assert sorted(job.name for job in plan.jobs) == ["cats/a.jpg", "cats/b.png"]
    [failed] = plan.failed
    assert failed.source == "dogs/"
    assert "cannot list folder: Permission denied" in failed.error


def failures(out: Path) -> dict[str, str]:
    return {r["source"]: r["error"] for r in read_records(out / "manifest.jsonl") if r["error"]}


@pytest.mark.parametrize("follow", [False, True], ids=["links-not-followed", "follow-symlinks"])
def test_link_loops_and_dangling_links_are_failed_records(tmp_path, run_cli, follow):
    src, out = tmp_path / "src", tmp_path / "out"
    save_photo(src / "ok.jpg", 20, 20)
    os.symlink("b.jpg", src / "a.jpg")
    os.symlink("a.jpg", src / "b.jpg")
    os.symlink("self.png", src / "self.png")
    os.symlink("gone/missing.jpg", src / "dangling.jpg")
    os.symlink("ok.jpg/x", src / "through-a-file.jpg")
    flags = ["--follow-symlinks"] if follow else []
    result = run_cli("resize", src, "-o", out, "--size", "10", "--jobs", "1", *flags)
    assert result.exit_code == 1
    assert failures(out) == {
        "a.jpg": "symbolic link loop (through b.jpg)",
        "b.jpg": "symbolic link loop (through a.jpg)",
        "self.png": "symbolic link loop (through self.png)",
        "dangling.jpg": "dangling symbolic link to gone/missing.jpg",
        "through-a-file.jpg": "dangling symbolic link to ok.jpg/x",
    }
    assert "failed: a.jpg: symbolic link loop" in result.stderr
    assert visible(out) == ["manifest.jsonl", "manifest.run.json", "ok.jpg"]


def test_folder_link_loops(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    save_photo(src / "sub" / "ok.jpg", 20, 20)
    os.symlink("..", src / "sub" / "up")  # leads back to the SRC folder
    os.symlink(".", src / "sub" / "here")  # leads back to its own folder
    os.symlink("y", src / "x")  # links to each other: a loop that leads nowhere
    os.symlink("x", src / "y")
    not_followed = run_cli("resize", src, "-o", out, "--size", "10", "--jobs", "1")
    assert not_followed.exit_code == 0, not_followed.output  # folder links are not walked
    assert failures(out) == {}

    followed = run_cli("resize", src, "-o", out, "--size", "10", "--follow-symlinks")
    assert followed.exit_code == 1
    assert failures(out) == {
        "sub/up/": "symbolic link loop: leads back to ./",
        "sub/here/": "symbolic link loop: leads back to sub/",
        "x": "symbolic link loop (through y)",
        "y": "symbolic link loop (through x)",
    }
    assert [r["source"] for r in read_records(out / "manifest.jsonl") if not r["error"]] == [
        "sub/ok.jpg"
    ]


def test_broken_links_given_as_src(tmp_path, run_cli):
    good = save_photo(tmp_path / "good.jpg", 20, 20)
    os.symlink("loop.jpg", tmp_path / "loop.jpg")
    os.symlink("nowhere.png", tmp_path / "dangling.png")
    out = tmp_path / "out"
    result = run_cli("resize", tmp_path / "loop.jpg", tmp_path / "dangling.png", good,
                     "-o", out, "--size", "10", "--jobs", "1")  # fmt: skip
    assert result.exit_code == 1
    assert failures(out) == {
        "loop.jpg": "symbolic link loop (through loop.jpg)",
        "dangling.png": "dangling symbolic link to nowhere.png",
    }
    assert (out / "good.jpg").is_file()

    os.symlink("/mnt/unplugged-disk", tmp_path / "photos")  # most likely a folder that is gone
    refused = run_cli("resize", tmp_path / "photos", "-o", tmp_path / "o2", "--size", "10")
    assert refused.exit_code == 2
    assert "dangling symbolic link to /mnt/unplugged-disk" in refused.stderr
    assert not (tmp_path / "o2").exists()


def test_broken_links_obey_include_and_exclude(tmp_path):
    src = tmp_path / "src"
    save_photo(src / "ok.jpg", 20, 20)
    os.symlink("nowhere.jpg", src / "dangling.jpg")
    plan = make_plan(settings_for([src], tmp_path / "out", exclude=("dangling*",)))
    assert list(plan.failed) == []
    assert [job.name for job in plan.jobs] == ["ok.jpg"]


def test_out_or_manifest_that_is_a_link_loop_is_a_usage_error(photo_tree, tmp_path, run_cli):
    os.symlink("loop", tmp_path / "loop")
    for where in (
        ["-o", tmp_path / "loop"],
        ["-o", tmp_path / "o", "--manifest", tmp_path / "loop"],
    ):
        result = run_cli("resize", photo_tree, *where, "--size", "10")
        assert result.exit_code == 2
        assert "is a symbolic link loop" in result.stderr


@pytest.fixture
def bind_mount():
    """`bind_mount(folder, onto)`: a real folder loop without any link; unmounted afterwards."""
    mounted = []

    def mount(folder: Path, onto: Path) -> None:
        onto.mkdir(parents=True)
        done = subprocess.run(["mount", "--bind", str(folder), str(onto)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot bind-mount here: {done.stderr.decode().strip()}")
        mounted.append(onto)

    try:
        yield mount
    finally:
        for onto in reversed(mounted):
            subprocess.run(["umount", str(onto)], check=True)


def test_a_folder_loop_without_links_is_a_failed_record(tmp_path, bind_mount):
    src = tmp_path / "src"
    save_photo(src / "ok.jpg", 20, 20)
    bind_mount(src, src / "sub" / "again")  # src/sub/again shows src itself
    plan = make_plan(settings_for([src], tmp_path / "out"))
    assert [job.name for job in plan.jobs] == ["ok.jpg"]
    assert [(r.source, r.error) for r in plan.failed] == [
        ("sub/again/", "folder loop: leads back to ./")
    ]
