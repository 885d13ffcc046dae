"""Shrink-on-load rules side by side: speed against moiré.

    python bench/shrink.py [--corpus /tmp/corpus] [--photos 40] [--bounds 2,2.5,3,4,full]

For each bound (the decoded JPEG stays >= bound x the resize target; `full` = never shrink on
load), in this process with the resizer it imports:
  - synthetic JPEGs (zone plate, square and sine stripes, fabric), 2048x1536, q90, reduced at
    every scale from 1.5x to 16x: worst PSNR of the pillow fast path against --exact, and of
    the opencv fast path against the same opencv path on the full decode (OpenCV's --exact
    aliases on purpose, so it is no reference);
  - a near-Nyquist sine (2.2 px stripes at 80 degrees) and a sweep of vertical sines over 82
    periods from 2 to 40 px (1024x64 images): the limit of any DCT-scaled decode;
  - photographs from the corpus (an even spread of its JPEGs), fit-512 and fill-224: worst
    PSNR against --exact (PNG outputs, so no encoder noise) and CPU ms per image (JPEG q90
    output, best of 3 interleaved passes, one process).
Prints a Markdown table (paste it into bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

if __package__ in (None, ""):  # run as a script: make `bench` importable, after site-packages
    sys.path.append(str(Path(__file__).resolve().parent.parent))

from bench.corpus import find_images, spread
from bench.quality import psnr
from resizer.geometry import Sizing
from resizer.process import Job, process_image
from resizer.settings import Settings

# The module whose SHRINK_BOUND shrink_on_load reads (resizer.codecs.probe is also a function).
shrink_rule = importlib.import_module("resizer.codecs.probe")

SCALES = [1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12, 14, 16]
PERIODS = np.concatenate(
    [np.linspace(2.02, 4, 40), np.linspace(4.1, 12, 30), np.linspace(12.5, 40, 12)]
)
NEVER = 1e6  # a bound no image reaches: full decode
JOBS = {
    "fit-512": {"sizing": Sizing("size", width=512, height=512), "mode": "fit"},
    "fill-224": {"sizing": Sizing("size", width=224, height=224), "mode": "fill"},
}


def grey(plane: np.ndarray) -> Image.Image:
    return Image.fromarray(np.dstack([np.clip(plane, 0, 255).round().astype(np.uint8)] * 3))


def stripes(width: int, height: int, period: float, degrees: float, square: bool) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    angle = math.radians(degrees)
    wave = np.cos(2 * np.pi * (x * math.cos(angle) + y * math.sin(angle)) / period)
    return 127.5 + 120 * (np.sign(wave) if square else wave)


def textures(width: int = 2048, height: int = 1536) -> dict[str, Image.Image]:
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    radius2 = (x - width / 2) ** 2 + (y - height / 2) ** 2
    weave_a = np.cos(2 * np.pi * (x / 3.3 + y / 41))
    weave_b = np.cos(2 * np.pi * (y / 2.7 - x / 37))
    fabric = np.dstack(
        [127.5 + 60 * weave_a + 60 * weave_b, 127.5 + 90 * weave_a * weave_b, 127.5 - 60 * weave_a]
    )
    return {
        "zone plate": grey(127.5 + 127 * np.cos(np.pi * radius2 / max(width, height))),
        "stripes 3 px square": grey(stripes(width, height, 3, 0, True)),
        "stripes 4.5 px 20° square": grey(stripes(width, height, 4.5, 20, True)),
        "stripes 7 px 45° sine": grey(stripes(width, height, 7, 45, False)),
        "fabric (two colour weaves)": Image.fromarray(np.clip(fabric, 0, 255).astype(np.uint8)),
        "near-Nyquist sine 2.2 px 80°": grey(stripes(width, height, 2.2, 80, False)),
    }


def resize(source: Path, out: Path, fmt: str = "png", **options) -> Path:
    settings = Settings(sources=(source.parent,), out=out, **options)
    name = f"{source.stem}.{'jpg' if fmt == 'jpeg' else 'png'}"
    result = process_image(Job(str(source), source.name, name, fmt), settings)
    if result.status != "ok":
        raise RuntimeError(f"{source}: {result.error}")
    return out / result.output


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def by_scale(scale: float) -> dict:
    return {"sizing": Sizing("scale", factor=Fraction(1 / scale).limit_denominator(1000))}


def synthetic(
    work: Path, bounds: dict[str, float], scales: list[float], size: tuple[int, int]
) -> dict[str, dict]:
    """Per bound: worst (PSNR, where) for pillow and opencv over the textures and scales."""
    found: dict[str, dict] = {label: {} for label in bounds}
    for name, image in textures(*size).items():
        jpeg, png = work / f"{name}.jpg", work / f"{name}.png"
        image.save(jpeg, quality=90)
        with Image.open(jpeg) as decoded:
            decoded.save(png, compress_level=1)
        kind = "nyquist" if name.startswith("near-Nyquist") else "textures"
        for scale in scales:
            exact = pixels(resize(jpeg, work / "exact", exact=True, **by_scale(scale)))
            full_cv = pixels(resize(png, work / "full-cv", backend="opencv", **by_scale(scale)))
            for label, bound in bounds.items():
                shrink_rule.SHRINK_BOUND = bound
                fast = pixels(resize(jpeg, work / "fast", **by_scale(scale)))
                fast_cv = pixels(
                    resize(jpeg, work / "fast-cv", backend="opencv", **by_scale(scale))
                )
                for backend, value in (
                    ("pillow", psnr(fast, exact)),
                    ("opencv", psnr(fast_cv, full_cv)),
                ):
                    key = (kind, backend)
                    if value < found[label].get(key, (math.inf, ""))[0]:
                        found[label][key] = (value, f"{name}, {scale:g}x")
    return found


def sine_sweep(
    work: Path, bounds: dict[str, float], scales: list[float], periods: np.ndarray
) -> dict[str, tuple[float, str]]:
    """Worst PSNR (pillow vs --exact) over vertical sines of 82 periods, at every scale."""
    found: dict[str, tuple[float, str]] = {}
    for period in periods:
        jpeg = work / "sine.jpg"
        grey(stripes(1024, 64, period, 0, False)).save(jpeg, quality=90)
        for scale in scales:
            if 64 / scale < 4:
                continue
            exact = pixels(resize(jpeg, work / "exact", exact=True, **by_scale(scale)))
            for label, bound in bounds.items():
                shrink_rule.SHRINK_BOUND = bound
                value = psnr(pixels(resize(jpeg, work / "fast", **by_scale(scale))), exact)
                if value < found.get(label, (math.inf, ""))[0]:
                    found[label] = (value, f"{period:.2f} px, {scale:g}x")
    return found


def photos(work: Path, corpus: Path, count: int, bounds: dict[str, float]) -> dict[str, dict]:
    """Per bound and job: worst PSNR against --exact and CPU ms per image."""
    images = [image for image in find_images(corpus)[0] if image.format in ("JPEG", "MPO")]
    sample = spread(images, count)
    found: dict[str, dict] = {label: {} for label in bounds}
    for image in sample:
        for job, options in JOBS.items():
            exact = pixels(resize(image.path, work / "exact", exact=True, **options))
            seconds: dict[str, float] = {}
            for rounds in range(3):
                order = list(bounds.items()) if rounds % 2 == 0 else list(bounds.items())[::-1]
                for label, bound in order:
                    shrink_rule.SHRINK_BOUND = bound
                    started = time.process_time()
                    resize(image.path, work / "jpeg", fmt="jpeg", quality=90, **options)
                    spent = time.process_time() - started
                    seconds[label] = min(seconds.get(label, math.inf), spent)
                    if rounds == 0:
                        value = psnr(pixels(resize(image.path, work / "png", **options)), exact)
                        previous = found[label].get((job, "psnr"), (math.inf, ""))
                        if value < previous[0]:
                            found[label][job, "psnr"] = (value, image.name)
            for label, spent in seconds.items():
                found[label][job, "cpu"] = found[label].get((job, "cpu"), 0.0) + spent / len(sample)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="Folder of photographs (bench/README.md).")
    parser.add_argument("--photos", type=int, default=40, help="JPEGs spread over the corpus.")
    parser.add_argument("--bounds", default="2,2.5,3,4,full", help="Bounds to compare.")
    parser.add_argument(
        "--quick", action="store_true", help="Smoke run: 512x384 textures, 2x and 8x, 3 sines."
    )
    args = parser.parse_args(argv)
    bounds = {label: NEVER if label == "full" else float(label) for label in args.bounds.split(",")}
    original = shrink_rule.SHRINK_BOUND
    scales, size, periods = SCALES, (2048, 1536), PERIODS
    if args.quick:
        scales, size, periods = [2.0, 8.0], (512, 384), PERIODS[::30]
    with tempfile.TemporaryDirectory(prefix="resizer-shrink-") as folder:
        work = Path(folder)
        print("bench: synthetic textures", file=sys.stderr, flush=True)
        textured = synthetic(work, bounds, scales, size)
        print("bench: sine sweep", file=sys.stderr, flush=True)
        sweep = sine_sweep(work, bounds, scales, periods)
        photographs = photos(work, args.corpus, args.photos, bounds) if args.corpus else {}
    shrink_rule.SHRINK_BOUND = original

    def cell(found: dict, key) -> str:
        value, where = found.get(key, (math.inf, ""))  # never below inf: identical everywhere
        return f"{value:.1f} ({where})" if where else f"{value:.1f}"

    header = "| bound | textures: pillow vs --exact | textures: opencv vs full decode "
    header += "| near-Nyquist sine: pillow | sine sweep: pillow "
    columns = 5
    if photographs:
        header += "| photos fit-512: worst dB / CPU ms | photos fill-224: worst dB / CPU ms "
        columns += 2
    print(header + "|")
    print("|" + "---|" * columns)
    for label in bounds:
        row = [
            "full decode" if label == "full" else f"{label}x",
            cell(textured[label], ("textures", "pillow")),
            cell(textured[label], ("textures", "opencv")),
            cell(textured[label], ("nyquist", "pillow")),
            cell(sweep, label),
        ]
        for job in JOBS if photographs else ():
            found = photographs[label]
            row.append(f"{found[job, 'psnr'][0]:.1f} / {1000 * found[job, 'cpu']:.0f}")
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
