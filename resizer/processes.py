"""Where worker processes come from: a start-method context whose processes never re-run the
script that called resizer.

A new forkserver or spawn process normally re-runs the parent's main module, so that functions
defined there can be unpickled. resizer's workers need nothing from it, and re-running it breaks
ordinary use: a script without an `if __name__ == "__main__":` guard would start a resize of
its own in every worker (every image then failed under a wall of tracebacks), and a script read
from stdin cannot be re-run at all.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import sys
import types
from contextlib import contextmanager

_PRELOAD = {"resizer.process"}


def context(preload: tuple[str, ...] = ()) -> multiprocessing.context.BaseContext:
    """forkserver where the platform has it (workers fork from a server that has imported the
    image libraries, and `preload`, such as an object store's client, once), else spawn;
    either way without re-running the main module."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        _PRELOAD.update(preload)  # the server starts once: keep what any caller asked for
        multiprocessing.get_context("forkserver").set_forkserver_preload(sorted(_PRELOAD))
        return _ForkServerContext()
    return _SpawnContext()


@contextmanager
def _main_module_hidden():
    """While a worker starts, the main module is an empty one if it would be re-run there (a
    script file, or a module run with -m); `python -c`, stdin and notebooks have none to re-run
    but a script read from stdin names '<stdin>' as its file."""
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    reruns = bool(getattr(main, "__file__", None)) or (
        spec_name is not None and not spec_name.endswith("__main__")
    )
    if not reruns:
        yield
        return
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class _ForkServerWorker(multiprocessing.context.ForkServerProcess):
    def start(self) -> None:
        with _main_module_hidden():
            super().start()


class _SpawnWorker(multiprocessing.context.SpawnProcess):
    def start(self) -> None:
        with _main_module_hidden():
            super().start()


class _ForkServerContext(multiprocessing.context.ForkServerContext):
    Process = _ForkServerWorker


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _SpawnWorker
