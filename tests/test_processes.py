"""Worker processes never re-run the calling script: `resizer.resize` works from a script without
a main guard, from stdin, from `python -m`, `python -c` and a Jupyter kernel. Real processes."""

from __future__ import annotations

import multiprocessing.context
import subprocess
import sys
import types
from pathlib import Path

import pytest
from conftest import SAMPLE_IMAGES, read_records

from resizer import processes

SCRIPT = """\
import resizer
print("script body runs")
result = resizer.resize({src!r}, {out!r}, size="48x48", mode="fill", jobs=2)
print("result", result.ok, result.failed, result.exit_code)
"""


def run_python(args: list[str], cwd: Path, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_worked(completed, out: Path) -> None:
    """Every sample image done by two workers, the script run once, and not one traceback."""
    count = sum(1 for p in SAMPLE_IMAGES.rglob("*") if p.suffix in {".jpg", ".png", ".webp"})
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["script body runs", f"result {count} 0 0"]
    assert "Traceback" not in completed.stderr
    assert len(read_records(out / "manifest.jsonl")) == count


def test_script_without_main_guard(tmp_path):
    """Workers used to re-run such a script: each started a resize of its own and every image
    failed under a wall of tracebacks."""
    out = tmp_path / "out"
    script = tmp_path / "prepare.py"
    script.write_text(SCRIPT.format(src=str(SAMPLE_IMAGES), out=str(out)))
    assert_worked(run_python([str(script)], tmp_path), out)


def test_script_read_from_stdin(tmp_path):
    """`python - <<EOF`: workers used to look for a file named '<stdin>' and die."""
    out = tmp_path / "out"
    script = SCRIPT.format(src=str(SAMPLE_IMAGES), out=str(out))
    assert_worked(run_python(["-"], tmp_path, stdin=script), out)


def test_command_string_as_a_notebook_runs_it(tmp_path):
    """`python -c`: like a notebook cell, a main module with no file to re-run."""
    out = tmp_path / "out"
    script = SCRIPT.format(src=str(SAMPLE_IMAGES), out=str(out))
    assert_worked(run_python(["-c", script], tmp_path), out)


def test_module_run_with_dash_m_without_guard(tmp_path):
    """`python -m prepare`: spawn re-imports a main module by its name; not here."""
    out = tmp_path / "out"
    (tmp_path / "prepare.py").write_text(SCRIPT.format(src=str(SAMPLE_IMAGES), out=str(out)))
    assert_worked(run_python(["-m", "prepare"], tmp_path), out)


def test_jupyter_notebook_cell(tmp_path):
    """A real Jupyter kernel runs the call as a notebook cell (kernels have no script file)."""
    nbformat = pytest.importorskip("nbformat", reason="Jupyter test packages not installed")
    nbclient = pytest.importorskip("nbclient", reason="Jupyter test packages not installed")
    out = tmp_path / "out"
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell(SCRIPT.format(src=str(SAMPLE_IMAGES), out=str(out)))
    )
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3")
    client.execute(cwd=str(tmp_path))
    outputs = notebook.cells[0].outputs
    printed = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    errors = [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    assert errors == []
    count = len(read_records(out / "manifest.jsonl"))
    assert printed.splitlines() == ["script body runs", f"result {count} 0 0"]


def test_main_module_is_hidden_only_while_a_worker_starts(monkeypatch):
    script = types.ModuleType("__main__")
    script.__file__ = "/somewhere/prepare.py"
    monkeypatch.setitem(sys.modules, "__main__", script)
    seen = []
    monkeypatch.setattr(
        multiprocessing.context.SpawnProcess,
        "start",
        lambda self: seen.append(sys.modules["__main__"]),
    )
    processes._SpawnWorker(target=print).start()
    assert seen[0] is not script
    assert getattr(seen[0], "__file__", None) is None
    assert sys.modules["__main__"] is script


def test_context_is_forkserver_where_available():
    context = processes.context()
    expected = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    assert context.get_start_method() == expected
