"""Shared by the compare tests: every configuration, and settings for a folder of images."""

from __future__ import annotations

from pathlib import Path

from resizer import compare
from resizer.geometry import Sizing
from resizer.settings import Settings

ALL = compare.configurations()


def settings_for(src: Path, **options) -> Settings:
    options.setdefault("sizing", Sizing("size", width=40, height=40))
    return Settings(sources=(src,), out=Path(), **options)
