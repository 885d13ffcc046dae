"""The container options, the file tree as a container, and moving OUT from one to the other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import read_records
from PIL import Image

import resizer
from resizer.containers import for_settings, parse_shard_size
from resizer.geometry import Sizing
from resizer.settings import Settings, ShardSize


def test_shard_sizes_are_samples_or_bytes():
    assert parse_shard_size("1000") == ShardSize(1000, "samples")
    assert parse_shard_size(250) == ShardSize(250, "samples")
    assert parse_shard_size("500MB") == ShardSize(500_000_000, "bytes")
    assert parse_shard_size("1.5 gb") == ShardSize(1_500_000_000, "bytes")
    assert parse_shard_size("256MiB") == ShardSize(256 * 2**20, "bytes")
    assert parse_shard_size("64kB") == ShardSize(64_000, "bytes")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0", "at least 1"),
        ("1.5", "whole number"),
        ("12XB", "unknown unit 'XB'"),
        ("lots", "is not a shard size"),
        ("0.1B", "at least 1 byte"),
    ],
)
def test_bad_shard_sizes_are_usage_errors_that_say_why(value, words, tmp_path, run_cli):
    with pytest.raises(ValueError, match=words):
        parse_shard_size(value)
    args = ["resize", tmp_path, "-o", tmp_path / "out", "--size", "32", "--shard-size", value]
    result = run_cli(*args)
    assert result.exit_code == 2
    assert "--shard-size" in result.stderr and words in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_unknown_container_is_a_usage_error(tmp_path, run_cli):
    result = run_cli(
        "resize", tmp_path, "-o", tmp_path / "out", "--size", "32", "--container", "zip"
    )
    assert result.exit_code == 2
    assert "--container 'zip' is not one of files, webdataset" in result.stderr


def test_the_python_api_takes_both_options(photo_tree, tmp_path):
    result = resizer.resize(
        photo_tree, tmp_path / "out", size=32, container="webdataset", shard_size=2, jobs=1
    )
    assert result.exit_code == 0
    assert result.settings.shard_size == ShardSize(2)
    assert [p.name for p in sorted((tmp_path / "out").glob("*.tar"))] == [
        "shard-000000.tar", "shard-000001.tar"
    ]  # fmt: skip
    assert {r["shard"] for r in result.records} == {"shard-000000.tar", "shard-000001.tar"}
    with pytest.raises(ValueError, match="--shard-size 'big'"):
        resizer.resize(
            photo_tree, tmp_path / "o2", size=32, container="webdataset", shard_size="big"
        )
    assert not (tmp_path / "o2").exists()


def test_shards_need_an_output_folder_not_a_file(tmp_path, run_cli):
    image = tmp_path / "a.png"
    Image.new("RGB", (40, 30)).save(image)
    result = run_cli("resize", image, "-o", tmp_path / "small.jpg", "--size", "32",
                     "--container", "webdataset")  # fmt: skip
    assert result.exit_code == 2
    assert "needs an output folder" in result.stderr
    assert not (tmp_path / "small.jpg").exists()


def settings(out: Path, **options) -> Settings:
    return Settings(sources=(Path("src"),), out=out, sizing=Sizing("size", width=8), **options)


def test_the_tree_does_not_take_a_sample_in_a_shard_for_its_file(tmp_path):
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "a.jpg").write_bytes(b"12345")
    tree = for_settings(settings(tmp_path))
    record = {"source": "cats/a.jpg", "output": "cats/a.jpg", "bytes": 5}
    assert tree.stored_size(record) == 5
    assert tree.stored_size({**record, "shard": "shard-000000.tar", "key": "cats/a"}) is None
    assert tree.stored_size({**record, "output": "cats"}) is None  # a folder is no output


def test_fingerprint_ignores_the_container(tmp_path):
    """The image bytes are the same in a tree and in shards."""
    shards = settings(tmp_path, container="webdataset", shard_size=ShardSize(10, "bytes"))
    assert shards.fingerprint == settings(tmp_path).fingerprint
    assert shards.as_record()["shard_size"] == {"limit": 10, "unit": "bytes"}


def test_switching_containers_leaves_only_the_current_layout(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    files = ["resize", str(photo_tree), "-o", str(out), "--size", "32x32", "--jobs", "1"]
    run_cli(*files)
    assert (out / "cats" / "a.jpg").is_file()
    result = run_cli(*files, "--container", "webdataset", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"]["removed_outputs"] == 3
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.jsonl", "manifest.run.json", "shard-000000.tar"
    ]  # fmt: skip
    assert {r["shard"] for r in read_records(out / "manifest.jsonl")} == {"shard-000000.tar"}
    result = run_cli(*files, "--json")
    summary = json.loads(result.stdout)["summary"]
    assert (summary["ok"], summary["shards"], summary["shards_removed"]) == (3, None, 1)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "cats/a.jpg", "cats/b.png", "dogs/c.jpg", "manifest.jsonl", "manifest.run.json"
    ]  # fmt: skip
    assert {r["shard"] for r in read_records(out / "manifest.jsonl")} == {None}


def test_a_tree_run_keeps_shard_named_files_it_did_not_write(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    out.mkdir()
    (out / "shard-000000.tar").write_bytes(b"the user's own")
    run_cli("resize", photo_tree, "-o", out, "--size", "32x32", "--jobs", "1")
    assert (out / "shard-000000.tar").read_bytes() == b"the user's own"


def test_masks_are_refused_with_shards(photo_tree, tmp_path, run_cli):
    (tmp_path / "masks").mkdir()
    args = ["resize", photo_tree, "-o", tmp_path / "out", "--size", "32", "--masks"]
    result = run_cli(*args, tmp_path / "masks", "--container", "webdataset")
    assert result.exit_code == 2
    assert "--masks writes mask files; use it with --container files" in result.stderr
    assert not (tmp_path / "out").exists()
