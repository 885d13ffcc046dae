"""Finding inputs. The walk: one order for every listing, whether a folder is sorted in memory
or on disk. An object store: one listing per SRC, hidden names skipped and other files ignored
as in local folders, several SRCs mirrored under their names, one object as SRC, and OUT inside
a SRC refused before anything is written."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import save_photo

from resizer.geometry import Sizing
from resizer.plan import make_plan
from resizer.settings import Settings
from resizer.store import Store

# Names as bytes: some are not UTF-8 (their undecodable bytes become lone surrogates).
FILE_NAMES = [
    b"a.jpg",
    b"a0.jpg",
    b"A.jpg",
    b"B.png",
    b"b b.png",
    b"caf\xc3\xa9.jpg",
    b"cafe\xcc\x81.jpg",
    b"caf\xe9.jpg",
    b"\xff.jpg",
    b"\xef\xbf\xbf.jpg",  # U+FFFF
    b"\xf0\x9f\x98\x80.jpg",  # U+1F600
    b"z.gif",
]


def make_tree(root: Path) -> None:
    base = os.fsencode(root)
    os.mkdir(base)
    for name in FILE_NAMES:
        open(base + b"/" + name, "wb").close()
    for name in (b"a", b"\xff"):  # folders, walked after the files beside them
        os.mkdir(base + b"/" + name)
        for inner in (b"y.jpg", b"x.jpg"):
            open(base + b"/" + name + b"/" + inner, "wb").close()
    open(base + b"/.hidden.jpg", "wb").close()
    open(base + b"/notes.txt", "wb").close()
    os.symlink("nowhere.jpg", base + b"/dangling.jpg")


def planned(root: Path, tmp_path: Path) -> tuple[list[str], list[tuple[str, str | None]], int]:
    settings = Settings(sources=(root,), out=tmp_path / "out", sizing=Sizing("longer", length=8))
    plan = make_plan(settings)
    failed = [(result.source, result.error) for result in plan.failed]
    return [job.name for job in plan.jobs], failed, plan.ignored


def test_the_walk_order_is_sorted_names_files_before_folders(tmp_path):
    root = tmp_path / "src"
    make_tree(root)
    names, failed, ignored = planned(root, tmp_path)
    files = sorted(os.fsdecode(name) for name in FILE_NAMES)
    inner = ["x.jpg", "y.jpg"]
    folders = sorted(["a", os.fsdecode(b"\xff")])
    assert names == files + [f"{folder}/{name}" for folder in folders for name in inner]
    assert failed == [("dangling.jpg", "dangling symbolic link to nowhere.jpg")]
    assert ignored == 1


def test_a_folder_too_large_for_memory_is_sorted_on_disk_in_the_same_order(tmp_path, monkeypatch):
    root = tmp_path / "src"
    make_tree(root)
    in_memory = planned(root, tmp_path)
    spilled = []
    real_sort_listing = Store.sort_listing

    def sort_listing(store, entries):
        spilled.append(1)
        return real_sort_listing(store, entries)

    monkeypatch.setattr("resizer.sources.LISTING_IN_MEMORY", 3)
    monkeypatch.setattr(Store, "sort_listing", sort_listing)
    monkeypatch.setattr("resizer.store.BATCH", 2)  # read back over several queries
    assert planned(root, tmp_path) == in_memory
    assert len(spilled) == 1  # the root folder only: its sub-folders hold two files each


def test_a_prefix_is_listed_like_a_folder(tmp_path, s3, run_cli):
    src = tmp_path / "src"
    save_photo(src / "cats" / "a.jpg", 40, 30)
    save_photo(src / ".cache" / "b.jpg", 40, 30)
    save_photo(src / "cats" / ".c.jpg", 40, 30)
    (src / "notes.txt").write_text("not an image")
    bucket = s3.bucket()
    url = s3.upload(src, bucket, "src")
    result = run_cli("resize", url, "-o", tmp_path / "out", "--size", "8x8", "--dry-run",
                     "--json", *s3.options)  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["to_do"] == [{"source": "cats/a.jpg", "output": "cats/a.jpg"}]
    assert plan["ignored_files"] == 1
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


def test_several_prefixes_are_mirrored_under_their_names_and_one_object_is_a_file(
    tmp_path, s3, run_cli
):
    src = tmp_path / "src"
    save_photo(src / "train" / "a.jpg", 40, 30)
    save_photo(src / "val" / "b.png", 40, 30)
    bucket = s3.bucket()
    s3.upload(src, bucket, "data")
    out = f"s3://{bucket}/out"
    result = run_cli("resize", f"s3://{bucket}/data/train", f"s3://{bucket}/data/val/",
                     "-o", out, "--size", "8x8", "--jobs", "1", *s3.options)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {"train/a.jpg", "val/b.png"} <= set(s3.objects(bucket, "out"))

    result = run_cli("resize", f"s3://{bucket}/data/val/b.png", "-o", f"{out}/one/small.jpg",
                     "--size", "8x8", "--jobs", "1", *s3.options)  # fmt: skip
    assert result.exit_code == 0, result.output
    written = s3.objects(bucket, "out/one")
    assert sorted(written) == ["small.jpg", "small.manifest.jsonl", "small.manifest.run.json"]
    assert written["small.jpg"].startswith(b"\xff\xd8")  # JPEG, as the name says


def test_sources_that_cannot_be_used_are_usage_errors(tmp_path, s3, run_cli):
    bucket = s3.bucket()
    save_photo(tmp_path / "src" / "a.jpg", 40, 30)
    url = s3.upload(tmp_path / "src", bucket, "src")
    cases = {
        (url, f"{url}/out"): "is inside SRC",
        (f"s3://{bucket}/nothing", f"s3://{bucket}/out"): "does not exist (no object under it)",
        ("s3://no-such-bucket/src", f"s3://{bucket}/out"): "cannot be listed: no such bucket",
        (f"{url}/a.jpg", f"s3://{bucket}/src"): "would overwrite the input itself",
    }
    for (src, out), message in cases.items():
        result = run_cli("resize", src, "-o", out, "--size", "8x8", *s3.options)
        assert result.exit_code == 2, result.output
        assert message in result.output
    assert sorted(s3.objects(bucket)) == ["src/a.jpg"]  # nothing written anywhere
