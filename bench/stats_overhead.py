#!/usr/bin/env python3
"""Cost of the output pixel statistics inside the fill-224 job, measured where it is spent.

Runs resizer's own per-image pipeline (process.process_image, as a worker does) over the corpus
with the fill-224 options, timing each call of pixelstats.channel_sums with the processing time
of its image, and then the parent's merge over the records. A whole-job A/B comparison cannot
resolve 1 % on a shared machine; this measures the added work itself.

Usage: python bench/stats_overhead.py --corpus /tmp/corpus [--limit N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from resizer import pixelstats, process
from resizer.geometry import Sizing
from resizer.manifest import to_json
from resizer.plan import find_images
from resizer.records import Job
from resizer.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0)
    options = parser.parse_args()

    spent = []
    real = pixelstats.channel_sums

    def timed(pixels):
        started = time.perf_counter()
        sums = real(pixels)
        spent.append(time.perf_counter() - started)
        return sums

    process.pixelstats.channel_sums = timed
    with tempfile.TemporaryDirectory() as out:
        settings = Settings(
            sources=(options.corpus,),
            out=Path(out),
            sizing=Sizing("size", width=224, height=224),
            mode="fill",
            format="jpeg",
            quality=90,
        )
        images, _ = find_images(settings)
        if options.limit:
            images = images[: options.limit]
        records, seconds = [], 0.0
        for path, name in images:
            started = time.perf_counter()
            result = process.process_image(Job(path, name, name + ".jpg", "jpeg"), settings)
            seconds += time.perf_counter() - started
            records.append(to_json(result.record()))
        started = time.perf_counter()
        statistics = pixelstats.dataset_statistics(records)
        merge = time.perf_counter() - started
    print(f"images: {len(images)}, processing: {seconds:.2f} s")
    print(f"channel_sums: {sum(spent) * 1e3:.1f} ms in {len(spent)} calls, "
          f"{sum(spent) / len(spent) * 1e3:.3f} ms each")  # fmt: skip
    print(f"merge in the parent: {merge * 1e3:.1f} ms")
    print(f"overhead: {(sum(spent) + merge) / seconds * 100:.2f} % of the processing time")
    print(f"statistics: {statistics}")


if __name__ == "__main__":
    main()
