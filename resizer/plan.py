"""Walk the inputs into jobs: which files, where each output goes, and which are already done.

Everything that can make a run a usage error (exit 2) is found here, before anything is written:
OUT inside a SRC (or outputs landing in one), inputs that would write the same output file.
What is found but cannot be an input (an unlistable folder, a symbolic link that leads nowhere
or back into its own tree) becomes a failed record instead, and the run goes on.
"""

from __future__ import annotations

import errno
import fnmatch
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import containers
from .manifest import to_json
from .records import RECORD_FIELDS, Job, Result
from .settings import Settings
from .sources import IMAGE_EXTENSIONS, LINK_PHASE, Found, Selection, find_inputs
from .storage import base_name, is_url, join, shown
from .store import Store

__all__ = [
    "EXTENSIONS",
    "FORMAT_OF_EXTENSION",
    "IMAGE_EXTENSIONS",
    "Plan",
    "PlanError",
    "find_images",
    "make_plan",
    "mask_name",
    "output_name",
]

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
BATCH = 500  # images planned together: one look-up of their earlier records and output names


class PlanError(Exception):
    """The inputs and options cannot make a correct run (a usage error, exit 2)."""


@dataclass
class Plan:
    """What a run will do. The per-image lists live in `store` (on disk, see store.py) and are
    read back as iterators, in the order the images were found; the plan holds their counts."""

    store: Store = field(default_factory=Store)
    to_do: int = 0  # jobs
    up_to_date: int = 0  # skipped: up to date from an earlier run
    unusable: int = 0  # found but unusable: unlistable folders, links leading nowhere or looping
    ignored: int = 0  # files that are not images by their extension
    container: containers.Container | None = None  # where outputs go; it finishes OUT
    _placed: int = 0  # images placed so far: the order of the up-to-date ones

    @property
    def jobs(self) -> Iterator[Job]:
        """The images to do."""
        return self.store.jobs()

    @property
    def skipped(self) -> Iterator[str]:
        """Names of the images up to date from an earlier run."""
        return self.store.up_to_date()

    @property
    def failed(self) -> Iterator[Result]:
        """Failed records of what was found but cannot be an input."""
        return self.store.unusable()

    @property
    def total(self) -> int:
        return self.to_do + self.up_to_date + self.unusable

    def add_failed(self, result: Result, phase: int) -> None:
        self.store.add_unusable(result, phase)
        self.unusable += 1


def output_name(name: str, requested_format: str, keep_extension: bool = False) -> tuple[str, str]:
    """Output path (relative to OUT) and format for a source's relative name.

    A new format replaces the extension (`a.gif` -> `a.png`), or with `keep_extension` is
    appended to it (`a.gif` -> `a.gif.png`), so that `a.gif` and `a.bmp` cannot clash.
    """
    suffix = _suffix(name)
    own_format = FORMAT_OF_EXTENSION.get(suffix.lower())
    fmt = requested_format if requested_format != "keep" else own_format or "png"
    if own_format == fmt:
        return name, fmt
    if keep_extension:
        return name + EXTENSIONS[fmt], fmt
    return name[: len(name) - len(suffix)] + EXTENSIONS[fmt], fmt


def _suffix(name: str) -> str:
    """PurePosixPath(name).suffix without building a path (once per image of a run): the
    last dot of the last part and what follows, unless that dot starts or ends the part."""
    base = name[name.rfind("/") + 1 :]
    dot = base.rfind(".")
    return base[dot:] if 0 < dot < len(base) - 1 else ""


def mask_name(name: str) -> str:
    """A paired mask's path: the image's path with its extension replaced by `.png`, both for
    the mask read (relative to --masks) and the mask written (relative to the masks output)."""
    return str(PurePosixPath(name).with_suffix(".png"))


def make_plan(settings: Settings, previous: Store | None = None) -> Plan:
    """All images under the SRCs, split into to-do and up-to-date, or PlanError. `previous` is
    the store holding the earlier records (store.py); the plan is written into it."""
    out = settings.out if is_url(settings.out) else _resolved(settings.out, "OUT")
    _check_not_inside_sources(settings, out)
    store = previous if previous is not None else Store()
    container = containers.for_settings(settings, store)
    plan = Plan(store, container=container)
    batch: list[Found] = []
    for item in _usable(settings, plan):
        batch.append(item)
        if len(batch) == BATCH:
            _plan_batch(batch, settings, plan)
            batch = []
    _plan_batch(batch, settings, plan)
    count, clashes = plan.store.clashes(CLASHES_SHOWN)
    if count:
        raise PlanError(_describe_clashes(count, clashes, container))
    if container.in_tree:
        _check_outputs_outside_sources(settings, out, plan.store)
    _check_masks(settings, plan.store)
    return plan


def _plan_batch(items: list[Found], settings: Settings, plan: Plan) -> None:
    """Place each found image, in the order found: its slot in OUT (the output name, or the
    sample key in shards) claimed (a clash is recorded), then a job, or up to date by its
    earlier record."""
    container = plan.container
    placed = []
    for item in items:
        if settings.output_name is not None:  # OUT names the one output file
            output, fmt = settings.output_name, settings.format
        else:
            output, fmt = output_name(item.name, settings.format, settings.keep_extension)
            output = container.output_name(item.name, output, fmt)
        placed.append(Job(item.path, item.name, output, fmt, item.size, item.etag))
    slots = [container.slot(job.output) for job in placed]
    claims = [(slot, job.source) for slot, job in zip(slots, placed, strict=True)]
    owners = plan.store.claim("outputs", claims)
    jobs = placed
    if any(owners):  # a slot claimed before: the same file again, or a clash
        jobs = []
        for job, slot, other in zip(placed, slots, owners, strict=True):
            if other == job.source:
                continue  # the same file given twice
            if other is not None:
                plan.store.add_clash(slot, job.source)
                continue
            jobs.append(job)
    earlier = {} if settings.force else plan.store.previous_texts([job.name for job in jobs])
    to_do, done = jobs, []
    if earlier:
        to_do = []
        for index, job in enumerate(jobs, plan._placed + 1):
            text = earlier.get(job.name)
            skipped = _up_to_date(job, text, settings, container) if text else None
            if skipped:
                output = job.output if container.in_tree else None  # a sample: in a shard
                done.append((index, job.name, output, None if skipped == text else skipped))
            else:
                to_do.append(job)
    plan._placed += len(jobs)
    plan.store.add_jobs(to_do)
    plan.store.add_up_to_date(done)
    plan.to_do += len(to_do)
    plan.up_to_date += len(done)


def _describe_clashes(
    count: int, clashes: list[tuple[str, list[str]]], container: containers.Container
) -> str:
    """Every clash (the first CLASHES_SHOWN found, the rest counted) and the ways out."""
    what = container.slot_kind
    lines = [f"{count} {what}{'s' if count > 1 else ''} would be written by more than one input:"]
    for output, sources in clashes:
        lines.append(f"  {output!r} from " + " and ".join(repr(source) for source in sources))
    if count > CLASHES_SHOWN:
        lines.append(f"  and {count - CLASHES_SHOWN} more")
    lines.append(container.clash_hint)
    return "\n".join(lines)


def find_images(selection: Selection) -> tuple[list[tuple[str, str, int | None]], Plan]:
    """Every selected image as (path, relative name, size if the listing gave it), found as
    make_plan finds them, for `scan` (no OUT): the Plan holds unusable inputs and the ignored
    count. Or PlanError."""
    plan = Plan()
    images: dict[str, tuple[str, int | None]] = {}
    for item in _usable(selection, plan):
        images.setdefault(item.path, (item.name, item.size))  # a file given twice counts once
    return [(path, name, size) for path, (name, size) in images.items()], plan


def _usable(selection: Selection, plan: Plan) -> Iterator[Found]:
    """The selected files of the walk; a link that leads nowhere becomes a failed record."""
    for item in find_inputs(selection, plan):
        if not _selected(item.name, selection):
            continue
        if item.error is not None:
            plan.add_failed(Result(source=item.name, error=item.error), LINK_PHASE)
        else:
            yield item


def _selected(name: str, settings) -> bool:
    if settings.include and not any(fnmatch.fnmatchcase(name, g) for g in settings.include):
        return False
    return not any(fnmatch.fnmatchcase(name, g) for g in settings.exclude)


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
    if job.src_etag is not None:  # an object: its size and ETag from the listing
        if (job.src_bytes, job.src_etag) != (done.get("src_bytes"), done.get("src_etag")):
            return None
    else:
        try:
            source = os.stat(job.source)
        except OSError:
            return None
        version = (source.st_size, source.st_mtime_ns)
        if version != (done.get("src_bytes"), done.get("src_mtime_ns")):
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


def _check_masks(settings: Settings, store: Store) -> None:
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
    outputs = store.outputs()
    while batch := list(itertools.islice(outputs, BATCH)):
        masks = [(mask_name(output), source) for output, source in batch]
        for (mask, source), other in zip(masks, store.claim("masks", masks), strict=True):
            if other is not None and other != source:
                raise PlanError(
                    f"{other!r} and {source!r} would both write the mask {mask!r}; "
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


def _root(loc, what: str):
    """A location to compare with others: a resolved Path, or a URL as it is."""
    return loc if is_url(loc) else _resolved(loc, what)


def _inside(path, folder) -> bool:
    if is_url(path) or is_url(folder):
        return (
            isinstance(path, str) and isinstance(folder, str)
            and (path == folder or path.startswith(folder + "/"))
        )  # fmt: skip
    return path == folder or folder in path.parents


def _may_contain(src) -> bool:
    return is_url(src) or src.is_dir()  # a URL may be a prefix: compared as text


def _check_not_inside_sources(settings: Settings, out) -> None:
    manifest = _root(settings.manifest_path, "the manifest")
    for src in settings.sources:
        if not _may_contain(src):
            continue
        root = _root(src, "SRC")
        if _inside(out, root):
            raise PlanError(
                f"OUT {shown(settings.out)!r} is inside SRC {shown(src)!r}: outputs would be "
                "written into the input (and read back as input on the next run)"
            )
        if _inside(manifest, root):
            raise PlanError(
                f"the manifest {shown(manifest)!r} would be written inside SRC {shown(src)!r}"
            )


def _relative(root, out) -> str:
    if is_url(root):
        return root[len(out) + 1 :] + "/"
    return root.relative_to(out).as_posix() + "/"


def _check_outputs_outside_sources(settings: Settings, out, store: Store) -> None:
    """With a SRC inside OUT, no output may land in that SRC (or on an input file)."""
    for src in settings.sources:
        if is_url(src) or is_url(out):
            if join(out, settings.output_name or base_name(src)) == src:
                raise PlanError(f"the output for {shown(src)!r} would overwrite the input itself")
            inside = is_url(src) and src != out and _inside(src, out)
        else:
            inside = src.is_dir() and _inside(src.resolve(), out)
        if inside:
            output = store.first_output_under(_relative(_root(src, "SRC"), out))
            if output is not None:
                raise PlanError(
                    f"output {output!r} would be written inside SRC {shown(src)!r}; "
                    "choose an OUT that does not contain the input"
                )
        elif not (is_url(src) or is_url(out)) and src.is_file():
            written = out / (settings.output_name or src.name)
            if os.path.realpath(written) == os.path.realpath(src):
                raise PlanError(f"the output for {str(src)!r} would overwrite the input itself")
