"""Walk a SRC folder into the images it holds, in a fixed order: depth-first, each folder's
entries sorted by name, its files before its sub-folders.

One folder is listed at a time and its images are handed on as they are found, so the walk holds
no more than one folder's names, and a folder too large to sort in memory is sorted on disk
(store.py): a flat folder of millions of images costs no more memory than one of thousands.
"""

from __future__ import annotations

import errno
import itertools
import operator
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .records import Result

if TYPE_CHECKING:
    from .plan import Plan
    from .store import Store

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
# Entries of one folder sorted in memory; a larger folder is sorted in the store, on disk.
LISTING_IN_MEMORY = 50_000
# Unusable inputs: folders that cannot be walked are listed before links that lead nowhere.
FOLDER_PHASE, LINK_PHASE = 0, 1


@dataclass(frozen=True)
class Found:
    path: str
    name: str  # POSIX path relative to its SRC root, prefixed with the root's name if several
    error: str | None = None  # why this link leads to no file: a failed record, not a job


def walk(root: Path, prefix: str, follow: bool, plan: Plan) -> Iterator[Found]:
    """Depth-first, sorted walk; dot-names skipped; links into folders followed only if asked.

    A link that leads nowhere (dangling, or a loop of links) is found as a failed input when it
    could have been one: when named like an image, or with `follow` (it may have been a
    folder). A followed link back into a folder being walked is a loop, recorded as failed.
    """
    visited: set[tuple[int, int]] = set()
    # Each folder with the folders above it (device and inode -> name), to recognise loops.
    stack: list[tuple[str, str, dict]] = [(str(root), prefix, {})]
    while stack:
        folder, relative, above = stack.pop()
        shown = f"{relative}/" if relative else "./"
        try:
            info = os.stat(folder)
            key = (info.st_dev, info.st_ino)
            if key in above:
                kind = "symbolic link loop" if os.path.islink(folder) else "folder loop"
                error = f"{kind}: leads back to {above[key]}"
                plan.add_failed(Result(source=shown, error=error), FOLDER_PHASE)
                continue
            if key in visited:
                continue  # a second link to a folder already walked
            visited.add(key)
            entries = _listing(folder, plan.store)
        except OSError as error:
            reason = error.strerror or str(error)
            plan.add_failed(
                Result(source=shown, error=f"cannot list folder: {reason}"), FOLDER_PHASE
            )
            continue
        path_above = {**above, key: shown}
        subfolders = []
        for entry, path, is_link, is_dir in entries:
            name = f"{relative}/{entry}" if relative else entry
            image = os.path.splitext(entry)[1].lower() in IMAGE_EXTENSIONS
            if is_link:
                is_dir, problem = link_target(path)
                if problem is not None:
                    if image or follow:
                        yield Found(path, name, problem)
                    else:
                        plan.ignored += 1
                    continue
                if is_dir and not follow:
                    continue  # a link to a folder: not followed unless asked
            if is_dir:
                subfolders.append((path, name, path_above))
            elif image:
                yield Found(path, name)
            else:
                plan.ignored += 1
        stack.extend(reversed(subfolders))


def _listing(folder: str, store: Store) -> Iterable[tuple[str, str, bool, bool]]:
    """(name, path, is a link, is a folder) of each entry but dot-names, sorted by name as
    `sorted()` sorts str. A folder too large to sort in memory (a flat folder of millions of
    images) is sorted in the store."""
    with os.scandir(folder) as listing:
        entries = (_entry(entry) for entry in listing if not entry.name.startswith("."))
        kept = list(itertools.islice(entries, LISTING_IN_MEMORY + 1))
        if len(kept) <= LISTING_IN_MEMORY:
            return sorted(kept, key=operator.itemgetter(0))
        rows = ((name, link, is_dir) for name, _, link, is_dir in itertools.chain(kept, entries))
        return (
            (name, os.path.join(folder, name), link, is_dir)
            for name, link, is_dir in store.sort_listing(rows)
        )


def _entry(entry: os.DirEntry) -> tuple[str, str, bool, bool]:
    try:
        return entry.name, entry.path, entry.is_symlink(), entry.is_dir(follow_symlinks=False)
    except OSError:
        return entry.name, entry.path, False, False


def link_target(path: str) -> tuple[bool, str | None]:
    """For the symbolic link at `path`: (it leads to a folder, why it leads nowhere or None)."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode), None
    except OSError as error:
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        if error.errno == errno.ELOOP:
            return False, f"symbolic link loop (through {target})"
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            return False, f"dangling symbolic link to {target}"
        return False, f"cannot follow symbolic link to {target}: {error.strerror or error}"
