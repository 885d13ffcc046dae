"""File-system faults: their causes in words, and whether OUT itself can take writes.

A write error on one output may be a fault of that output's folder (read-only, a file in the
way, a full disk mounted below OUT) or of OUT itself (full disk, read-only, quota). Only the
second stops a run, and the errno alone cannot tell them apart: the parent decides by writing a
probe file at OUT's root. The same probe, before any work, turns an OUT that cannot take writes
into one clear usage error instead of a traceback.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path, PurePosixPath

from .files import temp_name
from .settings import Settings
from .storage import is_url, parent

PROBE_BYTES = 4096  # a few KiB: enough to need a new block on any file system
# Errors about room: the probe must then be as large as the write that failed, or a disk with
# a few KiB left would pass it and every remaining image would fail one by one.
SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
CAUSES = {
    errno.ENOSPC: "the disk is full (no space left on device)",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "the file is too large for the file system",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.EIO: "input/output error (a failing disk or a lost network mount?)",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file",
}


class OutError(Exception):
    """OUT (or the manifest's folder) cannot take writes: a usage error, exit 2."""


def cause(error: OSError) -> str:
    """The cause of an OS error in words, without the path it was about."""
    if error.errno in CAUSES:
        return CAUSES[error.errno]
    return (error.strerror or str(error)).lower()


def obstacle(root: Path, relative: str) -> str | None:
    """Why `relative` cannot be written under `root` when something is in its way: a file where
    a folder is needed ('cats' is a file, not a folder), or a folder where the file goes."""
    parts = PurePosixPath(relative).parts
    for depth in range(1, len(parts)):
        folder = root.joinpath(*parts[:depth])
        if folder.exists() and not folder.is_dir():
            return f"{'/'.join(parts[:depth])!r} is a file, not a folder"
        if not folder.exists():
            return None
    if root.joinpath(relative).is_dir():
        return "a folder of that name is in the way"
    return None


def write_error(error: OSError, root: Path | str, relative: str, what: str = "") -> str:
    """'cannot write cats/a.jpg: <cause>': the output as the manifest names it (relative to its
    root), never the temporary name the error came from, never an absolute path."""
    if is_url(root):
        from .storage import cause as store_cause

        return f"cannot write {what}{relative}: {store_cause(error)}"
    why = None
    if error.errno in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
        why = obstacle(root, relative)
    return f"cannot write {what}{relative}: {why or cause(error)}"


def probe(folder: Path, size: int = PROBE_BYTES) -> OSError | None:
    """Write `size` bytes to a hidden temporary file in `folder` and remove it: the error if the
    folder cannot take them. A killed run's probe is removed with its other temporary files."""
    path = temp_name(folder / "probe")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        return error
    failure = None
    try:
        block = bytes(min(size, 1 << 20))
        left = size
        while left > 0:
            left -= os.write(descriptor, block[:left])
    except OSError as error:
        failure = error
    finally:
        try:
            os.close(descriptor)  # network file systems report some errors only here
        except OSError as error:
            failure = failure or error
        path.unlink(missing_ok=True)
    return failure


def check_out(settings: Settings, create: bool) -> None:
    """OutError unless OUT, the masks folder and the manifest's folder can take writes.

    Checked before any work, in two passes: without `create` nothing is written (so a refused
    run leaves no trace); with it, the folders are created and a probe written, which also finds
    a full disk. The run makes the second pass only once its workers are ready, so that a
    cluster that cannot be used leaves no trace either."""
    folders = [(settings.out, "OUT")]
    if settings.masks is not None:
        folders.append((settings.masks_out, "the masks folder"))
    manifest_folder = parent(settings.manifest_path)
    if all(_key(manifest_folder) != _key(folder) for folder, _ in folders):
        folders.append((manifest_folder, "the manifest's folder"))
    for folder, name in folders:
        if is_url(folder):
            from .storage.out import check_listable

            if folder != settings.out:  # OUT itself was listed for the plan
                check_listable(folder, settings.storage_options, name)  # the lock checks writes
        else:
            check_folder(folder, name, create=create)


def _key(folder):
    return folder if is_url(folder) else folder.resolve()


def probe_root(root: str, size: int, settings: Settings) -> OSError | None:
    """`probe` for the root of a failed write, a folder or an object store's URL."""
    if is_url(root):
        from .storage.out import probe as probe_store

        return probe_store(root, settings.storage_options, size)
    return probe(Path(root), size)


def check_folder(folder: Path, name: str, create: bool = True) -> None:
    """OutError unless `folder` can take writes. With `create`, a missing folder is made (and
    removed again if it then fails the probe); without, nothing is written: the check is then
    from permissions and file-system flags alone, which cannot see every fault (a full disk).
    """
    missing = []
    existing = folder
    while not existing.exists() and existing != existing.parent:
        missing.append(existing)
        existing = existing.parent
    if not existing.is_dir():
        where = "it" if existing == folder else repr(str(existing))
        raise OutError(f"cannot create {name} {str(folder)!r}: {where} is a file, not a folder")
    if not create:
        problem = _permission_problem(existing)
        if problem:
            verb = "write to" if existing == folder else "create"
            raise OutError(f"cannot {verb} {name} {str(folder)!r}: {problem}")
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _remove(missing)
        raise OutError(f"cannot create {name} {str(folder)!r}: {cause(error)}") from None
    error = probe(folder)
    if error is not None:
        _remove(missing)
        raise OutError(f"cannot write to {name} {str(folder)!r}: {cause(error)}")


def _permission_problem(folder: Path) -> str | None:
    info = os.statvfs(folder)
    if info.f_flag & os.ST_RDONLY:
        return CAUSES[errno.EROFS]
    if not os.access(folder, os.W_OK | os.X_OK):
        return CAUSES[errno.EACCES]
    return None


def _remove(created: list[Path]) -> None:
    """Remove folders this check made (deepest first), so a refused run leaves nothing."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            return
