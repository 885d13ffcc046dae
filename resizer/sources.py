"""Find the inputs, in one shape for the planner (`Found`), as a stream: a local SRC folder is
walked, an object store's SRC prefix is listed.

A local folder is walked in a fixed order: depth-first, each folder's entries sorted by name,
its files before its sub-folders. One folder is listed at a time and its images are handed on
as they are found, so the walk holds no more than one folder's names, and a folder too large to
sort in memory is sorted on disk (store.py): a flat folder of millions of images costs no more
memory than one of thousands.

A prefix on an object store is one recursive listing, with each object's size and ETag (what
the up-to-date check compares), streamed page by page in key order (storage/fsspec.py): a
prefix of millions of objects is never held as a list either. Hidden names (any part starting
with a dot) are skipped and other files counted as ignored, as in local folders.

Everything found that cannot be an input (an unlistable folder, a link that leads nowhere or
back into its own tree) is a failed record in the plan; a SRC that cannot be used at all is a
PlanError.
"""

from __future__ import annotations

import errno
import itertools
import operator
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from .records import Result
from .storage import Location, base_name, cause, is_url, join, shown

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
    size: int | None = None  # an object's size and ETag, from the listing
    etag: str | None = None


class Selection(Protocol):
    """What chooses the input files: the part of the settings `scan` shares with `resize`."""

    sources: tuple[Location, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    follow_symlinks: bool


def find_inputs(settings: Selection, plan: Plan) -> Iterator[Found]:
    """Every input, as it is found: SRC files in order, SRC folders walked, SRC prefixes on an
    object store listed; PlanError for a SRC that cannot be used."""
    from .plan import PlanError

    folders = [src for src in settings.sources if _is_folder(src, settings)]
    roots_by_name: dict[str, Location] = {}
    for src in settings.sources:
        if src in folders:
            prefix = ""
            if len(folders) > 1:
                prefix = base_name(src) if is_url(src) else src.resolve().name
                other = roots_by_name.setdefault(prefix, src)
                if other != src:
                    raise PlanError(
                        f"SRC folders {shown(other)!r} and {shown(src)!r} have the same name "
                        f"and would both be mirrored into OUT/{prefix}/"
                    )
            if is_url(src):
                yield from list_objects(src, prefix, settings, plan)
            else:
                yield from walk(src, prefix, settings.follow_symlinks, plan)
            continue
        if is_url(src):  # one object
            if PurePosixPath(base_name(src)).suffix.lower() not in IMAGE_EXTENSIONS:
                raise PlanError(f"{shown(src)!r} is not an image file (by its extension)")
            entry = _object(src, settings)
            yield Found(src, base_name(src), size=entry.size, etag=entry.etag)
            continue
        image = src.suffix.lower() in IMAGE_EXTENSIONS
        problem = link_target(str(src))[1] if src.is_symlink() else None
        if problem is not None:
            if not image:  # most likely a folder that is gone: nothing to do at all
                raise PlanError(f"SRC {str(src)!r}: {problem}")
            yield Found(str(src), src.name, problem)
        elif not src.exists():
            raise PlanError(f"SRC {str(src)!r} does not exist")
        elif image:
            yield Found(str(src), src.name)
        else:
            raise PlanError(f"{str(src)!r} is not an image file (by its extension)")


def _is_folder(src: Location, settings: Selection) -> bool:
    """A local folder, or a URL naming a prefix: one that does not name an image object
    (one that does is a prefix all the same when no such object exists)."""
    if not is_url(src):
        return src.is_dir()
    if PurePosixPath(base_name(src)).suffix.lower() not in IMAGE_EXTENSIONS:
        return True
    return _object(src, settings, missing_ok=True) is None


def _store(src: str, settings: Selection):
    from .storage.fsspec import open_store

    return open_store(src, getattr(settings, "storage_options", ()))  # scan: local files only


def _object(src: str, settings: Selection, missing_ok: bool = False):
    """The object a SRC URL names (size and ETag), None if absent and `missing_ok`."""
    from .plan import PlanError

    try:
        entry = _store(src, settings).info("")
    except OSError as error:
        raise PlanError(f"SRC {shown(src)!r} cannot be listed: {cause(error)}") from None
    if entry is None and not missing_ok:
        raise PlanError(f"SRC {shown(src)!r} does not exist (no object under it)")
    return entry


def list_objects(root: str, prefix: str, settings: Selection, plan: Plan) -> Iterator[Found]:
    """The images under a prefix, streamed from its listing in key order; hidden names (any
    part starting with a dot) are skipped, as in local folders."""
    from .plan import PlanError

    entries = _store(root, settings).iter_entries()
    found = False
    while True:
        try:
            entry = next(entries)
        except StopIteration:
            break
        except OSError as error:
            raise PlanError(f"SRC {shown(root)!r} cannot be listed: {cause(error)}") from None
        found = True
        name = entry.name
        if not name or any(part.startswith(".") for part in name.split("/")):
            continue
        if os.path.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
            plan.ignored += 1
            continue
        relative = f"{prefix}/{name}" if prefix else name
        yield Found(join(root, name), relative, size=entry.size, etag=entry.etag)
    if not found:
        raise PlanError(f"SRC {shown(root)!r} does not exist (no object under it)")


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
