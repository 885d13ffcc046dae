"""`resizer compare` on sample images that cannot be measured: unreadable, too large, or whose
decoder crashes, hangs or is killed. Each such image is failed with its cause, as `resize` fails
it (the same worker processes, kernel timer and retry alone), and the comparison of the others
completes. Real processes, with the fault-injection format of tests/poison."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from compare_cases import ALL, settings_for
from conftest import run_job, save_photo

from resizer import compare, compare_render
from resizer.geometry import Sizing
from resizer.settings import Settings

POISON = Path(__file__).resolve().parent / "poison"
sys.path.insert(0, str(POISON))
from sitecustomize import poison_bytes  # noqa: E402  (the fault-injection format)

GOOD = ["cats/a.jpg", "cats/b.png", "dogs/c.jpg", "dogs/d.webp"]


def compare_program(src: Path, *options: str) -> subprocess.CompletedProcess:
    """`resizer compare` as a program whose interpreters (parent and workers) know POISON.
    The timeout only guards the test against a command that hangs."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(POISON), *sys.path])}
    return subprocess.run(
        [sys.executable, "-m", "resizer", "compare", str(src), "--size", "32",
         "--interpolation", "bilinear", "--backend", "pillow", *options],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_decoder_that_hangs_crashes_or_is_killed_fails_that_image_alone(small_tree, jobs):
    """With one worker as with several: never a hung or crashed command."""
    for action in ("HANG", "SEGV", "KILL"):
        (small_tree / "cats" / f"{action.lower()}.jpg").write_bytes(poison_bytes(action))

    done = compare_program(small_tree, "--timeout", "1", "--jobs", jobs, "--json")

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "resizer: cats/hang.jpg: timed out after 1 s (--timeout)",
        "resizer: cats/kill.jpg: worker process was killed (SIGKILL; out of memory?) while "
        "decoding this file",
        "resizer: cats/segv.jpg: worker process crashed (SIGSEGV) while decoding this file",
        done.stderr.splitlines()[-1],
    ]
    assert done.stderr.splitlines()[-1].startswith("resizer: 2 configurations on 4 of 7 images")
    document = json.loads(done.stdout)
    measured = [image["source"] for image in document["images"] if image["error"] is None]
    assert measured == GOOD
    assert all(c["images"] == 4 for c in document["configurations"])


def test_a_sample_of_only_a_hanging_image_ends_with_the_reason(tmp_path):
    """Nothing can be measured: the table is empty, the image is named with its cause, exit 1."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "hang.jpg").write_bytes(poison_bytes("HANG"))

    done = compare_program(tmp_path / "src", "--timeout", "0.5", "--jobs", "1")

    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "resizer: hang.jpg: timed out after 0.5 s (--timeout)"
    assert "on 0 of 1 images" in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr


def test_compare_timeout_is_checked_as_resizes(run_cli, small_tree, tmp_path):
    for value in ("0", "-1"):
        compared = run_cli("compare", small_tree, "--size", "32", "--timeout", value)
        resized = run_cli("resize", small_tree, "-o", tmp_path / "out", "--size", "32",
                          "--timeout", value)  # fmt: skip
        assert compared.exit_code == resized.exit_code == 2
        assert compared.stderr.splitlines()[-1] == resized.stderr.splitlines()[-1]
        assert f"--timeout {value} must be a number of seconds" in compared.stderr


def test_each_configuration_of_an_image_gets_the_whole_timeout(tmp_path, monkeypatch):
    """An image runs through every configuration: --timeout bounds each, as it bounds one
    image in `resize`, not their sum. Seen from the timer a worker runs under: armed for
    500 s, each configuration starts with the 1000 s of --timeout again."""
    source = save_photo(tmp_path / "src" / "a.jpg", 120, 90, seed=1)
    settings = Settings(sources=(source.parent,), out=Path(), timeout=1000,
                        sizing=Sizing("size", width=40, height=40))  # fmt: skip
    configs = compare.configurations()
    compare.measure_image(str(source), "a.jpg", settings, configs, crop=0)  # warmed up
    left: list[float] = []
    finish = compare_render.finish

    def observed(decoded, options):
        left.append(signal.getitimer(signal.ITIMER_REAL)[0])
        return finish(decoded, options)

    monkeypatch.setattr(compare_render, "finish", observed)
    previous = signal.signal(signal.SIGALRM, lambda *_: None)  # never ends the test process
    signal.setitimer(signal.ITIMER_REAL, 500)
    try:
        report = compare.measure_image(str(source), "a.jpg", settings, configs, crop=0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    assert report.error is None
    assert len(left) == len(configs) and all(s > 900 for s in left)


# --- unreadable images, in and out of worker processes -------------------------------------


def test_a_bad_image_in_the_sample_is_reported_and_the_others_measured(run_cli, small_tree):
    (small_tree / "cats" / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")

    result = run_cli(
        "compare",
        small_tree,
        "--size",
        "32",
        "--backend",
        "pillow",
        "--interpolation",
        "bilinear",
        "--json",
    )

    assert result.exit_code == 1
    assert "resizer: cats/broken.jpg: " in result.stderr
    document = json.loads(result.stdout)
    broken = [image for image in document["images"] if image["source"] == "cats/broken.jpg"]
    assert broken[0]["error"] and broken[0]["results"] == []
    assert all(c["images"] == 4 for c in document["configurations"])
    assert "on 4 of 5 images" in result.stderr


def test_a_decoder_crash_fails_that_image_alone(small_tree):
    """The fault-injection format kills its process with SIGSEGV when opened: the images that
    shared the pool are measured again, each alone; the crashing one is reported."""
    poison = Path(__file__).resolve().parent / "poison"
    sys.path.insert(0, str(poison))
    try:
        from sitecustomize import poison_bytes
    finally:
        sys.path.remove(str(poison))
    (small_tree / "cats" / "crash.jpg").write_bytes(poison_bytes("SEGV"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(poison), *sys.path])}

    done = subprocess.run(
        [sys.executable, "-m", "resizer", "compare", str(small_tree), "--size", "32",
         "--interpolation", "bilinear", "--backend", "pillow", "--jobs", "2", "--json"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    assert "resizer: cats/crash.jpg: worker process crashed (SIGSEGV) while decoding this file" in (
        done.stderr
    )
    document = json.loads(done.stdout)
    measured = [image["source"] for image in document["images"] if image["error"] is None]
    assert measured == ["cats/a.jpg", "cats/b.png", "dogs/c.jpg", "dogs/d.webp"]
    assert all(c["images"] == 4 for c in document["configurations"])


def test_a_target_over_max_pixels_fails_each_image_as_resize_does(tmp_path):
    source = save_photo(tmp_path / "src" / "photo.png", 120, 80, seed=5)
    settings = settings_for(source.parent, sizing=Sizing("scale", factor=Fraction(1000)))

    report = compare.measure_image(str(source), "photo.png", settings, ALL[:2], crop=0)

    written = run_job(source, tmp_path / "out", "png", sizing=settings.sizing)
    assert written.status == "failed" and "too large for this image" in written.error
    assert report.error == written.error and report.measures == []


def test_undecodable_names_are_escaped_in_messages_and_links_to_nothing_left_out(
    run_cli, small_tree
):
    broken = os.fsdecode(b"caf\xe9.jpg")
    (small_tree / "cats" / broken).write_bytes(b"not an image at all")
    (small_tree / "dogs" / "gone.jpg").symlink_to(small_tree / "nowhere.jpg")

    result = run_cli("compare", small_tree, "--size", "32", "-j", "1", "--backend", "pillow",
                     "--interpolation", "area", "--json")  # fmt: skip

    assert result.exit_code == 1
    assert "resizer: cats/caf\\udce9.jpg: not an image" in result.stderr
    document = json.loads(result.stdout)
    assert document["found"] == 5 and "dogs/gone.jpg" not in document["sample"]
    assert os.fsencode(document["sample"][2]) == b"cats/caf\xe9.jpg"


def test_an_empty_file_fails_with_the_cause_resize_gives(tmp_path):
    source = tmp_path / "src" / "empty.jpg"
    source.parent.mkdir()
    source.write_bytes(b"")
    settings = settings_for(source.parent)

    report = compare.measure_image(str(source), "empty.jpg", settings, ALL[:2], crop=0)

    written = run_job(source, tmp_path / "out", "jpeg", sizing=settings.sizing)
    assert report.error == written.error == "empty file"
