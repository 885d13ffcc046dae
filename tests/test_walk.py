"""The walk: one order for every listing, whether a folder is sorted in memory or on disk."""

from __future__ import annotations

import os
from pathlib import Path

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

    monkeypatch.setattr("resizer.walk.LISTING_IN_MEMORY", 3)
    monkeypatch.setattr(Store, "sort_listing", sort_listing)
    monkeypatch.setattr("resizer.store.BATCH", 2)  # read back over several queries
    assert planned(root, tmp_path) == in_memory
    assert len(spilled) == 1  # the root folder only: its sub-folders hold two files each
