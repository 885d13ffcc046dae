"""What `resizer scan` reports: counts, distributions and the predicted job, as one JSON-able
document, and the same as compact text (with histograms) for a terminal.

Everything is computed in one process from the records sorted by source, and percentiles are
nearest-rank values taken from the data (no interpolation), so the document is the same for any
--jobs. Whether an image is upscaled, downscaled or unchanged is decided on integer sizes.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from .names import escape
from .scan import CHECKS, COLUMN, SIZING_CHECKS, Scan, ScanSettings
from .settings import OptionError

PERCENTILES = (5, 50, 95)
# Histogram bin edges (a bin is [edge, next edge)); the last bin is open.
EDGES = {
    "width": (1, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
    "height": (1, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
    "megapixels": (0, 0.1, 0.3, 1, 3, 10, 30, 100),
    "aspect_ratio": (0, 0.5, 0.67, 0.8, 0.95, 1.05, 1.25, 1.5, 2),
    "upscale_factor": (1, 1.25, 1.5, 2, 3, 4, 8),
    "downscale_factor": (1, 1.5, 2, 3, 4, 6, 8, 16),
}
SHOWN_PROBLEMS = 20  # per kind, in text; --json lists them all


def summarise(result: Scan, settings: ScanSettings) -> dict:
    """The whole report as plain data."""
    rows = result.rows
    images = [row for row in rows if row[COLUMN["status"]] != "unreadable"]

    def column(name: str) -> list:
        index = COLUMN[name]
        return [row[index] for row in images]

    width = np.array(column("src_width"), dtype=np.int64)
    height = np.array(column("src_height"), dtype=np.int64)
    document: dict = {
        "files": len(rows),
        "images": len(images),
        "unreadable": _problems(rows, "unreadable"),
        "suspect": _problems(rows, "suspect"),
        "too_large": _problems(rows, "too-large"),
        "ignored_files": result.ignored,
        "formats": _count(column("src_format")),
        "modes": _count(column("src_mode")),
        "bit_depths": _count(column("bits")),
        "alpha": sum(1 for value in column("alpha") if value),
        "icc_profile": sum(1 for value in column("icc") if value),
        "orientations": _count(column("orientation")),
        "animated": sum(1 for value in column("src_frames") if value and value > 1),
        "width": _distribution(width, "width"),
        "height": _distribution(height, "height"),
        "megapixels": _distribution(width * height / 1e6, "megapixels"),
        "aspect_ratio": _distribution(width / np.maximum(height, 1), "aspect_ratio"),
    }
    if settings.sizing is not None:
        # resize fails the images whose resized image or output is over --max-pixels.
        done = [index for index, row in enumerate(images) if row[COLUMN["status"]] != "too-large"]
        document["prediction"] = _prediction(
            [images[index] for index in done], width[done], height[done], settings
        )
    return document


def check_names(checks, settings: ScanSettings) -> None:
    """--fail-on values: known ones, and those about the job only with a sizing option."""
    for check in checks:
        if check not in CHECKS:
            raise OptionError(f"--fail-on {check!r} is not one of [{'|'.join(CHECKS)}]")
    if settings.sizing is None and set(checks) & set(SIZING_CHECKS):
        raise OptionError(f"--fail-on {', '.join(SIZING_CHECKS)} need a sizing option")


def failed_checks(document: dict, checks) -> list[str]:
    """A sentence for each requested check that the dataset fails (empty: all passed)."""
    failures = []
    prediction = document.get("prediction") or {}
    limit = prediction.get("distorted", {}).get("limit")
    found = {
        "unreadable": (len(document["unreadable"]), "unreadable"),
        "suspect": (len(document["suspect"]), "suspect (truncated or broken)"),
        "too-large": (len(document["too_large"]), "too large for this job (--max-pixels)"),
        "animated": (document["animated"], "animated or multi-frame"),
        "upscale": (prediction.get("upscaled", {}).get("count", 0), "would be upscaled"),
        "pad": (prediction.get("padded", {}).get("count", 0), "would be padded"),
        "distort": (
            prediction.get("distorted", {}).get("count", 0),
            f"would change aspect ratio by more than {limit}",
        ),
    }
    for check in dict.fromkeys(checks):
        count, words = found[check]
        if count:
            noun = "image" if count == 1 else "images"
            failures.append(f"{count} {noun} {words} (--fail-on {check})")
    return failures


def _problems(rows: list[tuple], status: str) -> list[dict]:
    source, kind, error = COLUMN["source"], COLUMN["status"], COLUMN["error"]
    return [{"source": row[source], "error": row[error]} for row in rows if row[kind] == status]


def _count(values: list) -> dict:
    counts = Counter(str(value) for value in values)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def percentile(ordered: np.ndarray, share: float):
    """Nearest-rank percentile of sorted values: always one of the values, as a Python number."""
    return _plain(ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)])


def _plain(value):
    value = value.item() if isinstance(value, np.generic) else value
    return round(value, 4) if isinstance(value, float) else value


def _distribution(values: np.ndarray, name: str) -> dict | None:
    if values.size == 0:
        return None
    ordered = np.sort(values)
    summary = {"min": _plain(ordered[0])}
    for share in PERCENTILES:
        summary[f"p{share}"] = percentile(ordered, share)
    summary["max"] = _plain(ordered[-1])
    summary["histogram"] = _histogram(ordered, EDGES[name])
    return summary


def _histogram(ordered: np.ndarray, edges: tuple) -> list[dict]:
    """Counts per bin [edge, next edge), from the first to the last non-empty bin."""
    index = np.searchsorted(np.array(edges, dtype=np.float64), ordered, side="right") - 1
    counts = np.bincount(np.clip(index, 0, None), minlength=len(edges))
    used = np.flatnonzero(counts)
    bins = []
    for position in range(used[0], used[-1] + 1):
        upper = edges[position + 1] if position + 1 < len(edges) else None
        bins.append({"from": edges[position], "to": upper, "count": int(counts[position])})
    return bins


def _prediction(
    images: list[tuple], source_w: np.ndarray, source_h: np.ndarray, settings: ScanSettings
) -> dict:
    """What resize would do to the readable images: sizes, scale factors, crop, pad, distortion."""
    resize, crop = COLUMN["resize"], COLUMN["crop_box"]
    out_w = np.array([row[COLUMN["width"]] for row in images], dtype=np.int64)
    out_h = np.array([row[COLUMN["height"]] for row in images], dtype=np.int64)
    resized = np.array([row[resize] for row in images], dtype=np.int64).reshape(-1, 2)
    box = np.array([row[crop] for row in images], dtype=np.int64).reshape(-1, 4)
    resized_w, resized_h = resized[:, 0], resized[:, 1]
    unchanged = (resized_w == source_w) & (resized_h == source_h)
    upscaled = ~unchanged & ((resized_w > source_w) | (resized_h > source_h))
    downscaled = ~unchanged & ~upscaled
    up = np.maximum(resized_w / source_w, resized_h / source_h)[upscaled]
    down = np.minimum(source_w / resized_w, source_h / resized_h)[downscaled]
    kept = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    discarded = 1 - kept / (resized_w * resized_h)
    added = 1 - kept / (out_w * out_h)
    # Aspect change: (resized_w / source_w) / (resized_h / source_h), the larger way round.
    wide, tall = resized_w * source_h, resized_h * source_w
    change = np.maximum(wide, tall) / np.minimum(wide, tall)
    sizes = Counter(f"{w}x{h}" for w, h in zip(out_w.tolist(), out_h.tolist(), strict=True))
    return {
        "resize_options": settings.describe_sizing(),
        "images": len(images),
        "output_sizes": {
            "distinct": len(sizes),
            "most_common": dict(sorted(sizes.items(), key=lambda i: (-i[1], i[0]))[:10]),
        },
        "upscaled": {"count": int(upscaled.sum()), "factor": _distribution(up, "upscale_factor")},
        "downscaled": {
            "count": int(downscaled.sum()),
            "factor": _distribution(down, "downscale_factor"),
        },
        "unchanged": int(unchanged.sum()),
        "cropped": {"count": int((discarded > 0).sum()), "area_discarded": _shares(discarded)},
        "padded": {"count": int((added > 0).sum()), "area_added": _shares(added)},
        "distorted": {
            "count": int((change > settings.max_distortion).sum()),
            "limit": settings.max_distortion,
            "aspect_change": _shares(change),
        },
    }


def _shares(values: np.ndarray) -> dict | None:
    """Percentiles over all images (zeros included) of a per-image share or ratio."""
    if values.size == 0:
        return None
    ordered = np.sort(values)
    summary = {f"p{share}": percentile(ordered, share) for share in (50, 90, 99)}
    summary["max"] = _plain(ordered[-1])
    return summary


# -- text ------------------------------------------------------------------------------------

BAR = 30  # characters of the longest histogram bar


def render(document: dict) -> str:
    """The report for a terminal: counts, compact histograms, problems, the predicted job."""
    suspect = len(document["suspect"])
    lines = [
        f"{document['images']} images ({suspect} of them suspect), "
        f"{len(document['unreadable'])} unreadable {_plural(len(document['unreadable']), 'file')}, "
        f"{document['ignored_files']} other {_plural(document['ignored_files'], 'file')} ignored",
        "",
    ]
    for label, key, suffix in (
        ("format", "formats", ""),
        ("mode", "modes", ""),
        ("bit depth", "bit_depths", "-bit"),
        ("orientation", "orientations", ""),
    ):
        lines.append(f"{label:<14}{_counts(document[key], suffix)}")
    for label, key in (
        ("alpha", "alpha"),
        ("ICC profile", "icc_profile"),
        ("animated", "animated"),
    ):
        lines.append(f"{label:<14}{document[key]}")
    for label, key, unit in (
        ("width", "width", " px"),
        ("height", "height", " px"),
        ("megapixels", "megapixels", ""),
        ("aspect (w/h)", "aspect_ratio", ""),
    ):
        lines.extend(_distribution_lines(label, document[key], unit))
    for title, key in (
        ("unreadable", "unreadable"),
        ("suspect", "suspect"),
        ("too large for this job", "too_large"),
    ):
        lines.extend(_problem_lines(title, document[key]))
    if "prediction" in document:
        lines.extend(_prediction_lines(document["prediction"]))
    return "\n".join(lines) + "\n"


def _counts(counts: dict, suffix: str = "") -> str:
    return ", ".join(f"{key}{suffix}: {value}" for key, value in counts.items()) or "-"


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if value < 1000 else f"{value:.0f}"
    return str(value)


def _summary(summary: dict, unit: str = "") -> str:
    parts = [f"min {_number(summary['min'])}"] if "min" in summary else []
    parts += [
        f"{'median' if key == 'p50' else key} {_number(value)}"
        for key, value in summary.items()
        if key.startswith("p")
    ]
    parts.append(f"max {_number(summary['max'])}{unit}")
    return ", ".join(parts)


def _distribution_lines(label: str, summary: dict | None, unit: str) -> list[str]:
    if summary is None:
        return []
    lines = ["", f"{label:<14}{_summary(summary, unit)}"]
    return lines + _histogram_lines(summary["histogram"])


def _histogram_lines(bins: list[dict], suffix: str = "") -> list[str]:
    largest = max(item["count"] for item in bins)
    lines = []
    for item in bins:
        low, high = item["from"], item["to"]
        if high is None:
            label = f">= {_number(low)}{suffix}"
        elif isinstance(low, int) and isinstance(high, int) and high - low > 1:
            label = f"{low}-{high - 1}{suffix}"  # whole numbers: both ends included
        else:
            label = f"{_number(low)}-{_number(high)}{suffix}"
        bar = "█" * max(1, round(BAR * item["count"] / largest)) if item["count"] else ""
        lines.append(f"  {label:>14} {item['count']:>8} {bar}")
    return lines


def _problem_lines(status: str, problems: list[dict]) -> list[str]:
    if not problems:
        return []
    lines = ["", f"{status} ({len(problems)}):"]
    lines += [
        f"  {escape(item['source'])}: {escape(item['error'] or '')}"
        for item in problems[:SHOWN_PROBLEMS]
    ]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"  ... and {len(problems) - SHOWN_PROBLEMS} more (all of them in --json)")
    return lines


def _prediction_lines(prediction: dict) -> list[str]:
    total = prediction["images"]
    sizes = prediction["output_sizes"]
    shown = _counts(sizes["most_common"])
    if sizes["distinct"] > len(sizes["most_common"]):
        shown += f" (and {sizes['distinct'] - len(sizes['most_common'])} other sizes)"
    lines = ["", f"resize {prediction['resize_options']}:", f"  {'output sizes':<14}{shown}"]
    for key in ("upscaled", "downscaled"):
        part = prediction[key]
        line = f"  {key:<14}{_of(part['count'], total)}"
        if part["factor"]:
            line += f", factor {_summary(part['factor'])}"
        lines.append(line)
        if part["factor"]:
            lines.extend(_histogram_lines(part["factor"]["histogram"], "x"))
    lines.append(f"  {'unchanged':<14}{_of(prediction['unchanged'], total)}")
    for key, what in (("cropped", "area_discarded"), ("padded", "area_added")):
        part = prediction[key]
        line = f"  {key:<14}{_of(part['count'], total)}"
        if part["count"]:
            shares = {name: value * 100 for name, value in part[what].items()}
            line += f", {what.replace('_', ' ')} {_summary(shares, ' %')} (over all images)"
        lines.append(line)
    part = prediction["distorted"]
    line = f"  {'distorted':<14}{_of(part['count'], total)}, aspect changed by > {part['limit']}"
    if part["aspect_change"]:
        line += f" (largest change {part['aspect_change']['max']:.3f})"
    lines.append(line)
    return lines


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def _of(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.1f} %)" if total else str(count)
