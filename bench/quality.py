"""Quality of resizer's normal output against its own `--exact` output of the same job:
PSNR over all channels and SSIM on luma, colour premultiplied by alpha where there is alpha.
The metrics themselves are the package's (`resizer.quality`), as in `resizer compare`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from bench.corpus import TARGET_PSNR, TARGET_SSIM, read_manifest
from resizer import quality as metrics


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR over all channels (resizer.quality.psnr, the package's one definition)."""
    return metrics.psnr(a, b)


def luma(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        return array.astype(np.float64)
    if array.shape[2] <= 2:  # L or LA
        return array[..., 0].astype(np.float64)
    rgb = array[..., :3].astype(np.float64)
    return rgb @ np.array([0.299, 0.587, 0.114])


def ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """Mean SSIM on luma (resizer.quality.ssim: 11-tap Gaussian window, sigma 1.5, K1=0.01,
    K2=0.03, range 255; None under 11 pixels)."""
    return metrics.ssim(luma(a), luma(b))


@dataclass
class Quality:
    compared: int = 0
    identical: int = 0
    psnr_values: list[float] = field(default_factory=list)  # finite values only
    worst_psnr: tuple[float, str] = (math.inf, "")
    ssim_values: list[float] = field(default_factory=list)
    worst_ssim: tuple[float, str] = (1.0, "")
    unmatched: int = 0
    per_image: list[tuple[tuple[float, float | None], str]] = field(default_factory=list)

    def add(self, name: str, a: np.ndarray, b: np.ndarray) -> None:
        self.compared += 1
        value = psnr(a, b)
        index = ssim(a, b)
        self.per_image.append(((value, index), name))
        if math.isinf(value):
            self.identical += 1
        else:
            self.psnr_values.append(value)
        if value < self.worst_psnr[0]:
            self.worst_psnr = (value, name)
        if index is not None:
            self.ssim_values.append(index)
            if index < self.worst_ssim[0]:
                self.worst_ssim = (index, name)

    @property
    def mean_psnr(self) -> float:
        return float(np.mean(self.psnr_values)) if self.psnr_values else math.inf

    @property
    def mean_ssim(self) -> float:
        return float(np.mean(self.ssim_values)) if self.ssim_values else 1.0

    @property
    def below_target(self) -> int:
        """Images under either bound (an image under both counts once)."""
        low_psnr = {name for value, name in self.per_image if value[0] < TARGET_PSNR}
        low_ssim = {
            name
            for value, name in self.per_image
            if value[1] is not None and value[1] < TARGET_SSIM
        }
        return len(low_psnr | low_ssim)

    @property
    def met(self) -> bool:
        return (
            self.compared > 0
            and self.unmatched == 0
            and self.worst_psnr[0] >= TARGET_PSNR
            and self.worst_ssim[0] >= TARGET_SSIM
        )


def compare_outputs(normal: Path, exact: Path, flattened: bool = False) -> Quality:
    """PSNR and SSIM of each normal output against the --exact output of the same source.

    With `flattened`, an alpha output is compared by its colour over black, which is what a
    JPEG output of the same image holds.
    """
    quality = Quality()
    exact_outputs = {
        record["source"]: record["output"]
        for record in read_manifest(exact / "manifest.jsonl")
        if record["status"] in ("ok", "skipped")
    }
    for record in read_manifest(normal / "manifest.jsonl"):
        if record["status"] not in ("ok", "skipped"):
            continue
        other = exact_outputs.get(record["source"])
        if other is None:
            quality.unmatched += 1
            continue
        with Image.open(normal / record["output"]) as a, Image.open(exact / other) as b:
            first, second = visible(a), visible(b)
            if flattened:
                first, second = _colour(a, first), _colour(b, second)
            if first.shape != second.shape:
                quality.unmatched += 1
                continue
            quality.add(record["source"], first, second)
    return quality


def _colour(image: Image.Image, array: np.ndarray) -> np.ndarray:
    """The colour channels of `visible(image)`: premultiplied = flattened onto black."""
    if image.mode in ("RGBA", "LA"):
        array = array[..., :-1]
        return array[..., 0] if array.shape[2] == 1 else array
    return array


def visible(image: Image.Image) -> np.ndarray:
    """Pixels as seen: colour premultiplied by alpha where there is alpha.

    The colour of a nearly transparent pixel is ill-conditioned (a resize divides it by an
    alpha of a few units) and invisible; premultiplied, it weighs what it shows.
    """
    array = np.asarray(image)
    if image.mode not in ("RGBA", "LA"):
        return array
    return metrics.visible(array)
