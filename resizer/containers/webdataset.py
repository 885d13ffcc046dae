"""WebDataset shards: OUT/shard-000000.tar ..., each sample a `KEY.<ext>` image and `KEY.json`.

Keys. WebDataset splits a member name at the first dot of its base name into key and field, so
a key must hold no dot. A sample's key is its source's relative path (as the manifest's
`source` shows it) without the extension, with `%`, `.`, `\\` and control characters written
as %XX (their UTF-8 bytes, as in URLs): `cats/img.v2.jpg` -> `cats/img%2Ev2`. It is unique
and stable (it depends on nothing but the path), and `urllib.parse.unquote(key)` gives the
path back. Two sources differing only by extension would share a key: a usage error, unless
--keep-extension keeps the extension in the key (`cats/a.jpg` -> `cats/a%2Ejpg`).

Shards. Samples are ordered by source path and cut into consecutive shards of N samples, or of
at most N bytes. Workers append each encoded image to a hidden staging file in OUT (staging.py;
on an object store, one staging object per image); the parent then writes every shard whose
contents changed, streaming members from the staging files and from the old shards: locally to
a temporary name, renamed into place once all are written; on an object store as one streaming
upload each (places.py). A shard whose samples are all still where they were is left alone.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath

from .. import faults
from ..manifest import to_json
from ..names import json_text
from ..records import RECORD_FIELDS, Result
from ..report import Report
from ..storage import base_name, is_url
from . import Container
from .places import Place, Sample, place_for
from .tar import archive_size, header_size, padded

SHARD_NAME = re.compile(r"shard-\d{6,}\.tar")
_UNSAFE = re.compile(r"[%.\\\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Formats whose usual extension is not their name; WebDataset decodes by extension.
MEMBER_EXTENSIONS = {"jpeg": "jpg", "tiff": "tif"}
# Record fields left out of a sample's JSON: how a run went, not what the sample is, so that
# shards are the same whatever --jobs, the run, or the version stamp of the source (its
# modification time, or an object store's ETag: the same pixels from a bucket or a folder).
RUN_FIELDS = {
    "output", "shard", "key", "status", "error", "run", "seconds", "src_mtime_ns", "src_etag"
}  # fmt: skip


def _root_name(src) -> str:
    return base_name(src) if is_url(src) else src.resolve().name


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

    def __init__(self, settings, store=None):
        super().__init__(settings, store)
        self.place = place_for(settings, store)
        # Where each sample the planner found up to date lies: (shard, member, size). Kept so
        # that finishing need not parse 100,000 unchanged records a second time.
        self._vouched: dict[str, tuple[str, str, int]] = {}
        directories = [src for src in settings.sources if is_url(src) or src.is_dir()]
        self._roots = {_root_name(src) for src in directories} if len(directories) > 1 else set()

    def output_name(self, name: str, tree_name: str, fmt: str) -> str:
        key = sample_key(name, self.settings.keep_extension)
        return f"{key}.{MEMBER_EXTENSIONS.get(fmt, fmt)}"

    def slot(self, output: str) -> str:
        return key_of(output)

    def stored_size(self, record: dict) -> int | None:
        output, shard = record.get("output"), record.get("shard")
        if not isinstance(output, str):
            return None
        if shard is None:  # staged, by a run killed before it wrote the shards
            return self.place.staged_size(record)
        size = self._held(shard, output, record.get("bytes"))
        if size is not None:
            self._vouched[record.get("source")] = (shard, output, size)
        return size

    def label(self, source: str) -> str | None:
        """The class: the first folder of the path under its SRC, as ImageFolder counts it."""
        parts = source.split("/")
        if self._roots and len(parts) > 1 and parts[0] in self._roots:
            parts = parts[1:]
        return parts[0] if len(parts) > 1 else None

    def _held(self, shard, output: str, size) -> int | None:
        """Size of the member `output` in the shard a record names (None if it is no shard of
        ours, unreadable or without that member)."""
        if not isinstance(shard, str) or not SHARD_NAME.fullmatch(shard):
            return None
        return self.place.held(shard, output, size)

    def finish(self, records: dict[str, str], previous: Mapping[str, str], report: Report) -> None:
        """One pass over the samples in source order: each shard, once complete, is left alone
        or written to a temporary name; the renames come after the last, so the old shards
        stay readable for members that move (on an object store: uploaded to its final name,
        the old one kept as a local copy while its members may still move; places.py). Only
        one shard's records are parsed at a time."""
        written: list = []
        count = 0
        place = self.place
        place.origins = {shard for shard, _, _ in self._vouched.values()}
        try:
            for members in self._shards(records, previous):
                name = shard_name(count)
                count += 1
                if not self._unchanged(name, members, records):
                    json_of = functools.partial(self._json, records=records)
                    item = place.write(name, members, json_of)
                    if place.remote:  # uploaded to its final name
                        report.shards_written += 1
                    else:
                        written.append(item)
                self._record_shard(name, members, records)
            report.shards_written += place.publish(written)
        except OSError as error:
            place.discard(written)
            self._not_written(records, previous, error, report)
            return
        finally:
            place.close()
        report.shards = count
        report.shards_removed = remove_shards(place, {shard_name(n) for n in range(count)})

    def cleanup(self) -> None:
        self.place.remove_staging()

    def _shards(self, records: dict[str, str], previous: Mapping[str, str]) -> Iterator[list]:
        """The samples OUT is to hold, in source order, cut into shards."""
        limit, by_count = self.settings.shard_size.limit, self.settings.shard_size.unit == "samples"
        members: list[Sample] = []
        used = 0
        for source in sorted(records):
            if not self.place.staged and '"staged"' in records[source]:
                self.place.staged = True  # its staging files or objects are to be removed
            sample = self._sample(source, records[source], previous.get(source))
            if sample is None:
                if '"staged"' in records[source]:
                    records[source] = _unstaged(records[source])
                continue
            if by_count:
                need = 1
            else:  # the sample's bytes in the archive, headers and padding included
                key = key_of(sample.output)
                need = header_size(sample.output) + padded(sample.size)
                need += header_size(f"{key}.json") + padded(len(self._json(sample, records)))
            full = used + need > limit if by_count else archive_size(used + need) > limit
            if members and full:  # a new shard takes one sample even if that alone is too big
                yield members
                members, used = [], 0
            members.append(sample)
            used += need
        if members:
            yield members

    def _sample(self, source: str, text: str, earlier: str | None) -> Sample | None:
        """Where the sample of one record comes from, or None if OUT is to hold none."""
        vouched = self._vouched.get(source)
        if vouched is not None and text == earlier:  # up to date: found in its shard
            shard, output, size = vouched
            return Sample(source, output, size, shard)
        record = json.loads(text)
        output, shard = record.get("output"), record.get("shard")
        if record.get("status") not in ("ok", "pending") or not isinstance(output, str):
            return None
        if shard is None and record.get("status") == "ok" and record.get("staged"):
            return Sample(source, output, record.get("bytes"), None, record)  # staged
        held = self._held(shard, output, record.get("bytes"))
        if held is not None and held == record.get("bytes"):
            return Sample(source, output, held, shard, record)
        return None  # pending, and no earlier sample in a shard

    def _json(self, sample: Sample, records: dict[str, str]) -> bytes:
        if sample.record is None:
            sample.record = json.loads(records[sample.source])
        return sample_json(sample.record, key_of(sample.output), self.label(sample.source))

    def _unchanged(self, name: str, members: list[Sample], records: dict[str, str]) -> bool:
        """Every sample already in this shard, in this order, and nothing else there (on an
        object store trusted by its listing: the size those samples make)."""
        if any(sample.origin != name for sample in members):
            return False
        found = self.place.index(name)
        if found is None:
            return self.place.size(name) == self._archive_size(members, records)
        index = list(found.items())
        if len(index) != 2 * len(members):
            return False
        for position, sample in enumerate(members):
            (image, (_, stored)), (text, _) = index[2 * position], index[2 * position + 1]
            if image != sample.output or stored != sample.size:
                return False
            if text != f"{key_of(sample.output)}.json":
                return False
        return True

    def _archive_size(self, members: list[Sample], records: dict[str, str]) -> int:
        used = 0
        for sample in members:
            text = f"{key_of(sample.output)}.json"
            used += header_size(sample.output) + padded(sample.size)
            used += header_size(text) + padded(len(self._json(sample, records)))
        return archive_size(used)

    def _record_shard(self, name: str, members: list[Sample], records: dict[str, str]) -> None:
        """Records name the shard and key of their sample (on failure, _not_written redoes
        every changed record, so this may run before the renames)."""
        for sample in members:
            if sample.origin != name:
                record = sample.record or json.loads(records[sample.source])
                record.pop("staged", None)
                record.update(shard=name, key=key_of(sample.output))
                records[sample.source] = to_json(record)

    def _not_written(
        self, records: dict[str, str], previous: Mapping[str, str], error: OSError, report: Report
    ) -> None:
        """The shards could not be written: OUT keeps its old shards, and every record that
        changed becomes pending, describing the earlier sample where the old shards hold it."""
        cause = faults.cause(error)
        if report.stopped_by is None:
            report.stopped_by = f"OUT cannot take writes: {cause}"
        why = f"not written to a shard: {cause}; run again to finish"
        for source, text in records.items():
            if text == previous.get(source):
                continue  # its sample is where the old shards hold it
            record = json.loads(text)
            if record.get("shard") in self.place.rewritten:
                continue  # in a shard uploaded before the failure: as its record says
            earlier = json.loads(previous[source]) if source in previous else None
            if (
                earlier is not None
                and earlier.get("shard") is not None
                and (self.stored_size(earlier) == earlier.get("bytes"))
            ):
                pending = earlier  # the old shards still hold its earlier sample
            elif record.get("status") != "ok":
                records[source] = _unstaged(text)
                continue  # no sample in OUT, and the record says why
            else:
                pending = Result(source=source, status="pending").record()
            pending.update(status="pending", error=why, run=record.get("run"))
            records[source] = to_json(pending)


def _unstaged(text: str) -> str:
    """A record that goes into no shard, without the staged image it may still name: a pending
    record describing a killed run's staged image describes no output at all."""
    record = json.loads(text)
    if record.pop("staged", None) is None:
        return text
    if record.get("shard") is None:
        bare = Result(source=record["source"], status=record.get("status", "failed")).record()
        record = {**bare, "error": record.get("error"), "run": record.get("run")}
    return to_json(record)


def remove_shards(place: Place, keep: set[str], named_by: Mapping[str, str] | None = None) -> int:
    """Remove shards in OUT's root outside `keep` (with `named_by`: only those its records
    name, so a tree run removes only what a shard run wrote); returns how many."""
    names = [name for name in place.shard_names() if SHARD_NAME.fullmatch(name)]
    names = [name for name in names if name not in keep]
    if names and named_by is not None:
        named = {json.loads(text).get("shard") for text in named_by.values()}
        names = [name for name in names if name in named]
    return place.remove(names) if names else 0
