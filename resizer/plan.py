"""Walk the inputs into jobs: which files, where each output goes, and which are already done.

Everything that can make a run a usage error (exit 2) is found here, before anything is written:
OUT inside a SRC (or outputs landing in one), inputs that would write the same output file.
What is found but cannot be an input (an unlistable folder, a symbolic link that leads nowhere
or back into its own tree) becomes a failed record instead, and the run goes on.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from . import containers
from .manifest import to_json
from .records import RECORD_FIELDS, Job, Result
from .settings import Settings

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
EXTENSIONS = {
    "jpeg": ".jpg",
    "png": ".png",
    "webp": ".webp",
    "tiff": ".tif",
    "bmp": ".bmp",
    "gif": ".gif",
}
FORMAT_OF_EXTENSION = {
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".png": "png",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".gif": "gif",
}
CLASHES_SHOWN = 10  # output-name clashes listed in the usage error; the rest are counted


class PlanError(Exception):
    """The inputs and options cannot make a correct run (a usage error, exit 2)."""


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)  # to do
    # Up to date from an earlier run: source -> its earlier record, as JSON text, unchanged.
    skipped: dict[str, str] = field(default_factory=dict)
    # Found but unusable: unlistable folders, links that lead nowhere or into a loop.
    failed: list[Result] = field(default_factory=list)
    ignored: int = 0  # files that are not images by their extension
    container: containers.Container | None = None  # where outputs go; it finishes OUT

    @property
    def total(self) -> int:
        return len(self.jobs) + len(self.skipped) + len(self.failed)


@dataclass(frozen=True)
class _Found:
    path: str
    name: str  # POSIX path relative to its SRC root, prefixed with the root's name if several
    error: str | None = None  # why this link leads to no file: a failed record, not a job


def output_name(name: str, requested_format: str, keep_extension: bool = False) -> tuple[str, str]:
    """Output path (relative to OUT) and format for a source's relative name.

    A new format replaces the extension (`a.gif` -> `a.png`), or with `keep_extension` is
    appended to it (`a.gif` -> `a.gif.png`), so that `a.gif` and `a.bmp` cannot clash.
    """
    path = PurePosixPath(name)
    own_format = FORMAT_OF_EXTENSION.get(path.suffix.lower())
    fmt = requested_format if requested_format != "keep" else own_format or "png"
    if own_format == fmt:
        return name, fmt
    if keep_extension:
        return name + EXTENSIONS[fmt], fmt
    return str(path.with_suffix(EXTENSIONS[fmt])), fmt


def mask_name(name: str) -> str:
    """A paired mask's path: the image's path with its extension replaced by `.png`, both for
    the mask read (relative to --masks) and the mask written (relative to the masks output)."""
    return str(PurePosixPath(name).with_suffix(".png"))


def make_plan(settings: Settings, previous: Mapping[str, dict | str] | None = None) -> Plan:
    """All images under the SRCs, split into to-do and up-to-date, or PlanError."""
    out = _resolved(settings.out, "OUT")
    _check_not_inside_sources(settings, out)
    container = containers.for_settings(settings)
    plan = Plan(container=container)
    owners: dict[str, str] = {}
    clashes: dict[str, list[str]] = {}  # output -> every input that would write it
    for item in _usable(settings, plan):
        if settings.output_name is not None:  # OUT names the one output file
            output, fmt = settings.output_name, settings.format
        else:
            output, fmt = output_name(item.name, settings.format, settings.keep_extension)
            output = container.output_name(item.name, output, fmt)
        slot = container.slot(output)
        other = owners.get(slot)
        if other == item.path:
            continue  # the same file given twice
        if other is not None:
            clashes.setdefault(slot, [other]).append(item.path)
            continue
        owners[slot] = item.path
        job = Job(source=item.path, name=item.name, output=output, format=fmt)
        done = None if settings.force or previous is None else previous.get(item.name)
        skipped = _up_to_date(job, done, settings, container) if done else None
        if skipped:
            plan.skipped[item.name] = skipped
        else:
            plan.jobs.append(job)
    if clashes:
        raise PlanError(_describe_clashes(clashes, container))
    if container.in_tree:
        _check_outputs_outside_sources(settings, out, owners)
    _check_masks(settings, owners)
    return plan


def _describe_clashes(clashes: dict[str, list[str]], container: containers.Container) -> str:
    """Every clash (the first CLASHES_SHOWN by name, the rest counted) and the ways out."""
    count = len(clashes)
    what = container.slot_kind
    lines = [f"{count} {what}{'s' if count > 1 else ''} would be written by more than one input:"]
    for output, sources in list(clashes.items())[:CLASHES_SHOWN]:
        lines.append(f"  {output!r} from " + " and ".join(repr(source) for source in sources))
    if count > CLASHES_SHOWN:
        lines.append(f"  and {count - CLASHES_SHOWN} more")
    lines.append(container.clash_hint)
    return "\n".join(lines)


class Selection(Protocol):
    """What chooses the input files: the part of the settings `scan` shares with `resize`."""

    sources: tuple[Path, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    follow_symlinks: bool


def find_images(selection: Selection) -> tuple[list[tuple[str, str]], Plan]:
    """Every selected image as (path, relative name), found as make_plan finds them, for
    `scan` (no OUT): the Plan holds unusable inputs and the ignored count. Or PlanError."""
    plan = Plan()
    images: dict[str, str] = {}
    for item in _usable(selection, plan):
        images.setdefault(item.path, item.name)  # the same file given twice counts once
    return list(images.items()), plan


def _usable(selection: Selection, plan: Plan) -> Iterator[_Found]:
    """The selected files of the walk; a link that leads nowhere becomes a failed record."""
    for item in _find(selection, plan):
        if not _selected(item.name, selection):
            continue
        if item.error is not None:
            plan.failed.append(Result(source=item.name, error=item.error))
        else:
            yield item


def _selected(name: str, settings: Selection) -> bool:
    if settings.include and not any(fnmatch.fnmatchcase(name, g) for g in settings.include):
        return False
    return not any(fnmatch.fnmatchcase(name, g) for g in settings.exclude)


def _find(settings: Selection, plan: Plan) -> list[_Found]:
    directories = [src for src in settings.sources if src.is_dir()]
    found: list[_Found] = []
    roots_by_name: dict[str, Path] = {}
    for src in settings.sources:
        if src.is_dir():
            prefix = ""
            if len(directories) > 1:
                prefix = src.resolve().name
                other = roots_by_name.setdefault(prefix, src)
                if other != src:
                    raise PlanError(
                        f"SRC folders {str(other)!r} and {str(src)!r} have the same name "
                        f"and would both be mirrored into OUT/{prefix}/"
                    )
            _walk(src, prefix, settings.follow_symlinks, found, plan)
            continue
        image = src.suffix.lower() in IMAGE_EXTENSIONS
        problem = _link_target(str(src))[1] if src.is_symlink() else None
        if problem is not None:
            if not image:  # most likely a folder that is gone: nothing to do at all
                raise PlanError(f"SRC {str(src)!r}: {problem}")
            found.append(_Found(str(src), src.name, problem))
        elif not src.exists():
            raise PlanError(f"SRC {str(src)!r} does not exist")
        elif image:
            found.append(_Found(str(src), src.name))
        else:
            raise PlanError(f"{str(src)!r} is not an image file (by its extension)")
    return found


def _walk(root: Path, prefix: str, follow: bool, found: list[_Found], plan: Plan) -> None:
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
                plan.failed.append(
                    Result(source=shown, error=f"{kind}: leads back to {above[key]}")
                )
                continue
            if key in visited:
                continue  # a second link to a folder already walked
            visited.add(key)
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            reason = error.strerror or str(error)
            plan.failed.append(Result(source=shown, error=f"cannot list folder: {reason}"))
            continue
        path_above = {**above, key: shown}
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            name = f"{relative}/{entry.name}" if relative else entry.name
            image = os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_link = is_dir = False
            if is_link:
                is_dir, problem = _link_target(entry.path)
                if problem is not None:
                    if image or follow:
                        found.append(_Found(entry.path, name, problem))
                    else:
                        plan.ignored += 1
                    continue
                if is_dir and not follow:
                    continue  # a link to a folder: not followed unless asked
            if is_dir:
                subfolders.append((entry.path, name, path_above))
            elif image:
                found.append(_Found(entry.path, name))
            else:
                plan.ignored += 1
        stack.extend(reversed(subfolders))


def _link_target(path: str) -> tuple[bool, str | None]:
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


def _up_to_date(
    job: Job, done: dict | str, settings: Settings, container: containers.Container
) -> str | None:
    """The earlier record (JSON text, as it was) if its output still matches, decided from
    file metadata alone: no decoding, no hashing."""
    text = done if isinstance(done, str) else None
    if isinstance(done, str):
        done = json.loads(done)
    # "skipped": how manifests of versions before 0.2 marked up-to-date records.
    if done.get("status") not in ("ok", "skipped") or done.get("output") != job.output:
        return None
    if done.get("fingerprint") != settings.fingerprint:
        return None
    try:
        source = os.stat(job.source)
    except OSError:
        return None
    if (source.st_size, source.st_mtime_ns) != (done.get("src_bytes"), done.get("src_mtime_ns")):
        return None
    stored = container.stored_size(done)
    if stored is None or stored != done.get("bytes"):
        return None
    if settings.masks is not None and not _mask_up_to_date(job, done, settings):
        return None
    if text is not None and done.get("status") == "ok":
        return text  # kept byte for byte: a no-op re-run leaves the manifest as it was
    record = {name: done.get(name) for name in RECORD_FIELDS}
    record.update(status="ok", error=None)
    return to_json(record)


def _mask_up_to_date(job: Job, done: dict, settings: Settings) -> bool:
    try:
        source = os.stat(settings.masks / mask_name(job.name))
        output = os.stat(settings.masks_out / mask_name(job.output))
    except OSError:
        return False
    if (source.st_size, source.st_mtime_ns) != (
        done.get("mask_src_bytes"),
        done.get("mask_src_mtime_ns"),
    ):
        return False
    return output.st_size == done.get("mask_bytes")


def _check_masks(settings: Settings, owners: dict[str, str]) -> None:
    """--masks: the folder exists, masks are written to a place of their own, one per image."""
    if settings.masks is None:
        return
    if not settings.masks.is_dir():
        raise PlanError(f"--masks {str(settings.masks)!r} is not a folder")
    masks_out = settings.masks_out.resolve()
    for folder in (*settings.sources, settings.masks):
        if folder.is_dir() and _inside(masks_out, folder.resolve()):
            raise PlanError(
                f"masks would be written to {str(masks_out)!r}, inside the input "
                f"{str(folder)!r}; choose another --masks-output"
            )
    if _inside(settings.masks.resolve(), masks_out):
        raise PlanError(f"--masks-output {str(masks_out)!r} contains the input masks")
    written: dict[str, str] = {}
    for output, source in owners.items():
        other = written.setdefault(mask_name(output), source)
        if other != source:
            raise PlanError(
                f"{other!r} and {source!r} would both write the mask {mask_name(output)!r}; "
                "rename one or filter one out with --exclude"
            )


def _resolved(path: Path, what: str) -> Path:
    """`path.resolve()`, or a usage error for a link loop (which resolve reports differently
    from one Python version to the next)."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise PlanError(f"{what} {str(path)!r} is a symbolic link loop") from None
    return path.resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_not_inside_sources(settings: Settings, out: Path) -> None:
    manifest = _resolved(settings.manifest_path, "the manifest")
    for src in settings.sources:
        if not src.is_dir():
            continue
        root = src.resolve()
        if _inside(out, root):
            raise PlanError(
                f"OUT {str(settings.out)!r} is inside SRC {str(src)!r}: outputs would be "
                "written into the input (and read back as input on the next run)"
            )
        if _inside(manifest, root):
            raise PlanError(
                f"the manifest {str(manifest)!r} would be written inside SRC {str(src)!r}"
            )


def _check_outputs_outside_sources(settings: Settings, out: Path, owners: dict[str, str]) -> None:
    """With a SRC inside OUT, no output may land in that SRC (or on an input file)."""
    for src in settings.sources:
        if src.is_dir() and _inside(root := src.resolve(), out):
            inside = root.relative_to(out).as_posix() + "/"
            for output in owners:
                if output.startswith(inside):
                    raise PlanError(
                        f"output {output!r} would be written inside SRC {str(src)!r}; "
                        "choose an OUT that does not contain the input"
                    )
        elif src.is_file() and os.path.realpath(
            out / (settings.output_name or src.name)
        ) == os.path.realpath(src):
            raise PlanError(f"the output for {str(src)!r} would overwrite the input itself")
