"""Remove outputs that no source stands for any more, so OUT stays the dataset the manifest lists.

A source deleted from SRC, filtered out by --include/--exclude, or written under another name
(`--format webp` after a JPEG run) would otherwise leave its old output behind: a loader would
train on an image that is in no record, or on the same image twice. Only files resizer itself
wrote are removed: each must still match the size and SHA-256 its earlier record gives.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .storage import Location, is_url
from .store import Store


def remove_stale_outputs(out: Location, store: Store, options: tuple = ()) -> int:
    """Delete the stale outputs (store.stale_outputs: named by an earlier record, by no record
    of this run) that are still byte for byte what resizer wrote; returns how many. Folders
    left empty by that are removed too, so no empty class folder remains (an object store has
    no folders; there an object's size comes from OUT's listing, in the store)."""
    if is_url(out):
        return _remove_stale_objects(out, store, options)
    removed = 0
    for output, record in store.stale_outputs():
        path = out / output
        if not _is_what_was_written(path, record):
            continue
        try:
            path.unlink()
        except OSError:
            continue  # OUT went read-only: the file stays, and so does its (stale) status
        removed += 1
        _remove_empty_parents(path.parent, out)
    return removed


def _is_what_was_written(path: Path, record: dict) -> bool:
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size != record.get("bytes"):
            return False
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return False
    return digest.hexdigest() == record.get("sha256")


def _remove_empty_parents(folder: Path, out: Path) -> None:
    while folder != out and out in folder.parents:
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = folder.parent


def _remove_stale_objects(out: str, store: Store, options: tuple) -> int:
    from .storage.out import is_what_was_written, remove_object

    removed = 0
    for output, record in store.stale_outputs():
        if store.out_size(output) != record.get("bytes"):
            continue
        if is_what_was_written(out, options, output, record) and remove_object(
            out, options, output
        ):
            removed += 1
    return removed
