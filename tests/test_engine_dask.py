"""The Dask engine against real clusters on 127.0.0.1: same outputs as local processes, failure
isolation, and every reason a cluster cannot be used found before anything is written."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import read_records, save_photo
from test_run import _poisoned_tree, file_digests, resize_args, resizer_process

import resizer
from resizer.run import code_digest

distributed = pytest.importorskip("distributed", reason="the Dask engine needs resizer[dask]")

HERE = Path(__file__).resolve().parent


@contextlib.contextmanager
def local_cluster(threads: int = 1, pythonpath: Path | None = None) -> Iterator[str]:
    """A real LocalCluster on loopback only; its workers inherit PYTHONPATH at start."""
    saved = os.environ.get("PYTHONPATH")
    if pythonpath is not None:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(pythonpath), saved) if p)
    try:
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=threads,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        )
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with local_cluster() as address:
        yield address


def test_dask_and_local_processes_write_the_same_bytes_and_manifest(
    photo_tree, tmp_path, scheduler
):
    local = resizer_process(*resize_args(photo_tree, tmp_path / "local", "--jobs", "2"))
    assert local.wait(120) == 0, local.stderr.read()
    on_dask = resizer_process(
        *resize_args(photo_tree, tmp_path / "dask", "--scheduler", scheduler, "--json")
    )
    stdout, stderr = on_dask.communicate(timeout=120)
    assert on_dask.returncode == 0, stderr
    assert file_digests(tmp_path / "local") == file_digests(tmp_path / "dask")

    def comparable(folder):
        return [{**r, "seconds": 0, "run": 0} for r in read_records(folder / "manifest.jsonl")]

    assert comparable(tmp_path / "local") == comparable(tmp_path / "dask")
    engine = json.loads(stdout)["engine"]
    assert engine["engine"] == "dask" and engine["scheduler"] == scheduler
    assert len(engine["workers"]) == 2
    assert all(w["nthreads"] == 1 and w["versions"]["pillow"] for w in engine["workers"].values())


def test_dask_scheduler_address_in_the_environment_alone_does_not_switch_engines(
    photo_tree, tmp_path
):
    out = tmp_path / "out"
    again = resizer_process(
        *resize_args(photo_tree, out, "--json", "--jobs", "2", "--force"),
        env_extra={"DASK_SCHEDULER_ADDRESS": "tcp://127.0.0.1:9"},
    )
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    document = json.loads(stdout)
    assert document["summary"]["ok"] == 3
    assert document["engine"] == {"engine": "local", "workers": 2}


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("SEGV", "crashed (SIGSEGV)"),
        ("KILL", "killed (SIGKILL; out of memory?)"),
        ("HANG", "timed out after 2 s"),
    ],
)
def test_a_decoder_that_kills_or_hangs_a_dask_worker_fails_only_its_image(
    tmp_path, action, message
):
    src, out = tmp_path / "src", tmp_path / "out"
    _poisoned_tree(src, good=6, **{action: 1})
    # --engine dask without an address: resizer's own LocalCluster, whose workers inherit
    # the poison format from this process's environment.
    process = resizer_process(
        *resize_args(src, out, "--engine", "dask", "--jobs", "2", "--timeout", "2")
    )
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr
    records = {r["source"]: r for r in read_records(out / "manifest.jsonl")}
    poisoned = records[f"{action.lower()}00.png"]
    assert poisoned["status"] == "failed"
    assert message in poisoned["error"]
    assert [r["status"] for name, r in records.items() if name.startswith("good")] == ["ok"] * 6


def test_its_own_cluster_says_nothing_when_the_dashboard_port_is_taken(photo_tree, tmp_path):
    """Two runs at once (or any program on 8787) must not put Dask's port warning on stderr."""
    with contextlib.ExitStack() as stack:
        holder = stack.enter_context(socket.socket())
        try:
            holder.bind(("127.0.0.1", 8787))
            holder.listen()
        except OSError:
            pass  # taken already: the case under test either way
        process = resizer_process(*resize_args(photo_tree, tmp_path / "out", "--engine", "dask"))
        _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert stderr.startswith("resizer: ") and stderr.count("\n") == 1, stderr


def test_an_unreachable_scheduler_is_a_usage_error_and_nothing_is_written(photo_tree, tmp_path):
    out = tmp_path / "out"
    process = resizer_process(*resize_args(photo_tree, out, "--scheduler", "tcp://127.0.0.1:9"))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in stderr
    assert not out.exists()


def test_workers_with_several_threads_are_refused(photo_tree, tmp_path):
    out = tmp_path / "out"
    with local_cluster(threads=2) as address:
        process = resizer_process(*resize_args(photo_tree, out, "--scheduler", address))
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert "run more than one thread" in stderr and "--nthreads 1" in stderr
    assert not out.exists()


def test_workers_with_another_pillow_are_refused(photo_tree, tmp_path):
    out = tmp_path / "out"
    with local_cluster(pythonpath=HERE / "old_pillow") as address:
        process = resizer_process(*resize_args(photo_tree, out, "--scheduler", address))
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert "has other versions than this machine: pillow 9.0.0" in stderr
    assert not out.exists()


def test_workers_with_another_build_of_resizer_are_refused(photo_tree, tmp_path):
    """Same version string, other code (an editable install changed on one machine)."""
    other = tmp_path / "other-build"
    shutil.copytree(
        Path(resizer.__file__).parent, other / "resizer", ignore=shutil.ignore_patterns("*.pyc")
    )
    with open(other / "resizer" / "geometry.py", "a", encoding="utf-8") as handle:
        handle.write("\n# a local change on one machine\n")
    # A LocalCluster's workers are spawned with this process's sys.path; importing at start-up
    # makes them hold the other build, as a worker installed elsewhere would.
    (other / "sitecustomize.py").write_text("import resizer\n", encoding="utf-8")
    out = tmp_path / "out"
    with local_cluster(pythonpath=other) as address:
        process = resizer_process(*resize_args(photo_tree, out, "--scheduler", address))
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert "has other versions than this machine: resizer_code " in stderr
    assert f"(here {code_digest()})" in stderr
    assert not out.exists()


def test_the_run_record_names_this_build_of_resizer(photo_tree, tmp_path, scheduler):
    process = resizer_process(*resize_args(photo_tree, tmp_path / "out", "--scheduler", scheduler))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    run = json.loads((tmp_path / "out" / "manifest.run.json").read_text(encoding="utf-8"))
    assert run["versions"]["resizer_code"] == code_digest()
    assert run["versions"]["resizer"] == resizer.__version__
    for worker in run["engine"]["workers"].values():
        assert worker["versions"]["resizer_code"] == code_digest()


def test_relative_paths_reach_workers_that_run_in_another_folder(tmp_path, scheduler):
    """The cluster's workers run where they were started, not where resizer is called."""
    (tmp_path / "here").mkdir()
    save_photo(tmp_path / "here" / "src" / "cat" / "a.jpg", 60, 40)
    save_photo(tmp_path / "here" / "src" / "dog" / "b.png", 40, 60, seed=1)
    args = ["resize", "src", "-o", "out", "--size", "32x32", "--scheduler", scheduler]
    process = resizer_process(*args, cwd=tmp_path / "here")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    records = read_records(tmp_path / "here" / "out" / "manifest.jsonl")
    assert [r["status"] for r in records] == ["ok", "ok"]
    again = resizer_process(*args, "--json", cwd=tmp_path / "here")
    stdout, stderr = again.communicate(timeout=120)
    assert json.loads(stdout)["summary"]["skipped"] == 2, stderr  # same fingerprint as here
