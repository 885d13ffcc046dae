"""Where shards live: a local OUT (files, temporary names, renames) or an object store (whole
objects, streaming uploads). The WebDataset container (webdataset.py) decides what each shard
holds; a place answers what an earlier shard holds, reads members back and writes new shards.

On an object store there is no rename: each changed shard is one streaming upload straight to
its final name (multipart on S3, which makes the object appear only when it is complete; a
failed upload is aborted and leaves the old object as it was). So that an old shard whose
members move into later shards stays readable once its name is overwritten, it is first
downloaded to a local temporary folder, and dropped once the samples have moved past it.

What an earlier shard holds comes, on an object store, from OUT's listing and the manifest:
a shard the listing shows is trusted to hold the samples its records name (as a tree's
outputs are, by their listed size), and is left alone if its listed size is the size those
samples make. A run marks OUT (an object `.resizer-shards-unfinished`) before its first shard
upload and removes the mark after the manifest: after a run killed in between, whose manifest
no longer tells what the shards hold, every shard's headers are read instead (a full read).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from ..files import temp_name
from .staging import MARK as STAGE_MARK
from .staging import Reader, remove_staging
from .tar import ShardError, ShardWriter, read_index, read_index_from

UNFINISHED = ".resizer-shards-unfinished"
PREFETCH = 64  # staged objects fetched concurrently, at most, while a shard is written


class Sample:
    """One sample of the new shards: its member, size, and where its image bytes are now (the
    old shard holding it, or None: staged); `record` once parsed."""

    __slots__ = ("origin", "output", "record", "size", "source")

    def __init__(self, source, output, size, origin, record=None):
        self.source, self.output, self.size, self.origin = source, output, size, origin
        self.record: dict | None = record


Members = list[Sample]
JsonOf = Callable[[Sample], bytes]


def valid_staged(record: dict) -> tuple[str, int, int] | None:
    """(staging name, offset, size) of a record's staged image, if it names one properly."""
    staged, size = record.get("staged"), record.get("bytes")
    if not (isinstance(staged, list) and len(staged) == 2 and isinstance(size, int)):
        return None
    name, offset = staged
    if not isinstance(name, str) or not name.startswith(STAGE_MARK) or "/" in name:
        return None
    if not isinstance(offset, int) or offset < 0:
        return None
    return name, offset, size


def write_members(handle: BinaryIO, members: Members, json_of: JsonOf, open_data) -> None:
    writer = ShardWriter(handle)
    for sample in members:
        writer.add(sample.output, sample.size, open_data(sample))
        key = sample.output[: sample.output.rindex(".")]
        writer.add_bytes(f"{key}.json", json_of(sample))
    writer.close()


class LocalShards:
    """Shards as files in a local OUT: written to temporary names, renamed once all are."""

    remote = False
    rewritten: frozenset[str] = frozenset()  # shards are renamed into place only at the end

    def __init__(self, out: Path):
        self.out = out
        self.origins: set[str] = set()
        self.staged = False
        self._indexes: dict[str, dict[str, tuple[int, int]]] = {}

    def index(self, shard: str) -> dict[str, tuple[int, int]]:
        if shard not in self._indexes:
            try:
                self._indexes[shard] = read_index(self.out / shard)
            except (OSError, ShardError):
                self._indexes[shard] = {}  # missing or damaged: its samples are redone
        return self._indexes[shard]

    def held(self, shard: str, output: str, size: int | None) -> int | None:
        member = self.index(shard).get(output)
        return None if member is None else member[1]

    def staged_size(self, record: dict) -> int | None:
        """The record's size if its staging file still holds that many bytes at its offset."""
        staged = valid_staged(record)
        if staged is None:
            return None
        name, offset, size = staged
        try:
            held = os.stat(self.out / name).st_size
        except OSError:
            return None
        return size if offset + size <= held else None

    def write(self, name: str, members: Members, json_of: JsonOf) -> tuple[Path, Path]:
        """The shard under a temporary name; the old shards stay readable until `publish`."""
        temp = temp_name(self.out / name)
        reader = _LocalReader(self)
        try:
            with open(temp, "wb") as handle:
                write_members(handle, members, json_of, reader.open)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        finally:
            reader.close()
        return temp, self.out / name

    def publish(self, written: list) -> int:
        """Rename the written shards into place (one the same as before stays as it was)."""
        count = 0
        while written:
            temp, final = written[0]
            if _same_bytes(temp, final):
                temp.unlink()  # e.g. --force: the same samples again; the file stays as it was
            else:
                os.replace(temp, final)
                count += 1
            written.pop(0)
        return count

    def discard(self, written: list) -> None:
        for temp, _ in written:
            temp.unlink(missing_ok=True)
        self._indexes.clear()  # read again what OUT now holds

    def close(self) -> None:
        pass

    def shard_names(self) -> list[str]:
        try:
            return os.listdir(self.out)
        except OSError:
            return []

    def remove(self, names: list[str]) -> int:
        removed = 0
        for name in names:
            try:
                os.unlink(self.out / name)
            except OSError:
                continue
            removed += 1
        return removed

    def remove_staging(self) -> None:
        remove_staging(self.out)


class _LocalReader:
    """Opens a member's data: in a staging file, or in an old shard (one open at a time, as
    samples come in shard order), positioned at the member."""

    def __init__(self, place: LocalShards):
        self.place = place
        self.staged = Reader(place.out)
        self._shard: tuple[str, BinaryIO] | None = None

    def open(self, sample: Sample) -> BinaryIO:
        if sample.origin is None:
            name, offset = sample.record["staged"]
            return self.staged.at(name, offset)
        if self._shard is None or self._shard[0] != sample.origin:
            self.close_shard()
            self._shard = (sample.origin, open(self.place.out / sample.origin, "rb"))  # noqa: SIM115
        handle = self._shard[1]
        handle.seek(self.place.index(sample.origin)[sample.output][0])
        return handle

    def close_shard(self) -> None:
        if self._shard is not None:
            self._shard[1].close()
            self._shard = None

    def close(self) -> None:
        self.staged.close()
        self.close_shard()


class ObjectShards:
    """Shards as objects under an object store's OUT (see the module docstring)."""

    remote = True

    def __init__(self, url: str, options: tuple, store):
        from ..storage.fsspec import open_store

        self.url, self.options, self.listing = url, options, store
        self.store = open_store(url, options)
        # A run was killed half-way through its shard writes: read the shards, not trust them.
        self.verify = store.out_size(UNFINISHED) is not None
        self._marked = False
        self.origins: set[str] = set()  # old shards that samples of the new ones come from
        self.staged = False  # whether this run's records name staged images
        self.rewritten: set[str] = set()  # shards overwritten by this run
        self._indexes: dict[str, dict[str, tuple[int, int]]] = {}
        self._copies: dict[str, Path] = {}  # old shards downloaded before being overwritten
        self._folder: str | None = None

    def size(self, shard: str) -> int | None:
        return None if shard in self.rewritten else self.listing.out_size(shard)

    def index(self, shard: str) -> dict[str, tuple[int, int]] | None:
        """The shard's real members (read from it), or None where the listing is trusted."""
        if shard in self._indexes:
            return self._indexes[shard]
        if shard in self.rewritten:
            return {}  # overwritten, and no copy of the old one kept: it holds none of them
        if not self.verify:
            return None
        size = self.listing.out_size(shard)
        try:
            if size is None:
                raise FileNotFoundError(shard)
            with self.store.open_read(shard) as handle:
                self._indexes[shard] = read_index_from(handle, size)
        except (OSError, ShardError):
            self._indexes[shard] = {}
        return self._indexes[shard]

    def held(self, shard: str, output: str, size: int | None) -> int | None:
        index = self.index(shard)
        if index is None:  # trusted: the listing shows the shard the record names
            return size if self.listing.out_size(shard) is not None else None
        member = index.get(output)
        return None if member is None else member[1]

    def staged_size(self, record: dict) -> int | None:
        staged = valid_staged(record)
        if staged is None:
            return None
        name, offset, size = staged
        held = self.listing.out_size(name)
        return size if held is not None and offset + size <= held else None

    def write(self, name: str, members: Members, json_of: JsonOf) -> None:
        """Upload the shard to its final name, streaming its members: staged objects fetched
        a batch at a time, old shards' members from their downloaded copies."""
        needed = {s.origin for s in members if s.origin is not None}
        if name in self.origins and self.listing.out_size(name) is not None:
            needed.add(name)  # its samples may move to later shards: keep them readable
        for origin in sorted(needed):
            self._keep_copy(origin)
        if not self._marked:
            self.store.write(UNFINISHED, b"shards are being written; see the manifest\n")
            self._marked = True
        reader = _ObjectReader(self, members)
        try:
            with self.store.open_write(name) as handle:
                write_members(handle, members, json_of, reader.open)
        finally:
            reader.close()
        self.rewritten.add(name)
        if members:
            self._drop_copies_before(max((s.origin or "") for s in members))

    def publish(self, written: list) -> int:
        return 0  # uploaded as they were written

    def discard(self, written: list) -> None:
        self.close()

    def shard_names(self) -> list[str]:
        return self.listing.out_names("shard-")

    def remove(self, names: list[str]) -> int:
        try:
            self.store.remove_many(names)
        except OSError:
            return 0
        return len(names)

    def remove_staging(self) -> None:
        """Every staging object, if this run or a killed one staged any (one listing then)."""
        if self.staged or self.listing.out_names(STAGE_MARK):
            remove_staging(self.url, self.options)
        if self._marked or self.verify:  # the manifest now tells what the shards hold
            with suppress(OSError):
                self.store.remove(UNFINISHED)

    def copy_of(self, shard: str) -> tuple[Path, dict[str, tuple[int, int]]]:
        if shard not in self._copies:
            if shard in self.rewritten:
                raise OSError(f"{shard} was overwritten before its samples were copied")
            self._keep_copy(shard)
        return self._copies[shard], self._indexes[shard]

    def _keep_copy(self, shard: str) -> None:
        if shard in self._copies or shard in self.rewritten:
            return
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="resizer-shards-")
        local = Path(self._folder) / shard
        self.store.download(shard, str(local))
        try:
            self._indexes[shard] = read_index(local)
        except ShardError:
            self._indexes[shard] = {}
        self._copies[shard] = local

    def _drop_copies_before(self, origin: str) -> None:
        """Samples come in source order, so from old shards in name order: once one comes from
        `origin`, no later one comes from an earlier shard."""
        for shard in [name for name in self._copies if name < origin]:
            self._copies.pop(shard).unlink(missing_ok=True)
            self._indexes.pop(shard, None)

    def close(self) -> None:
        for shard in self._copies:
            self._indexes.pop(shard, None)
        self._copies.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


class _ObjectReader:
    """A member's data: a staged object (fetched concurrently, PREFETCH at a time, in the
    order the shard takes them) or a downloaded old shard, positioned at the member."""

    def __init__(self, place: ObjectShards, members: Members):
        self.place = place
        self.pending = [s.record["staged"][0] for s in members if s.origin is None]
        self.fetched: dict[str, bytes] = {}
        self.handles: dict[str, BinaryIO] = {}

    def open(self, sample: Sample) -> BinaryIO:
        if sample.origin is None:
            name = sample.record["staged"][0]
            if name not in self.fetched:
                batch, self.pending = self.pending[:PREFETCH], self.pending[PREFETCH:]
                self.fetched = self.place.store.read_many(sorted(set(batch) | {name}))
            data = self.fetched[name]
            if len(data) != sample.size:
                raise OSError(f"{name}: {len(data)} bytes staged, {sample.size} expected")
            return io.BytesIO(data)
        local, index = self.place.copy_of(sample.origin)
        member = index.get(sample.output)
        if member is None or member[1] != sample.size:
            raise OSError(f"{sample.origin} no longer holds {sample.output}")
        handle = self.handles.get(sample.origin)
        if handle is None:
            handle = self.handles[sample.origin] = open(local, "rb")  # noqa: SIM115
        handle.seek(member[0])
        return handle

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()


Place = LocalShards | ObjectShards


def place_for(settings, store) -> Place:
    """Where the shards of OUT live, for a run's settings (and, on an object store, the run's
    store holding OUT's listing)."""
    from ..storage import is_url

    if is_url(settings.out):
        return ObjectShards(settings.out, settings.storage_options, store)
    return LocalShards(settings.out)


def _same_bytes(first: Path, second: Path) -> bool:
    import filecmp

    try:
        return filecmp.cmp(first, second, shallow=False)
    except OSError:
        return False
