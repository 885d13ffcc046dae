"""Reading annotation files, rewriting them through the manifest, writing them atomically.

Nothing is written before every image's frame is known: an undecidable EXIF orientation is a
usage error (exit 2). A label file whose image has no output is reported and not written."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from ..files import atomic_writer, is_temp_name
from . import coco, voc, yolo
from .common import (
    Judge,
    Options,
    Summary,
    UsageProblem,
    decide_frame,
    load_records,
    record_for_stem,
    records_by_stem,
    undecided_error,
)
from .transform import LabelError, Transform

# Files in a YOLO labels folder that belong to the dataset, not to an image: copied unchanged.
YOLO_SIDE_FILES = {"classes.txt"}


def rewrite_coco(
    source: Path, manifest: Path, output: Path, options: Options, prefix: str = ""
) -> Summary:
    _check_new_location(source, output)
    records = load_records(manifest)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageProblem(f"cannot read COCO file {str(source)!r}: {error}") from None
    try:
        document, summary = coco.rewrite(data, records, options, prefix)
    except LabelError as error:
        raise UsageProblem(f"{source}: {error}") from None
    with atomic_writer(output) as handle:
        json.dump(document, handle, ensure_ascii=False)
    return summary


def rewrite_yolo(
    source: Path,
    manifest: Path,
    output: Path,
    options: Options,
    task: str = "detect",
    kpt_dims: int = 3,
) -> Summary:
    def frame(path: Path, transform: Transform) -> str | None:
        return decide_frame(transform, None, options)

    def convert(path: Path, judge: Judge, output_name: str) -> bytes:
        text = path.read_text(encoding="utf-8")
        return yolo.rewrite(text, judge, task, kpt_dims).encode("utf-8")

    return _rewrite_folder(source, manifest, output, options, ".txt", frame, convert)


def rewrite_voc(source: Path, manifest: Path, output: Path, options: Options) -> Summary:
    def frame(path: Path, transform: Transform) -> str | None:
        return voc.frame_of(voc.parse(path.read_bytes()), transform, options)

    def convert(path: Path, judge: Judge, output_name: str) -> bytes:
        return voc.rewrite(voc.parse(path.read_bytes()), judge, output_name)

    return _rewrite_folder(source, manifest, output, options, ".xml", frame, convert)


def _rewrite_folder(source, manifest, output, options, suffix, frame_of, convert) -> Summary:
    """Label files under `source` paired with images by relative path and stem, written under
    `output` at the image's output path with `suffix`."""
    _check_new_location(source, output)
    if not source.is_dir():
        raise UsageProblem(f"{str(source)!r} is not a folder of {suffix} files")
    stems = records_by_stem(load_records(manifest))
    summary = Summary()
    planned, undecided, side_files = [], [], []
    for path, name in _label_files(source, suffix):
        if suffix == ".txt" and PurePosixPath(name).name in YOLO_SIDE_FILES:
            side_files.append((path, name))
            continue
        try:
            record = record_for_stem(stems, str(PurePosixPath(name).with_suffix("")))
            transform = Transform.from_record(record)
            frame = frame_of(path, transform)
        except (LabelError, OSError, UnicodeDecodeError) as error:
            summary.failed.append((name, _cause(error)))
            continue
        if frame is None:
            undecided.append(name)
        planned.append((path, name, record, transform, frame))
    if undecided:
        raise undecided_error(undecided)
    for path, name in side_files:
        with atomic_writer(output / name, binary=True) as handle:
            handle.write(path.read_bytes())
    for path, name, record, transform, frame in planned:
        target = PurePosixPath(record["output"]).with_suffix(suffix)
        judge = Judge(transform, frame, options, summary)
        try:
            data = convert(path, judge, PurePosixPath(record["output"]).name)
        except (LabelError, OSError, UnicodeDecodeError) as error:
            summary.failed.append((name, _cause(error)))
            continue
        with atomic_writer(output / target, binary=True) as handle:
            handle.write(data)
        summary.images += 1
    return summary


def _label_files(root: Path, suffix: str):
    """(path, POSIX path relative to root) of every label file, sorted; dot-names skipped."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        for name in names:
            if name.startswith(".") or is_temp_name(name) or not name.lower().endswith(suffix):
                continue
            path = Path(folder, name)
            found.append((path, path.relative_to(root).as_posix()))
    return sorted(found, key=lambda item: item[1])


def _cause(error: Exception) -> str:
    if isinstance(error, OSError):
        return f"{error.strerror or error}"
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(error)


def _check_new_location(source: Path, output: Path) -> None:
    """The rewritten labels go to a new place: never over, into or around the input."""
    if not source.exists():
        raise UsageProblem(f"{str(source)!r} does not exist")
    src, out = source.resolve(), output.resolve()
    if src == out or src in out.parents or (source.is_dir() and out in src.parents):
        raise UsageProblem(
            f"output {str(output)!r} would overwrite or mix with the input {str(source)!r}; "
            "write the rewritten labels to a new location"
        )
    if source.is_file() and output.is_dir():
        raise UsageProblem(f"output {str(output)!r} is a folder; give a file name")
