"""Helpers for the WebDataset tests: run arguments, and shards read back with plain `tarfile`
and checked against the manifest."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
from conftest import read_records
from PIL import Image


def wds_args(src: Path, out: Path, *extra: str) -> list[str]:
    return ["resize", str(src), "-o", str(out), "--size", "32x32", "--container", "webdataset",
            *extra]  # fmt: skip


def shards(out: Path) -> list[Path]:
    return sorted(out.glob("shard-*.tar"))


def read_shards(out: Path) -> list[tuple[str, dict[str, bytes]]]:
    """Every sample as plain `tarfile` sees it: (key, {extension: bytes}), in archive order,
    split at the first dot of the base name as WebDataset does."""
    samples: list[tuple[str, dict[str, bytes]]] = []
    for path in shards(out):
        with tarfile.open(path) as archive:
            for member in archive:
                assert member.isfile()
                folder, _, base = member.name.rpartition("/")
                stem, _, extension = base.partition(".")
                key = f"{folder}/{stem}" if folder else stem
                if not samples or samples[-1][0] != key:
                    samples.append((key, {}))
                samples[-1][1][extension] = archive.extractfile(member).read()
    return samples


def check_samples(out: Path) -> dict[str, dict]:
    """Every sample whole and as its manifest record says, and every record with a shard in
    it; returns those records (ok, or pending with an earlier sample) by key."""
    records = read_records(out / "manifest.jsonl")
    assert not any("staged" in record for record in records)  # the run's own bookkeeping
    ok = {r["key"]: r for r in records if r["shard"] is not None}
    assert all(r["status"] in ("ok", "pending") for r in ok.values())
    assert all(r["shard"] is None for r in records if r["status"] == "ok" and r["key"] not in ok)
    samples = read_shards(out)
    assert [key for key, _ in samples] == sorted(ok, key=lambda k: ok[k]["source"])
    for key, members in samples:
        record = ok[key]
        [image_extension] = set(members) - {"json"}
        data = members[image_extension]
        assert hashlib.sha256(data).hexdigest() == record["sha256"]
        assert len(data) == record["bytes"]
        assert f"{key}.{image_extension}" == record["output"]
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.size == (record["width"], record["height"])
        document = json.loads(members["json"])
        assert document["key"] == key and document["source"] == record["source"]
        assert document["sha256"] == record["sha256"]
    by_shard: dict[str, list[str]] = {}
    for record in ok.values():
        by_shard.setdefault(record["shard"], []).append(record["key"])
    for path in shards(out):
        with tarfile.open(path) as archive:
            keys = {name.rsplit(".", 1)[0] for name in archive.getnames()}
        assert keys == set(by_shard[path.name])
    return ok


def save_noise(path: Path, seed: int, side: int = 64) -> None:
    """An image no encoder can shrink: its PNG is about 3 bytes a pixel."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def identities(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in shards(out)}
