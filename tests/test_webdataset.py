"""--container webdataset: shards a WebDataset reader takes, stable keys, re-runs that rewrite only
what changed, byte-identical shards whatever --jobs, and no trace of the work left in OUT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from urllib.parse import unquote

import pytest
import webdataset as wds
from conftest import SAMPLE_IMAGES, read_records, save_photo
from shard_samples import (
    check_samples,
    identities,
    read_shards,
    save_noise,
    shards,
    wds_args,
)

from resizer.containers.webdataset import sample_key


def test_shards_read_back_with_webdataset_and_tarfile(photo_tree, tmp_path, run_cli):
    save_photo(photo_tree / "birds" / "d.webp", 70, 50, seed=4)
    save_photo(photo_tree / "e.tif", 40, 60, seed=5)  # no class folder
    out = tmp_path / "out"
    result = run_cli(*wds_args(photo_tree, out, "--jobs", "1", "--shard-size", "2", "--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert (summary["ok"], summary["shards"], summary["shards_written"]) == (5, 3, 3)
    assert "3 shards: 3 written" in result.stderr
    ok = check_samples(out)
    assert set(ok) == {"birds/d", "cats/a", "cats/b", "dogs/c", "e"}
    assert [p.name for p in shards(out)] == [f"shard-00000{n}.tar" for n in range(3)]
    # OUT holds the dataset and its manifest, nothing else (no staging, lock or journal).
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.jsonl", "manifest.run.json", *(p.name for p in shards(out))
    ]  # fmt: skip

    dataset = wds.WebDataset([str(p) for p in shards(out)], shardshuffle=False).decode("pil")
    seen = {}
    for sample in dataset:
        [image] = [sample[k] for k in ("jpg", "png", "webp", "tif") if k in sample]
        seen[sample["__key__"]] = (image.size, sample["json"]["class"], sample["json"]["source"])
    assert seen == {
        "birds/d": ((32, 23), "birds", "birds/d.webp"),
        "cats/a": ((32, 21), "cats", "cats/a.jpg"),
        "cats/b": ((24, 32), "cats", "cats/b.png"),
        "dogs/c": ((32, 32), "dogs", "dogs/c.jpg"),
        "e": ((21, 32), None, "e.tif"),
    }
    record = ok["cats/a"]
    assert (record["output"], record["shard"]) == ("cats/a.jpg", "shard-000000.tar")


def test_sample_json_is_the_record_without_the_runs_bookkeeping(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    run_cli(*wds_args(photo_tree, out, "--jobs", "1"))
    [record] = [r for r in read_records(out / "manifest.jsonl") if r["source"] == "cats/a.jpg"]
    [members] = [m for key, m in read_shards(out) if key == "cats/a"]
    document = json.loads(members["json"])
    assert list(document)[:3] == ["key", "source", "class"]
    assert document["class"] == "cats"
    for name in ("width", "height", "format", "bytes", "sha256", "resize", "crop_box",
                 "src_width", "src_height", "orientation", "fingerprint"):  # fmt: skip
        assert document[name] == record[name]
    for name in ("status", "error", "run", "seconds", "src_mtime_ns", "shard", "output"):
        assert name not in document


NAMES = {
    "cats/img.v2.final.jpg": "cats/img%2Ev2%2Efinal",
    "cats/with space.png": "cats/with space",
    "dogs/ünïcødé ✓.jpg": "dogs/ünïcødé ✓",
    "dogs/100%.jpg": "dogs/100%25",
    "dogs/back\\slash.jpg": "dogs/back%5Cslash",
    "dots.in.folder/x.jpg": "dots%2Ein%2Efolder/x",
    "top.level.jpg": "top%2Elevel",
}


def test_keys_survive_dots_spaces_unicode_and_escape_characters(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    for seed, name in enumerate(NAMES):
        save_photo(src / name, 40, 30, seed=seed)
    # A name that is not UTF-8: its byte is escaped like any other troublesome character.
    save_photo(Path(os.fsdecode(bytes(src) + b"/caf\xe9.jpg")), 40, 30)
    result = run_cli(*wds_args(src, out, "--jobs", "1", "--shard-size", "3"))
    assert result.exit_code == 0, result.output
    ok = check_samples(out)
    assert ok.pop("caf%E9")["source"] == "caf\udce9.jpg"
    assert unquote("caf%E9", errors="surrogateescape") == "caf\udce9"
    assert {r["source"]: key for key, r in ok.items()} == NAMES
    for source, key in NAMES.items():
        assert sample_key(source) == key
        assert unquote(key) == source.rsplit(".", 1)[0]  # the documented way back
    dataset = wds.WebDataset([str(p) for p in shards(out)], shardshuffle=False)
    fields = {
        sample["__key__"]: {k for k in sample if not k.startswith("__")} for sample in dataset
    }
    assert sorted(fields) == sorted([*NAMES.values(), "caf%E9"])
    assert fields["cats/with space"] == {"png", "json"}
    assert fields["cats/img%2Ev2%2Efinal"] == {"jpg", "json"}


def test_sources_sharing_a_key_are_a_usage_error_unless_extensions_are_kept(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    save_photo(src / "cats" / "a.jpg", 40, 30)
    save_photo(src / "cats" / "a.png", 40, 30)
    result = run_cli(*wds_args(src, out))
    assert result.exit_code == 2
    assert "1 sample key would be written by more than one input:" in result.stderr
    assert "'cats/a' from " in result.stderr and "--keep-extension" in result.stderr
    assert not out.exists()
    result = run_cli(*wds_args(src, out, "--keep-extension", "--jobs", "1"))
    assert result.exit_code == 0, result.output
    assert set(check_samples(out)) == {"cats/a%2Ejpg", "cats/a%2Epng"}


def test_shards_are_byte_identical_whatever_jobs_is(photo_tree, tmp_path, run_cli):
    for index in range(6):
        save_photo(photo_tree / "more" / f"m{index}.jpg", 50 + index, 40, seed=10 + index)
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        assert (
            run_cli(*wds_args(photo_tree, out, "--jobs", jobs, "--shard-size", "4")).exit_code == 0
        )
        outs.append({p.name: p.read_bytes() for p in shards(out)})
    assert len(outs[0]) == 3
    assert outs[0] == outs[1]


def test_a_rerun_rewrites_nothing(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    run_cli(*wds_args(photo_tree, out, "--jobs", "1", "--shard-size", "2"))
    before = identities(out)
    manifest = (out / "manifest.jsonl").read_bytes()
    result = run_cli(*wds_args(photo_tree, out, "--jobs", "1", "--shard-size", "2", "--json"))
    summary = json.loads(result.stdout)["summary"]
    assert (summary["ok"], summary["skipped"], summary["shards_written"]) == (0, 3, 0)
    assert identities(out) == before
    assert (out / "manifest.jsonl").read_bytes() == manifest
    # --force encodes every image again; shards whose bytes come out the same stay as they were.
    result = run_cli(*wds_args(photo_tree, out, "--jobs", "1", "--shard-size", "2", "--force"))
    assert result.exit_code == 0
    assert identities(out) == before


def test_a_changed_source_rewrites_only_its_shard(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    for index in range(6):
        save_photo(src / "c" / f"{index}.jpg", 40, 30, seed=index)
    run_cli(*wds_args(src, out, "--jobs", "1", "--shard-size", "2"))
    before = identities(out)
    save_photo(src / "c" / "3.jpg", 40, 30, seed=99)
    result = run_cli(*wds_args(src, out, "--jobs", "1", "--shard-size", "2", "--json"))
    summary = json.loads(result.stdout)["summary"]
    assert (summary["ok"], summary["skipped"], summary["shards_written"]) == (1, 5, 1)
    after = identities(out)
    assert after["shard-000000.tar"] == before["shard-000000.tar"]
    assert after["shard-000002.tar"] == before["shard-000002.tar"]
    assert after["shard-000001.tar"] != before["shard-000001.tar"]
    check_samples(out)


def test_added_and_removed_sources_move_later_samples_without_encoding_them(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    for index in range(1, 7):
        save_photo(src / f"{index}.jpg", 40, 30, seed=index)
    run_cli(*wds_args(src, out, "--jobs", "1", "--shard-size", "2"))
    before = identities(out)
    save_photo(src / "3a.jpg", 40, 30, seed=33)  # sorts into the second shard
    result = run_cli(*wds_args(src, out, "--jobs", "1", "--shard-size", "2", "--json"))
    summary = json.loads(result.stdout)["summary"]
    assert (summary["ok"], summary["skipped"], summary["shards"]) == (1, 6, 4)
    after = identities(out)
    assert after["shard-000000.tar"] == before["shard-000000.tar"]
    assert summary["shards_written"] == 3
    ok = check_samples(out)
    assert [ok[k]["shard"] for k in ("3", "3a", "4", "6")] == [
        "shard-000001.tar", "shard-000001.tar", "shard-000002.tar", "shard-000003.tar"
    ]  # fmt: skip

    (src / "3a.jpg").unlink()
    (src / "1.jpg").unlink()
    result = run_cli(*wds_args(src, out, "--jobs", "1", "--shard-size", "2", "--json"))
    summary = json.loads(result.stdout)["summary"]
    assert (summary["ok"], summary["shards"], summary["shards_removed"]) == (0, 3, 1)
    assert [p.name for p in shards(out)] == [f"shard-00000{n}.tar" for n in range(3)]
    assert set(check_samples(out)) == {"2", "3", "4", "5", "6"}


def test_failed_images_are_recorded_and_absent_from_the_shards(photo_tree, tmp_path, run_cli):
    (photo_tree / "cats" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = tmp_path / "out"
    result = run_cli(*wds_args(photo_tree, out, "--jobs", "1"))
    assert result.exit_code == 1
    [failed] = [r for r in read_records(out / "manifest.jsonl") if r["status"] == "failed"]
    assert failed["source"] == "cats/broken.jpg" and failed["error"]
    assert (failed["output"], failed["shard"], failed["key"]) == (None, None, None)
    assert set(check_samples(out)) == {"cats/a", "cats/b", "dogs/c"}


def test_byte_sized_shards_stay_under_the_limit(tmp_path, run_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for index in range(8):
        save_noise(src / f"{index}.png", seed=index, side=48)  # 7 kB each as PNG
    big = src / "z_big.png"
    save_noise(big, seed=9, side=120)  # 43 kB: over the limit on its own
    args = ("--size", "120x120", "--no-upscale", "--shard-size", "40kB")
    result = run_cli(*wds_args(src, out, "--jobs", "1", *args))
    assert result.exit_code == 0, result.output
    check_samples(out)
    counts = []
    for path in shards(out):
        with tarfile.open(path) as archive:
            counts.append(len(archive.getnames()) // 2)
        assert path.stat().st_size <= 40_000 or counts[-1] == 1
    assert counts[-1] == 1 and shards(out)[-1].stat().st_size > 40_000  # the big one, alone
    assert counts[:-1] == [3, 3, 2]  # 4 samples would take a shard to 40,960 bytes


def test_csv_manifest_keeps_shard_and_key_for_reruns(photo_tree, tmp_path, run_cli):
    out = tmp_path / "out"
    args = wds_args(photo_tree, out, "--jobs", "1", "--manifest", str(tmp_path / "m.csv"))
    run_cli(*args)
    before = identities(out)
    result = run_cli(*args)
    assert "0 ok, 3 skipped" in result.stderr
    assert identities(out) == before


def test_the_readme_example_runs_and_prints_what_it_says(tmp_path):
    """The README's WebDataset section: its command's output, then its Python, as shown."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## WebDataset shards\n", 1)[1]
    console = section.split("```console\n", 1)[1].split("```", 1)[0]
    command = console.splitlines()[0].removeprefix("$ resizer ").split()
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    expected = [line.split("  # ", 1)[1] for line in example.splitlines() if "print(" in line]
    (tmp_path / "sample_images").symlink_to(SAMPLE_IMAGES)
    run = subprocess.run([sys.executable, "-m", "resizer", *command], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[1] == console.splitlines()[2]  # "resizer: 2 shards: ..."
    listed = sorted(p.name for p in (tmp_path / "shards").iterdir())
    assert " ".join(listed) == " ".join(console.splitlines()[4].split())
    completed = subprocess.run([sys.executable, "-"], input=example, cwd=tmp_path,
                               capture_output=True, text=True, timeout=300)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == expected


def test_dask_workers_stage_into_the_same_shards(photo_tree, tmp_path, run_cli):
    """Workers of a Dask cluster append to staging files in OUT like local ones."""
    pytest.importorskip("distributed", reason="the Dask engine needs resizer[dask]")
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert run_cli(*wds_args(photo_tree, local, "--jobs", "1", "--shard-size", "2")).exit_code == 0
    result = run_cli(*wds_args(photo_tree, dask, "--engine", "dask", "--jobs", "2",
                               "--shard-size", "2"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {p.name: p.read_bytes() for p in shards(dask)} == {
        p.name: p.read_bytes() for p in shards(local)
    }
    assert len(check_samples(dask)) == 3
