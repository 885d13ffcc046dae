"""Resize backends behind one small interface.

A backend resizes upright pixels and cuts the output window (crop and pad); decoding and
encoding are shared (`resizer.codecs`), so both backends see the same upright image and write
the same way. Each module imports its library only when used, to keep start-up fast.
"""

from __future__ import annotations

from typing import Protocol

from ..codecs import Pixels


class Backend(Protocol):
    name: str
    # Without exact, whether only the `keep` box is ever built (else the whole resized image).
    resizes_kept_part: bool

    def resize(
        self,
        pixels: Pixels,
        size: tuple[int, int],
        interpolation: str,
        exact: bool,
        extent: tuple[float, float] | None = None,
        keep: tuple[int, int, int, int] | None = None,
    ) -> Pixels:
        """Resize the image to `size` and return its `keep` box (default: all of it).

        Antialiased on downscale unless `exact`. `extent` is the (width, height) the pixels
        really cover, when a shrink-on-load decoder rounded the last row and column up.
        A backend may resize only the kept part, as long as the pixels are the same.
        """

    def window(
        self, pixels: Pixels, box: tuple[int, int, int, int], fill: tuple[int, ...]
    ) -> Pixels:
        """Cut `box` (left, top, right, bottom) out of the image, filling outside with `fill`."""


def get_backend(name: str) -> Backend:
    if name == "pillow":
        from .pillow import PillowBackend

        return PillowBackend()
    if name == "opencv":
        from .opencv import OpenCVBackend

        return OpenCVBackend()
    raise ValueError(f"unknown backend {name!r}")
