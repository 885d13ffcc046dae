"""Atomic writes and temporary-file hygiene.

An output is written to a hidden temporary name in its own folder and renamed into place, so a
killed run never leaves a partial file under a real name; the next run removes such leftovers.
"""

from __future__ import annotations

import filecmp
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

TEMP_MARK = ".resizer-tmp-"
# `.resizer-tmp-` and 16 hex digits: not derived from the output's name, so a temporary file
# fits beside any legal name (255 bytes on most file systems). Earlier releases named them
# `.<name>.resizer-tmp-<8 hex digits>`, which overflowed long names; those are still recognised,
# so what a killed run of an older release left is cleaned up too.
_TEMP_NAME = re.compile(r"\.resizer-tmp-[0-9a-f]{16}|\..+\.resizer-tmp-[0-9a-f]{8}", re.DOTALL)


def temp_name(path: Path) -> Path:
    """A hidden, unique name in `path`'s folder for writing `path`."""
    return path.with_name(f"{TEMP_MARK}{secrets.token_hex(8)}")


def is_temp_name(name: str) -> bool:
    """True only for the exact shape of name `temp_name` makes (or made): a user's file that
    merely contains `.resizer-tmp-` is never taken for one and deleted."""
    return _TEMP_NAME.fullmatch(name) is not None


def write_atomic(path: Path, data: bytes, fsync: bool = False) -> None:
    """Write `data` to `path`: readers see the old file or the whole new one, never a part."""
    with atomic_writer(path, binary=True, fsync=fsync) as handle:
        handle.write(data)


@contextmanager
def atomic_writer(
    path: Path, binary: bool = False, fsync: bool = True, keep_same: bool = False
) -> Iterator[IO]:
    """A file that appears at `path` whole when the block ends without error, else not at all.

    The temporary file sits in the destination folder, so the final rename stays on one file
    system and is atomic; `fsync` makes the content durable before the rename. With `keep_same`,
    a file whose bytes would not change is left alone (same inode, same modification time).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_name(path)
    options = {} if binary else {"encoding": "utf-8", "newline": ""}
    try:
        with open(temp, "wb" if binary else "w", **options) as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        if keep_same and _same_bytes(temp, path):
            temp.unlink()
        else:
            os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _same_bytes(first: Path, second: Path) -> bool:
    try:
        return filecmp.cmp(first, second, shallow=False)
    except OSError:
        return False


def remove_stale_temps(root: Path) -> int:
    """Delete temporary files a killed run left under `root`; returns how many."""
    removed = 0
    if not root.is_dir():
        return 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if is_temp_name(name):
                Path(folder, name).unlink(missing_ok=True)
                removed += 1
    return removed
