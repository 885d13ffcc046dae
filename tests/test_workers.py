"""Dispatch: jobs are read as work is handed out, and nothing to do loads no image library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import save_photo

from resizer.geometry import Sizing
from resizer.records import Job
from resizer.settings import Settings
from resizer.workers import Stop, dispatch, start_engine

# Runs the command, then writes which image libraries the process imported.
IMPORTS = """
import atexit, json, os, sys
atexit.register(lambda: open(os.environ["IMPORTS_FILE"], "w").write(json.dumps(
    sorted(name for name in sys.modules if name in ("PIL", "cv2", "numpy")))))
sys.argv = ["resizer", *sys.argv[1:]]
from resizer.cli import main
main()
"""


def test_jobs_are_read_as_they_are_handed_out(tmp_path):
    """A run reads its jobs from the store as the workers take them: when the first result
    arrives, only the batches in flight (two per worker) and the next one have been read."""
    settings = Settings(
        sources=(tmp_path,), out=tmp_path / "out", sizing=Sizing("longer", length=8), jobs=2
    )
    count = 400
    taken = []

    def jobs():
        for index in range(count):
            taken.append(index)
            yield Job(
                str(tmp_path / f"gone{index}.jpg"), f"gone{index}.jpg", f"{index}.jpg", "jpeg"
            )

    engine = start_engine(settings, count)
    assert engine is not None
    try:
        results = dispatch(jobs(), settings, Stop(), engine, count)
        first = next(results)
        read_by_then = len(taken)
        rest = list(results)
    finally:
        engine.close(abandon=False)
    batch = max(1, min(engine.batch_limit, count // (engine.workers * 16)))
    assert read_by_then <= (2 * engine.workers + 1) * batch < count
    assert sorted(result.source for result in [first, *rest]) == sorted(
        f"gone{i}.jpg" for i in range(count)
    )
    assert all(result.status == "failed" for result in rest)


def test_a_run_with_nothing_to_do_loads_no_image_library(tmp_path: Path):
    src, out = tmp_path / "src", tmp_path / "out"
    save_photo(src / "a.jpg", 40, 30)
    save_photo(src / "b.png", 30, 40)
    command = [sys.executable, "-c", IMPORTS, "resize", str(src), "-o", str(out), "--size", "16"]
    imports = tmp_path / "imports.json"
    environment = {**os.environ, "IMPORTS_FILE": str(imports)}
    first = subprocess.run([*command, "--jobs", "1"], env=environment, capture_output=True)
    assert first.returncode == 0, first.stderr
    assert "PIL" in json.loads(imports.read_text())  # working in this process, it loads them
    for jobs in ([], ["--jobs", "1"]):
        again = subprocess.run([*command, *jobs], env=environment, capture_output=True, text=True)
        assert again.returncode == 0 and "2 skipped" in again.stderr
        assert json.loads(imports.read_text()) == []
