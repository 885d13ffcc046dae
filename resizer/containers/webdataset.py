"""WebDataset shards: OUT/shard-000000.tar ..., each sample a `KEY.<ext>` image and `KEY.json`.

Keys. WebDataset splits a member name at the first dot of its base name into key and field, so
a key must hold no dot. A sample's key is its source's relative path (as the manifest's
`source` shows it) without the extension, with `%`, `.`, `\\` and control characters written
as %XX (their UTF-8 bytes, as in URLs): `cats/img.v2.jpg` -> `cats/img%2Ev2`. It is unique
and stable (it depends on nothing but the path), and `urllib.parse.unquote(key)` gives the
path back. Two sources differing only by extension would share a key: a usage error, unless
--keep-extension keeps the extension in the key (`cats/a.jpg` -> `cats/a%2Ejpg`).

Shards. Samples are ordered by source path and cut into consecutive shards of N samples, or of
at most N bytes. Workers write each encoded image to a hidden staging file in OUT; the parent
then writes every shard whose contents changed, streaming members from the staging files and
from the old shards, to a temporary name, and renames them into place once all are written. A
shard whose samples are all still where they were is left alone, file and all.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import re
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path, PurePosixPath

from ..files import temp_name
from ..manifest import to_json
from ..names import json_text
from ..records import RECORD_FIELDS, Result
from ..report import Report
from . import Container
from .tar import ShardError, ShardWriter, archive_size, header_size, padded, read_index

STAGE_MARK = ".resizer-stage-"
SHARD_NAME = re.compile(r"shard-\d{6,}\.tar")
_UNSAFE = re.compile(r"[%.\\\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Formats whose usual extension is not their name; WebDataset decodes by extension.
MEMBER_EXTENSIONS = {"jpeg": "jpg", "tiff": "tif"}
# Record fields left out of a sample's JSON: how a run went, not what the sample is, so that
# shards are the same whatever --jobs, the run or the source's modification time.
RUN_FIELDS = {"output", "shard", "key", "status", "error", "run", "seconds", "src_mtime_ns"}


def sample_key(name: str, keep_extension: bool = False) -> str:
    """The WebDataset key of a source's relative path (see the module docstring)."""
    stem = name if keep_extension else name[: -len(PurePosixPath(name).suffix) or None]
    return _UNSAFE.sub(_escape, stem)


def _escape(match: re.Match) -> str:
    character = match.group()
    try:
        encoded = character.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        encoded = character.encode("utf-8", "surrogatepass")
    return "".join(f"%{byte:02X}" for byte in encoded)


def key_of(output: str) -> str:
    return output[: output.rindex(".")]


def staging_path(out: Path, output: str) -> Path:
    """Hidden, in OUT's root, named by the member so that a killed run's file is found again."""
    digest = hashlib.sha256(output.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return out / f"{STAGE_MARK}{digest}"


def shard_name(number: int) -> str:
    return f"shard-{number:06d}.tar"


def sample_json(record: dict, key: str, label: str | None) -> bytes:
    """A sample's JSON: its manifest record without the run's bookkeeping, plus key and class."""
    document = {"key": key, "source": record.get("source"), "class": label}
    for name in RECORD_FIELDS:
        if name not in RUN_FIELDS and name != "source" and not name.startswith("mask_"):
            document[name] = record.get(name)
    return (json_text(document) + "\n").encode("utf-8")


class WebDatasetContainer(Container):
    name = "webdataset"
    in_tree = False
    slot_kind = "sample key"
    clash_hint = (
        "rename or --exclude one of each, or pass --keep-extension to keep the source "
        "extension in keys (cats/a.jpg -> cats/a%2Ejpg)"
    )

    def __init__(self, settings):
        super().__init__(settings)
        self._indexes: dict[str, dict[str, tuple[int, int]]] = {}
        # Where each sample the planner found up to date lies: (shard, member). Kept so that
        # finishing need not parse 100,000 unchanged records a second time.
        self._vouched: dict[str, tuple[str, str]] = {}
        directories = [src for src in settings.sources if src.is_dir()]
        self._roots = {src.resolve().name for src in directories} if len(directories) > 1 else set()

    def output_name(self, name: str, tree_name: str, fmt: str) -> str:
        key = sample_key(name, self.settings.keep_extension)
        return f"{key}.{MEMBER_EXTENSIONS.get(fmt, fmt)}"

    def slot(self, output: str) -> str:
        return key_of(output)

    def stored_size(self, record: dict) -> int | None:
        output, shard = record.get("output"), record.get("shard")
        if not isinstance(output, str):
            return None
        if shard is None:  # staged by a run killed before it wrote the shards
            try:
                return os.stat(staging_path(self.out, output)).st_size
            except OSError:
                return None
        member = self._index(shard).get(output)
        if member is None:
            return None
        self._vouched[record.get("source")] = (shard, output)
        return member[1]

    def label(self, source: str) -> str | None:
        """The class: the first folder of the path under its SRC, as ImageFolder counts it."""
        parts = source.split("/")
        if self._roots and len(parts) > 1 and parts[0] in self._roots:
            parts = parts[1:]
        return parts[0] if len(parts) > 1 else None

    def _index(self, shard) -> dict[str, tuple[int, int]]:
        """Members of the shard a record names ({} if it is no shard of ours or unreadable)."""
        if not isinstance(shard, str) or not SHARD_NAME.fullmatch(shard):
            return {}
        if shard not in self._indexes:
            try:
                self._indexes[shard] = read_index(self.out / shard)
            except (OSError, ShardError):
                self._indexes[shard] = {}  # missing or damaged: its samples are redone
        return self._indexes[shard]

    def finish(self, records: dict[str, str], previous: Mapping[str, str], report: Report) -> None:
        samples = self._samples(records, previous)
        layout = self._layout(samples, records)
        written: list[tuple[Path, Path]] = []
        try:
            for number, members in enumerate(layout):
                name = shard_name(number)
                if not self._unchanged(name, members):
                    written.append((self._write(name, members, records), self.out / name))
            while written:
                temp, final = written.pop(0)
                if _same_bytes(temp, final):
                    temp.unlink()  # e.g. --force: the same samples again; the file stays as it was
                else:
                    os.replace(temp, final)
                    report.shards_written += 1
        except OSError as error:
            for temp, _ in written:
                temp.unlink(missing_ok=True)
            self._indexes.clear()  # read again what OUT now holds
            self._not_written(records, previous, error, report)
            return
        report.shards = len(layout)
        report.shards_removed = remove_shards(self.out, {shard_name(n) for n in range(len(layout))})
        for number, members in enumerate(layout):
            for source, output, _size, origin in members:
                if origin != ("shard", shard_name(number)):
                    record = json.loads(records[source])
                    record.update(shard=shard_name(number), key=key_of(output))
                    records[source] = to_json(record)

    def cleanup(self) -> None:
        remove_staging(self.out)

    def _samples(self, records: dict[str, str], previous: Mapping[str, str]) -> list[tuple]:
        """(source, member, size, origin) of every sample OUT is to hold, in source order;
        origin is ("shard", name) for a member of an old shard, ("stage",) for a staged one."""
        samples = []
        for source in sorted(records):
            text = records[source]
            vouched = self._vouched.get(source)
            if vouched is not None and text == previous.get(source):
                shard, output = vouched
                samples.append((source, output, self._index(shard)[output][1], ("shard", shard)))
                continue
            record = json.loads(text)
            output, shard = record.get("output"), record.get("shard")
            if record.get("status") not in ("ok", "pending") or not isinstance(output, str):
                continue
            held = self._index(shard).get(output)
            if shard is None and record.get("status") == "ok":
                origin = ("stage",)  # encoded by this run, or by a killed one and up to date
            elif held is not None and held[1] == record.get("bytes"):
                origin = ("shard", shard)
            else:
                continue  # pending, and no earlier sample in a shard
            samples.append((source, output, record.get("bytes"), origin))
        return samples

    def _layout(self, samples: list[tuple], records: dict[str, str]) -> list[list[tuple]]:
        limit = self.settings.shard_size.limit
        if self.settings.shard_size.unit == "samples":
            return [samples[start : start + limit] for start in range(0, len(samples), limit)]
        layout: list[list[tuple]] = []
        used = 0
        for sample in samples:
            source, output, size, _ = sample
            key = key_of(output)
            need = header_size(output) + padded(size) + header_size(f"{key}.json")
            need += padded(len(self._json(source, key, records)))
            if layout and archive_size(used + need) <= limit:
                layout[-1].append(sample)
                used += need
            else:  # a new shard; it takes one sample even if that alone is over the limit
                layout.append([sample])
                used = need
        return layout

    def _json(self, source: str, key: str, records: dict[str, str]) -> bytes:
        return sample_json(json.loads(records[source]), key, self.label(source))

    def _unchanged(self, name: str, members: list[tuple]) -> bool:
        """Every sample already in this shard, in this order, and nothing else there."""
        if any(origin != ("shard", name) for _, _, _, origin in members):
            return False
        index = list(self._index(name).items())
        if len(index) != 2 * len(members):
            return False
        for position, (_source, output, size, _origin) in enumerate(members):
            (image, (_, stored)), (text, _) = index[2 * position], index[2 * position + 1]
            if image != output or stored != size or text != f"{key_of(output)}.json":
                return False
        return True

    def _write(self, name: str, members: list[tuple], records: dict[str, str]) -> Path:
        """The shard under a temporary name; the old shards stay readable until the renames."""
        temp = temp_name(self.out / name)
        reader = _Reader(self.out)
        try:
            with open(temp, "wb") as handle:
                writer = ShardWriter(handle)
                for source, output, size, origin in members:
                    with reader.open(origin, output, self._indexes) as data:
                        writer.add(output, size, data)
                    key = key_of(output)
                    writer.add_bytes(f"{key}.json", self._json(source, key, records))
                writer.close()
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        finally:
            reader.close()
        return temp

    def _not_written(
        self, records: dict[str, str], previous: Mapping[str, str], error: OSError, report: Report
    ) -> None:
        """The shards could not be written: OUT keeps its old shards, and every record that
        changed becomes pending, describing the earlier sample where the old shards hold it."""
        cause = error.strerror or str(error)
        if report.stopped_by is None:
            report.stopped_by = f"OUT is unusable ({cause})"
        why = f"not written to a shard ({cause}); run again to finish"
        for source, text in records.items():
            if text == previous.get(source):
                continue  # its sample is where the old shards hold it
            record = json.loads(text)
            earlier = json.loads(previous[source]) if source in previous else None
            if (
                earlier is not None
                and earlier.get("shard") is not None
                and (self.stored_size(earlier) == earlier.get("bytes"))
            ):
                pending = earlier  # the old shards still hold its earlier sample
            elif record.get("status") != "ok":
                continue  # no sample in OUT, and the record says why
            else:
                pending = Result(source=source, status="pending").record()
            pending.update(status="pending", error=why, run=record.get("run"))
            records[source] = to_json(pending)


class _Reader:
    """Opens a member's data: a staging file, or an old shard positioned at the member (one
    shard kept open at a time, as samples come in shard order)."""

    def __init__(self, out: Path):
        self.out = out
        self._shard: tuple[str, object] | None = None

    def open(self, origin: tuple, output: str, indexes: dict):
        if origin[0] == "stage":
            return open(staging_path(self.out, output), "rb")
        name = origin[1]
        if self._shard is None or self._shard[0] != name:
            self.close()
            self._shard = (name, open(self.out / name, "rb"))  # noqa: SIM115
        handle = self._shard[1]
        handle.seek(indexes[name][output][0])
        return nullcontext(handle)  # stays open for the next member of this shard

    def close(self) -> None:
        if self._shard is not None:
            self._shard[1].close()
            self._shard = None


def _same_bytes(first: Path, second: Path) -> bool:
    try:
        return filecmp.cmp(first, second, shallow=False)
    except OSError:
        return False


def remove_shards(out: Path, keep: set[str], named_by: Mapping[str, str] | None = None) -> int:
    """Remove shard files in OUT's root outside `keep` (with `named_by`: only those its records
    name, so a tree run removes only what a shard run wrote); returns how many."""
    try:
        names = [name for name in os.listdir(out) if SHARD_NAME.fullmatch(name)]
    except OSError:
        return 0
    names = [name for name in names if name not in keep]
    if names and named_by is not None:
        named = {json.loads(text).get("shard") for text in named_by.values()}
        names = [name for name in names if name in named]
    removed = 0
    for name in names:
        try:
            os.unlink(out / name)
        except OSError:
            continue
        removed += 1
    return removed


def remove_staging(out: Path) -> None:
    try:
        names = [name for name in os.listdir(out) if name.startswith(STAGE_MARK)]
    except OSError:
        return
    for name in names:
        (out / name).unlink(missing_ok=True)
