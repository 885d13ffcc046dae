"""README.md and .ci/run must tell the same story: CI runs exactly the documented commands."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SET_UP = [
    "pip install . && resizer resize sample_images -o out --size 224x224 --mode fill",
    "pip install -e '.[test]' && pytest",
]


def test_readme_shows_the_two_set_up_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in SET_UP:
        assert f"```sh\n{command}\n```" in readme


def test_ci_runs_exactly_the_readme_commands():
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line in SET_UP] == SET_UP
