"""Remove outputs that no source stands for any more, so OUT stays the dataset the manifest lists.

A source deleted from SRC, filtered out by --include/--exclude, or written under another name
(`--format webp` after a JPEG run) would otherwise leave its old output behind: a loader would
train on an image that is in no record, or on the same image twice. Only files resizer itself
wrote are removed: each must still match the size and SHA-256 its earlier record gives.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path


def stale_outputs(previous: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Files (relative to OUT) that earlier records name and no current record does.

    Samples in shards (records with a `shard` or `key`) are no files of the tree; their
    container removes the shards it no longer needs."""
    # Up-to-date records are carried over as the same text: only the others can free an output.
    candidates = set()
    for source, text in previous.items():
        if current.get(source) != text:
            output = _tree_output(json.loads(text))
            if output is not None:
                candidates.add(output)
    if not candidates:
        return []
    for text in current.values():
        candidates.discard(_tree_output(json.loads(text)))
    return sorted(candidates)


def _tree_output(record: dict) -> str | None:
    output = record.get("output")
    in_tree = record.get("shard") is None and record.get("key") is None
    return output if isinstance(output, str) and in_tree else None


def remove_stale_outputs(out: Path, previous: Mapping[str, str], current: Mapping[str, str]) -> int:
    """Delete the stale outputs that are still byte for byte what resizer wrote; returns how
    many. Folders left empty by that are removed too, so no empty class folder remains."""
    by_output = {}
    for text in previous.values():
        record = json.loads(text)
        if _tree_output(record) is not None:
            by_output[record["output"]] = record
    removed = 0
    for output in stale_outputs(previous, current):
        record = by_output[output]
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
