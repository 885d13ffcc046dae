"""Local worker processes: they run with this process's environment of now, not the one the
fork server had when an earlier run started it (credentials set in a script between runs)."""

from __future__ import annotations

import os

from resizer.engines.local import new_pool


def test_workers_see_the_environment_of_now_not_the_fork_servers(monkeypatch):
    first = new_pool(1)  # starts the fork server (if not already), with today's environment
    assert first.submit(os.getpid).result(timeout=60) != os.getpid()
    first.shutdown()
    monkeypatch.setenv("RESIZER_TEST_SET_LATER", "visible")
    monkeypatch.delenv("RESIZER_TEST_REMOVED_LATER", raising=False)
    pool = new_pool(1)
    try:
        assert pool.submit(os.getenv, "RESIZER_TEST_SET_LATER").result(timeout=60) == ("visible")
    finally:
        pool.shutdown()
