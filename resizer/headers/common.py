"""The record every header reader fills, and the errors it raises."""

from __future__ import annotations

from dataclasses import asdict, dataclass

ALPHA_MODES = {"LA", "PA", "RGBA", "La", "RGBa", "LA;16", "RGBA;16"}


class Unreadable(Exception):
    """No usable header: resize will fail this file. The message says why, in words."""


@dataclass
class FileInfo:
    """One file's header facts; `status` is ok, unreadable or suspect (with `error` saying why)."""

    status: str = "ok"
    error: str | None = None
    format: str | None = None  # Pillow's name, as the manifest's src_format
    width: int | None = None  # upright (EXIF orientation applied), as resize sees it
    height: int | None = None
    mode: str | None = None  # as the manifest's src_mode: RGB;16 for 16-bit colour
    bits: int | None = None  # bits per sample as stored
    alpha: bool | None = None
    icc: bool | None = None
    orientation: int | None = None
    frames: int | None = (
        None  # as Pillow counts them (animation, TIFF pages, MPO); the manifest's src_frames
    )
    bytes: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def orient(self, stored: tuple[int, int], orientation: int) -> None:
        """Set the orientation and the upright size it gives the stored size."""
        self.orientation = orientation
        width, height = stored
        self.width, self.height = (height, width) if orientation in (5, 6, 7, 8) else stored

    def suspect(self, reason: str) -> None:
        """The header is fine but the file is not: it ends early or is broken after the header."""
        self.status, self.error = "suspect", reason
