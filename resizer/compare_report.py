"""How a comparison is shown: one row per configuration, a terminal table, JSON, a line of
facts, and a contact sheet of crops a person can look at."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .compare import Comparison, Configuration
from .names import escape, json_text
from .report import say, write_out

REFERENCE = (
    "float64 Lanczos-3 (kernel widened by the scale when downscaling) of the full upright "
    "decode, alpha premultiplied, in the output geometry, clipped, not rounded"
)
ALIASING = (
    "RMS of a resized zone plate where its frequency is over 1.25 x the output's Nyquist "
    "limit, divided by the RMS of the full-contrast pattern: 0 = no aliasing, 1 = full contrast"
)
ALIASING_NOTED = 0.5  # configurations at or above this score are named in the facts


@dataclass
class Row:
    """One configuration over the sample: means, and the worst image."""

    config: Configuration
    images: int
    seconds: float | None  # mean per image: decode, resize, encode
    psnr: float | None  # mean over images not identical to the reference (inf: all identical)
    psnr_worst: float | None
    ssim: float | None  # mean over images of at least 11x11 output pixels
    ssim_worst: float | None
    aliasing: float | None  # None: the zone plate has nothing above the output's Nyquist
    bytes: float | None  # mean encoded size per image


def rows(comparison: Comparison) -> list[Row]:
    measured = [report for report in comparison.images if report.error is None]
    scores = [zone.score for zone in comparison.zones[1:]] or [None] * len(comparison.configs)
    result = []
    for index, config in enumerate(comparison.configs):
        measures = [report.measures[index] for report in measured]
        psnrs = [m.psnr for m in measures]
        finite = [value for value in psnrs if math.isfinite(value)]
        ssims = [m.ssim for m in measures if m.ssim is not None]
        result.append(
            Row(
                config=config,
                images=len(measures),
                seconds=_mean([m.seconds for m in measures]),
                psnr=_mean(finite) if finite else (math.inf if psnrs else None),
                psnr_worst=min(psnrs) if psnrs else None,
                ssim=_mean(ssims),
                ssim_worst=min(ssims) if ssims else None,
                aliasing=scores[index],
                bytes=_mean([m.bytes for m in measures]),
            )
        )
    return result


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def facts(table: list[Row]) -> list[str]:
    """The best and worst configuration by each measure, as measured: no advice."""
    said = []

    def extreme(title, key, pick, show):
        candidates = [row for row in table if key(row) is not None]
        if candidates:
            row = pick(candidates, key=key)  # the first of equals, in table order
            said.append(f"{title}: {row.config.label} ({show(key(row))})")

    extreme("best PSNR", lambda r: r.psnr, max, lambda v: f"{v:.2f} dB")
    extreme("best SSIM", lambda r: r.ssim, max, lambda v: f"{v:.4f}")
    extreme("least aliasing", lambda r: r.aliasing, min, lambda v: f"score {v:.2f}")
    extreme("most aliasing", lambda r: r.aliasing, max, lambda v: f"score {v:.2f}")
    extreme("fastest", lambda r: r.seconds, min, lambda v: f"{v * 1000:.1f} ms/image")
    extreme("smallest", lambda r: r.bytes, min, lambda v: f"{_bytes(v)}/image")
    aliased = [row for row in table if row.aliasing is not None and row.aliasing >= ALIASING_NOTED]
    if aliased:
        names = ", ".join(f"{row.config.label} ({row.aliasing:.2f})" for row in aliased)
        said.append(f"aliasing score >= {ALIASING_NOTED}: {names}")
    return said


def _bytes(value: float) -> str:
    return f"{value / 1000:.1f} kB"


def _number(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def table_text(comparison: Comparison, table: list[Row]) -> str:
    """The terminal table: one line per configuration, then the facts line."""
    header = (
        "configuration",
        "ms/image",
        "PSNR dB",
        "worst",
        "SSIM",
        "worst",
        "aliasing",
        "kB/image",
    )
    lines = [header]
    for row in table:
        lines.append(
            (
                row.config.label,
                _number(None if row.seconds is None else row.seconds * 1000, 1),
                _number(row.psnr, 2),
                _number(row.psnr_worst, 2),
                _number(row.ssim, 4),
                _number(row.ssim_worst, 4),
                _number(row.aliasing, 2),
                _number(None if row.bytes is None else row.bytes / 1000, 1),
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    text = [
        "  ".join(
            cell.ljust(widths[0]) if column == 0 else cell.rjust(widths[column])
            for column, cell in enumerate(line)
        )
        for line in lines
    ]
    return "\n".join([*text, "", *facts(table)])


def to_json(comparison: Comparison, table: list[Row]) -> dict:
    """The whole comparison as plain JSON values (infinite PSNR as null: identical)."""
    settings = comparison.settings.as_record()
    options = {
        name: settings[name]
        for name in (
            "sizing",
            "mode",
            "crop",
            "upscale",
            "rounding",
            "format",
            "quality",
            "pad_color",
        )
    }
    plate = comparison.zones[0] if comparison.zones else None
    return {
        "sources": settings["sources"],
        "options": options,
        "found": comparison.found,
        "seed": comparison.seed,
        "sample": [report.source for report in comparison.images],
        "reference": REFERENCE,
        "aliasing": ALIASING,
        "zone_plate": {
            "size": None if comparison.zone_plate is None else list(comparison.zone_plate),
            "reference_score": None if plate is None else plate.score,
        },
        "configurations": [
            {
                "label": row.config.label,
                "interpolation": row.config.interpolation,
                "backend": row.config.backend,
                "exact": row.config.exact,
                "images": row.images,
                "ms_per_image": _finite(None if row.seconds is None else row.seconds * 1000),
                "psnr": _finite(row.psnr),
                "psnr_worst": _finite(row.psnr_worst),
                "ssim": row.ssim,
                "ssim_worst": row.ssim_worst,
                "aliasing": row.aliasing,
                "bytes_per_image": row.bytes,
            }
            for row in table
        ],
        "images": [
            {
                "source": report.source,
                "error": report.error,
                "results": [
                    {
                        "label": config.label,
                        "psnr": _finite(measure.psnr),
                        "ssim": measure.ssim,
                        "bytes": measure.bytes,
                        "ms": round(measure.seconds * 1000, 3),
                    }
                    for config, measure in zip(comparison.configs, report.measures, strict=False)
                ],
            }
            for report in comparison.images
        ],
        "facts": facts(table),
        "seconds": round(comparison.seconds, 3),
    }


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else value


def show(comparison: Comparison, as_json: bool, sheet: Path | None, crop: int) -> int:
    """Print the table (or JSON) on stdout, failures and a summary on stderr, write the sheet;
    return the exit status: 1 when a sampled image could not be measured. A reader of stdout
    that has gone (`| head`) ends the output, not the command."""
    table = rows(comparison)
    if as_json:
        write_out(json_text(to_json(comparison, table), indent=2, allow_nan=False))
    else:
        write_out(table_text(comparison, table))
    if sheet is not None:
        write_sheet(comparison, sheet, crop)
    failed = [report for report in comparison.images if report.error is not None]
    for report in failed:
        say(escape(f"{report.source}: {report.error}"))
    say(
        f"{len(comparison.configs)} configurations on "
        f"{len(comparison.images) - len(failed)} of {comparison.found} images "
        f"(seed {comparison.seed}) in {comparison.seconds:.1f} s"
    )
    return 1 if failed else 0


# ------------------------------------------------------------------------- contact sheet

MARGIN = 4
LINE = 12  # pixels per text line of Pillow's default font


def write_sheet(comparison: Comparison, path: Path, crop: int) -> None:
    """One row per sample image (and the zone plate first), one column per configuration after
    the reference: crops at 1:1 (pixels as written, no further resampling), each labelled with
    its PSNR / SSIM against the reference (zone plate: its aliasing score). The format follows
    the file name's extension."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    titles = ["reference", *[c.label.replace(" --exact", "\n--exact") for c in comparison.configs]]
    rows_of_cells = []
    if comparison.zones:
        cells = [(zone.crop, f"alias {_number(zone.score, 2)}") for zone in comparison.zones]
        rows_of_cells.append(("zone plate", cells))
    for report in comparison.images:
        if report.error is not None:
            continue
        labels = ["Lanczos-3 float"] + [
            f"{_number(m.psnr, 1)} dB\nSSIM {_number(m.ssim, 3)}" for m in report.measures
        ]
        rows_of_cells.append((report.source, list(zip(report.crops, labels, strict=True))))

    cell_w = max(crop, 90) + MARGIN
    name_w = 120
    header_h = 3 * LINE + MARGIN
    row_h = crop + 2 * LINE + 2 * MARGIN
    width = name_w + cell_w * len(titles)
    height = header_h + row_h * len(rows_of_cells)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    for column, title in enumerate(titles):
        draw.multiline_text((name_w + column * cell_w, 0), title, fill="black", font=font)
    for row, (name, cells) in enumerate(rows_of_cells):
        top = header_h + row * row_h
        draw.multiline_text((0, top), _wrap(escape(name), 18), fill="black", font=font)
        for column, (pixels, label) in enumerate(cells):
            left = name_w + column * cell_w
            if pixels is not None:
                sheet.paste(Image.fromarray(pixels), (left, top))
            draw.multiline_text((left, top + crop + MARGIN // 2), label, fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def _wrap(text: str, width: int) -> str:
    return "\n".join(text[start : start + width] for start in range(0, len(text), width))
