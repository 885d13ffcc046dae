"""The mirrored file tree: OUT/<relative path of the source>, one file per image."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

from ..report import Report
from ..storage import is_url
from . import Container
from .places import place_for
from .webdataset import remove_shards


class FilesContainer(Container):
    name = "files"
    in_tree = True
    slot_kind = "output file"
    clash_hint = (
        "rename or --exclude one of each, choose another --format, or pass --keep-extension "
        "to keep the source extension in output names (a.gif -> a.gif.png)"
    )

    def output_name(self, name: str, tree_name: str, fmt: str) -> str:
        return tree_name

    def slot(self, output: str) -> str:
        return output

    def stored_size(self, record: dict) -> int | None:
        output = record.get("output")
        if not isinstance(output, str) or record.get("shard") is not None:
            return None  # a sample in a shard is no file of the tree
        if is_url(self.out):  # from the one listing of OUT in the run's store
            return self.store.out_size(output) if self.store is not None else None
        try:
            info = os.stat(os.path.join(self.out, output))  # no Path: once per image
        except OSError:
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def finish(self, records: dict[str, str], previous: Mapping[str, str], report: Report) -> None:
        # Shards of an earlier --container webdataset run hold no current output any more.
        place = place_for(self.settings, self.store)
        report.shards_removed = remove_shards(place, keep=set(), named_by=previous)

    def cleanup(self) -> None:
        place_for(self.settings, self.store).remove_staging()  # a killed webdataset run's
