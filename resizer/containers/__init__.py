"""Output containers: where the encoded images of a run end up.

`files` mirrors the source tree into OUT, one file per image. `webdataset` packs the images into
tar shards, each with a JSON record beside it. A worker writes the encoded bytes of its image
either atomically to its output file or, for shards, to a hidden staging file (staging.py), and
returns a small record. The container then finishes OUT in the parent, after the images are
done: nothing to do for a tree; for shards, assembling them by streaming the staged images and
unchanged members of the old shards.

The planner asks the container how a source is named in OUT and what size an earlier output
has (None if it is gone), so the up-to-date check is the same for every container.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..report import Report
from ..settings import CONTAINERS, OptionError, Settings, ShardSize

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["CONTAINERS", "Container", "for_settings", "parse_shard_size"]

UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


class Container:
    """One layout of OUT. Subclasses: files.FilesContainer, webdataset.WebDatasetContainer."""

    name = ""
    in_tree = True  # outputs are files at OUT/<output>, which a SRC inside OUT must not hold
    slot_kind = "output file"  # what two sources must not share (see slot)
    clash_hint = ""  # the ways out when they do

    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        self.out = settings.out
        self.store = store  # the run's store: on an object store, it holds OUT's listing

    def output_name(self, name: str, tree_name: str, fmt: str) -> str:
        """The record's `output` for source `name` (tree_name: its path in a mirrored tree)."""
        raise NotImplementedError

    def slot(self, output: str) -> str:
        """What no two sources may share (a `slot_kind`), for the output named `output`."""
        raise NotImplementedError

    def stored_size(self, record: dict) -> int | None:
        """Size of the output an earlier record describes, if OUT still holds it."""
        raise NotImplementedError

    def finish(self, records: dict[str, str], previous: Mapping[str, str], report: Report) -> None:
        """After the images: bring OUT in line with `records` (updating them where needed)."""

    def cleanup(self) -> None:
        """After the manifest is written: remove what only this run needed."""


def for_settings(settings: Settings, store: Store | None = None) -> Container:
    from .files import FilesContainer
    from .webdataset import WebDatasetContainer

    kinds = {"files": FilesContainer, "webdataset": WebDatasetContainer}
    return kinds[settings.container](settings, store)


def parse_shard_size(value: int | str | ShardSize) -> ShardSize:
    """`1000` (samples per shard) or a size in bytes such as `500MB`, `1.5GB`, `256MiB`
    (kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB powers of 1024); OptionError otherwise."""
    if isinstance(value, ShardSize):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise OptionError(f"--shard-size {value!r}: a shard holds at least 1 sample")
        return ShardSize(value)
    match = _SIZE.match(str(value))
    if match is None or isinstance(value, bool):
        raise OptionError(
            f"--shard-size {value!r} is not a shard size: give samples (1000) or bytes (500MB)"
        )
    number, unit = match.group(1), match.group(2).lower()
    if not unit:
        if "." in number or int(number) < 1:
            raise OptionError(
                f"--shard-size {value!r}: a number of samples is a whole number of at least 1"
            )
        return ShardSize(int(number))
    if unit not in UNITS:
        raise OptionError(
            f"--shard-size {value!r}: unknown unit {match.group(2)!r} (use B, kB, MB, GB, MiB...)"
        )
    size = int(float(number) * UNITS[unit])
    if size < 1:
        raise OptionError(f"--shard-size {value!r}: a shard size must be at least 1 byte")
    return ShardSize(size, "bytes")
