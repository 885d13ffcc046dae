"""The store: per-image state on disk, read back in the orders the run needs; and the parent's
memory, which must not grow with the number of images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import save_photo
from hypothesis import given
from hypothesis import strategies as st

from resizer.manifest import to_json
from resizer.options import make_settings
from resizer.records import Job, Result
from resizer.store import Store, key

ODD_NAMES = [
    "a.jpg",
    "a/b.jpg",  # "/" sorts between "." and "0"
    "a0.jpg",
    "A.jpg",
    "a b.jpg",
    "new\nline.jpg",
    "caf\u00e9.jpg",  # NFC
    "cafe\u0301.jpg",  # NFD
    os.fsdecode(b"caf\xe9.jpg"),  # an undecodable byte: the lone surrogate U+DCE9
    os.fsdecode(b"\xff\xfe.jpg"),
    "\ud7ff.jpg",  # just below the surrogates
    "\ue000.jpg",  # just above them
    "\uffff.jpg",
    "\U0001f600.jpg",  # beyond the BMP: a surrogate pair in UTF-16, not here
    "\x7f.jpg",
    "\x80.jpg",
]


def record_text(name: str, **fields) -> str:
    return to_json(Result(source=name, output=name, status="ok", **fields).record())


def test_names_are_stored_in_the_order_sorted_gives_str():
    assert sorted(ODD_NAMES, key=key) == sorted(ODD_NAMES)


@given(st.lists(st.text(st.characters(blacklist_categories=())), max_size=30))
def test_the_stored_order_is_sorted_order_for_any_names(names):
    """Lone surrogates included: hypothesis' characters with no category left out."""
    assert sorted(names, key=key) == sorted(names)


def test_the_manifest_streams_out_in_sorted_order_whatever_the_order_of_arrival():
    store = Store()
    for name in reversed(ODD_NAMES):
        store.add_record(name, name, record_text(name))
    assert [json.loads(text)["source"] for text in store.manifest_texts()] == sorted(ODD_NAMES)


def test_up_to_date_records_come_out_as_the_earlier_text_byte_for_byte():
    store = Store()
    earlier = {name: record_text(name, bytes=len(name)) for name in ODD_NAMES}
    store.add_previous(earlier.items())
    rows = [(index, name, name, None) for index, name in enumerate(ODD_NAMES)]
    store.add_up_to_date(rows[:-1])
    assert list(store.up_to_date()) == ODD_NAMES[:-1]  # in the order found
    assert list(store.manifest_texts()) == [earlier[name] for name in sorted(ODD_NAMES[:-1])]


def test_a_journal_record_replaces_the_manifest_record_of_its_source():
    store = Store()
    store.add_previous([("a", "manifest a"), ("b", "manifest b")])
    store.add_previous([("b", "journal b")])
    assert store.previous_texts(["a", "b", "c"]) == {"a": "manifest a", "b": "journal b"}
    assert Store().previous_texts(["a"]) == {}


def test_claims_name_the_first_claimant_in_order():
    store = Store()
    assert store.claim("outputs", [("x.png", "src/x.bmp"), ("y.png", "src/y.png")]) == [None, None]
    answers = store.claim("outputs", [("x.png", "src/x.gif"), ("z.png", "z"), ("z.png", "z2")])
    assert answers == ["src/x.bmp", None, "z"]
    assert list(store.outputs()) == [("x.png", "src/x.bmp"), ("y.png", "src/y.png"), ("z.png", "z")]
    assert store.first_output_under("src/") is None
    store.claim("outputs", [("src/late.png", "late"), ("src/later.png", "later")])
    assert store.first_output_under("src/") == "src/late.png"


def test_clashes_are_counted_and_listed_in_the_order_found():
    store = Store()
    store.claim("outputs", [("b.png", "b.bmp"), ("a.png", "a.bmp")])
    for output, path in [("b.png", "b.gif"), ("a.png", "a.gif"), ("b.png", "b.tif")]:
        store.add_clash(output, path)
    assert store.clashes(10) == (
        2,
        [("b.png", ["b.bmp", "b.gif", "b.tif"]), ("a.png", ["a.bmp", "a.gif"])],
    )
    assert store.clashes(1) == (2, [("b.png", ["b.bmp", "b.gif", "b.tif"])])


def test_jobs_come_back_in_the_order_found_across_batches(monkeypatch):
    monkeypatch.setattr("resizer.store.BATCH", 3)
    store = Store()
    jobs = [Job(f"/src/{name}", name, name + ".png", "png") for name in reversed(ODD_NAMES)]
    store.add_jobs(jobs[:5])
    store.add_jobs(jobs[5:])
    assert list(store.jobs()) == jobs


def test_unfinished_jobs_are_those_without_a_record_with_their_earlier_record():
    store = Store()
    jobs = [Job(f"/src/{name}", name, name, "jpeg") for name in ("a", "b", "c")]
    store.add_jobs(jobs)
    store.add_previous([("c", "earlier c")])
    store.add_record("a", "a", "done a")
    assert list(store.unfinished()) == [(jobs[1], None), (jobs[2], "earlier c")]


def test_stale_outputs_compare_only_records_that_changed():
    store = Store()
    kept = json.dumps({"source": "a", "output": "a.png"})
    store.add_previous(
        [
            ("a", kept),
            ("b", json.dumps({"source": "b", "output": "b.png"})),
            ("c", json.dumps({"source": "c", "output": "c.png"})),
            ("d", json.dumps({"source": "d", "output": None})),
        ]
    )
    store.add_up_to_date([(1, "a", "a.png", None)])  # kept as the earlier text
    store.add_record("b", "b.webp", json.dumps({"source": "b", "output": "b.webp"}))
    store.add_record("x", "c.png", json.dumps({"source": "x", "output": "c.png"}))  # took c.png
    assert list(store.stale_outputs()) == [("b.png", {"source": "b", "output": "b.png"})]


def test_nothing_is_stale_when_every_record_is_the_earlier_one():
    store = Store()
    store.add_previous([("a", '{"output": "a.png"}'), ("b", '{"output": "b.png"}')])
    store.add_up_to_date([(1, "a", "a.png", None), (2, "b", "b.png", None)])
    assert list(store.stale_outputs()) == []


def test_the_database_is_a_file_in_the_temporary_folder_unlinked_at_once(tmp_path):
    """Past its page cache the store is on disk, in TMPDIR, and no name of it is ever there."""
    script = """
import os, sys
import resizer.store
resizer.store.CACHE_KIB = 256
store = resizer.store.Store()
store.add_previous((f"img{i:07d}.jpg", "x" * 500) for i in range(20000))
folder = os.environ["TMPDIR"]
held = []
for fd in os.listdir("/proc/self/fd"):
    try:
        held.append(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass  # the descriptor that listed the folder
print(json.dumps([os.listdir(folder), [p for p in held if p.startswith(folder)]]))
"""
    environment = {name: value for name, value in os.environ.items() if name != "SQLITE_TMPDIR"}
    done = subprocess.run(
        [sys.executable, "-c", "import json\n" + script],
        env={**environment, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    names, held = json.loads(done.stdout)
    assert names == []  # nothing a killed run could leave behind
    assert len(held) == 1 and held[0].endswith(" (deleted)")


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 1 MiB file system, unmounted afterwards; skips where mounting is refused."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_temporary_folder_without_room_is_one_line_and_exit_1(tmp_path, tiny_tmpfs):
    """The store spills past its cache into TMPDIR; when that is full the run says where and
    what to do, before anything is written, instead of a traceback."""
    src, out = tmp_path / "src", tmp_path / "out"
    save_photo(src / "a.jpg", 20, 20)
    out.mkdir()
    manifest = out / "manifest.jsonl"
    manifest.write_text("".join(record_text(f"old/{i:06d}.jpg") + "\n" for i in range(20_000)))
    before = manifest.read_bytes()
    script = (
        "import sys, resizer.store\n"
        "resizer.store.CACHE_KIB = 64  # spill to TMPDIR at once\n"
        "sys.argv = ['resizer', *sys.argv[1:]]\n"
        "from resizer.cli import main\n"
        "main()\n"
    )
    environment = {name: value for name, value in os.environ.items() if name != "SQLITE_TMPDIR"}
    done = subprocess.run(
        [sys.executable, "-c", script, "resize", str(src), "-o", str(out), "--size", "8"],
        env={**environment, "TMPDIR": str(tiny_tmpfs)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"the temporary folder '{tiny_tmpfs}' cannot hold this run's records" in done.stderr
    assert "full" in done.stderr and "TMPDIR" in done.stderr
    assert manifest.read_bytes() == before
    assert sorted(os.listdir(out)) == ["manifest.jsonl"]


# The parent's memory.

COUNT = 200_000  # images planned: half up to date, half to do
# The parent's whole peak RSS: interpreter, imports (Pillow too: --jobs 1 works in-process),
# SQLite's page cache (32 MiB) and a batch of rows. Measured here with COUNT = 200,000 on
# Python 3.11 / Linux: 74 MiB for the dry run and 83 MiB for the run; the same runs before the
# store took 305 and 1112 MiB. 150 MiB leaves 67 MiB for other platforms and versions; holding
# the earlier records alone as text (~120 MiB at this count) would break it.
PEAK_RSS_BOUND_MIB = 150
MTIME_NS = 1_700_000_000_123_456_789
# Runs the command, then writes the process's own peak RSS in KiB (VmHWM: of this process
# alone; getrusage's ru_maxrss would also count the parent it was forked from).
MEASURED = """
import atexit, os, sys
def peak():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["PEAK_RSS_FILE"], "w") as out:
        out.write(peak)
atexit.register(peak)
sys.argv = ["resizer", *sys.argv[1:]]
from resizer.cli import main
main()
"""


@pytest.fixture
def scratch(tmp_path):
    """A tmpfs for the many empty files (a disk takes far longer to make them); the plain
    temporary folder where mounting is refused. Always unmounted."""
    folder = tmp_path / "fs"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1g,nr_inodes=1m", "tmpfs", str(folder)],
        capture_output=True,
    )
    try:
        yield folder
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", str(folder)], check=True)


def _empty_files(root: Path, names: list[str]) -> None:
    for index, name in enumerate(names):
        if index % 1000 == 0:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(root / name, os.O_WRONLY | os.O_CREAT, 0o644))
        os.utime(root / name, ns=(MTIME_NS, MTIME_NS))


def _measured(args: list, folder: Path, **options) -> tuple[subprocess.CompletedProcess, float]:
    """The command's result and its parent's peak RSS in MiB."""
    peak = folder / "peak-rss"
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, *map(str, args)],
        env={**os.environ, "PEAK_RSS_FILE": str(peak)},
        **options,
    )
    return done, int(peak.read_text()) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_the_parent_memory_does_not_grow_with_the_number_of_images(scratch, tmp_path):
    """200,000 images from a synthetic manifest: half up to date, half to do. A dry run prints
    the plan as JSON; a real run stops at the first image (--fail-fast, every file is empty)
    and writes 200,000 records, most of them pending. Both must stay under a bound the parent
    exceeded when it held records, jobs and output names as Python objects."""
    src, out = scratch / "src", scratch / "out"
    names = [f"class_{index // 1000:03d}/img_{index:06d}.jpg" for index in range(COUNT)]
    half = COUNT // 2
    _empty_files(src, names)
    _empty_files(out, names[:half])
    fingerprint = make_settings([src], out, size="64x64").fingerprint
    lines = []
    for index, name in enumerate(names):
        lines.append(
            record_text(
                name,
                src_format="JPEG",
                src_width=96,
                src_height=72,
                src_mode="RGB",
                src_frames=1,
                orientation=1,
                width=64,
                height=48,
                format="jpeg",
                mode="RGB",
                bytes=0,
                sha256=f"{index:064x}",
                resize=[64, 48],
                crop_box=[0, 0, 64, 48],
                pad_offset=[0, 0],
                src_bytes=0,
                src_mtime_ns=MTIME_NS,
                run="20260101T000000Z-0000",
                fingerprint=fingerprint if index < half else "0" * 16,
                seconds=0.004,
            )
        )
    (out / "manifest.jsonl").write_text("".join(line + "\n" for line in lines))
    command = ["resize", src, "-o", out, "--size", "64x64"]

    with open(tmp_path / "plan.json", "w") as plan_file:
        dry, dry_peak = _measured([*command, "--dry-run", "--json"], tmp_path, stdout=plan_file)
    assert dry.returncode == 0
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [item["source"] for item in plan["to_do"]] == names[half:]
    assert plan["up_to_date"] == names[:half]

    run, run_peak = _measured([*command, "--jobs", "1", "--fail-fast", "-q"], tmp_path)
    assert run.returncode == 1
    written = (out / "manifest.jsonl").read_text().splitlines()
    assert written[:half] == lines[:half]  # up to date: byte for byte
    statuses = Counter(json.loads(line)["status"] for line in written[half:])
    assert statuses == {"failed": 1, "pending": half - 1}
    assert dry_peak < PEAK_RSS_BOUND_MIB
    assert run_peak < PEAK_RSS_BOUND_MIB
