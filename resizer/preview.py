"""`resize --preview FILE.png`: what the job did, as one picture for a CI artifact.

N images drawn with a seeded generator from the `ok` records of the manifest (so a no-op re-run
draws the same ones), one row each: the upright source with the kept region outlined and the
rest dimmed, beside its output as written, and a caption with the names and sizes. The sources
and outputs are decoded here, in the parent, after the run: N small decodes, not the dataset's.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path

from .faults import cause
from .files import write_atomic
from .names import escape
from .plan import PlanError
from .report import say
from .settings import Settings

THUMB = 240  # each picture fits in THUMB x THUMB
GAP = 12
CAPTION = 16
BACKGROUND = (40, 40, 40)
OUTLINE = (255, 64, 64)


def check_path(settings: Settings) -> None:
    """The preview must not land in the data: not in a SRC (the next run would read it as an
    input) nor in OUT (a loader would take it for data), nor on the output file when OUT names
    one. Raises PlanError (a usage error)."""
    if settings.preview is None:
        return
    where = settings.preview.absolute().resolve()
    if settings.output_name is not None:
        if where == (settings.out / settings.output_name).absolute().resolve():
            raise PlanError(f"--preview {str(settings.preview)!r} is the output file itself")
        folders = []
    else:
        folders = [("OUT", settings.out)]
    folders += [("SRC", src) for src in settings.sources if src.is_dir()]
    for what, folder in folders:
        root = folder.absolute().resolve()
        if root == where or root in where.parents:
            raise PlanError(
                f"--preview {str(settings.preview)!r} is inside {what} {str(folder)!r}; "
                "write it elsewhere (OUT holds only the dataset, a SRC only inputs)"
            )


def choose(records: Mapping[str, str], count: int, seed: int) -> list[dict]:
    """`count` ok records drawn with `seed`, in source order: the same draw for the same set."""
    names = sorted(name for name, text in records.items() if '"status": "ok"' in text)
    chosen = random.Random(seed).sample(names, min(count, len(names)))
    return [json.loads(records[name]) for name in sorted(chosen)]


def source_path(settings: Settings, name: str) -> Path | None:
    """The file a manifest `source` names: the inverse of the planner's naming (one SRC folder
    mirrored as is, several under their own names, files given directly by their file name)."""
    folders = [src for src in settings.sources if src.is_dir()]
    for src in settings.sources:
        if src.is_dir():
            if len(folders) == 1:
                return src / name
            prefix = src.resolve().name + "/"
            if name.startswith(prefix):
                return src / name[len(prefix) :]
        elif src.name == name:
            return src
    return None


def write_preview(settings: Settings, records: Mapping[str, str]) -> int | None:
    """Draw the preview into settings.preview; returns the number of rows drawn, or None when
    the file cannot be written (said on stderr: the run itself is done and stays as it is)."""
    try:
        return _write(settings, records)
    except OSError as error:
        if settings.verbosity >= 0:
            say(escape(f"cannot write the preview {str(settings.preview)!r}: {cause(error)}"))
        return None


def _write(settings: Settings, records: Mapping[str, str]) -> int:
    from PIL import Image, ImageDraw

    rows = choose(records, settings.preview_count, settings.preview_seed)
    height = max(1, len(rows)) * (THUMB + CAPTION + GAP) + GAP
    canvas = Image.new("RGB", (2 * THUMB + 3 * GAP, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for index, record in enumerate(rows):
        top = GAP + index * (THUMB + CAPTION + GAP)
        source = source_path(settings, record["source"])
        try:
            before = _source_thumbnail(source, record) if source is not None else None
            after = _thumbnail(_load(settings.out / record["output"]))
        except Exception as error:  # a file changed or vanished since: say so in its row
            draw.text((GAP, top), f"{record['source']}: cannot draw ({error})", fill="white")
            continue
        if before is not None:
            canvas.paste(before, (GAP + (THUMB - before.width) // 2, top))
        frame = (2 * GAP + THUMB + (THUMB - after.width) // 2, top)
        canvas.paste(after, frame)
        draw.rectangle(
            (frame[0] - 1, frame[1] - 1, frame[0] + after.width, frame[1] + after.height),
            outline=(160, 160, 160),
        )
        caption = (
            f"{record['source']}  {record['src_width']}x{record['src_height']}"
            f" -> {record['width']}x{record['height']}"
        )
        draw.text((GAP, top + THUMB + 2), _printable(caption), fill=(230, 230, 230))
    buffer = _png(canvas)
    write_atomic(settings.preview, buffer)
    return len(rows)


def _load(path: Path):
    """An image as 8-bit RGB for display, upright, through resize's own decoder."""
    from . import codecs

    header = codecs.probe(path, None)
    pixels, _ = codecs.decode(header, orient=True)
    return _display(pixels)


def _display(pixels):
    import numpy as np
    from PIL import Image

    if isinstance(pixels, np.ndarray):  # 16-bit colour
        pixels = Image.fromarray((pixels >> 8).astype(np.uint8))
    elif pixels.mode == "I;16":
        pixels = Image.fromarray((np.asarray(pixels) >> 8).astype(np.uint8), "L")
    if pixels.mode in ("RGBA", "LA"):
        checker = Image.new("RGB", pixels.size, (200, 200, 200))
        checker.paste(pixels.convert("RGB"), mask=pixels.getchannel("A"))
        return checker
    return pixels.convert("RGB")


def _thumbnail(image):
    """Shrunk to fit THUMB x THUMB, or a small image enlarged by a whole factor (nearest), so
    its pixels show as they are."""
    from PIL import Image

    factor = THUMB // max(image.size)
    if factor >= 2:
        return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    image = image.copy()
    image.thumbnail((THUMB, THUMB))
    return image


def _source_thumbnail(path: Path, record: dict):
    """The upright source, the region the output keeps outlined and the rest dimmed."""
    from PIL import Image, ImageDraw

    image = _thumbnail(_load(path))
    scale_x = image.width / record["resize"][0]
    scale_y = image.height / record["resize"][1]
    left, top, right, bottom = record["crop_box"]
    box = (left * scale_x, top * scale_y, right * scale_x - 1, bottom * scale_y - 1)
    shade = Image.new("L", image.size, 110)
    ImageDraw.Draw(shade).rectangle(box, fill=255)
    dimmed = Image.composite(image, Image.new("RGB", image.size, (0, 0, 0)), shade)
    ImageDraw.Draw(dimmed).rectangle(box, outline=OUTLINE, width=2)
    return dimmed


def _printable(text: str) -> str:
    return escape(text).encode("latin-1", "replace").decode("latin-1")


def _png(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=4)
    return buffer.getvalue()


def check(settings: Settings) -> None:
    """Usage checks for the preview options, before anything is written."""
    check_path(settings)
    if settings.preview is not None and settings.preview.suffix.lower() != ".png":
        raise PlanError(f"--preview {str(settings.preview)!r}: the preview is a PNG file (.png)")
