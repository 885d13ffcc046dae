"""`resizer compare` on a sample whose decoder crashes, hangs or is killed: each such image is
failed with its cause, as `resize` fails it (the same worker processes, kernel timer and
retry alone), and the comparison of the others completes. Real processes, with the
fault-injection format of tests/poison."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import save_photo

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
