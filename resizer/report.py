"""The Report owns the counters, the per-file messages, the summary line and the exit code."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .names import escape
from .records import Result

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


@dataclass
class Report:
    verbosity: int = 0  # -1 quiet, 0 normal, 1 verbose
    found: int = 0  # images found (after --include/--exclude)
    ok: int = 0
    skipped: int = 0
    failed: int = 0
    ignored: int = 0
    removed: int = 0  # earlier outputs no source stands for any more
    stopped_by: str | None = None  # signal name, "fail-fast" or a fatal OUT error
    started: float = field(default_factory=time.time)
    finished: float | None = None
    _clock: float = field(default_factory=time.perf_counter)
    _elapsed: float | None = None
    write: Callable[[str], None] | None = None  # set while a progress bar owns stderr

    def add(self, result: Result) -> None:
        if result.status == "ok":
            self.ok += 1
            self._say(1, f"ok: {result.source} -> {result.output}")
        elif result.status == "skipped":
            self.add_skipped(result.source)
        else:
            self.failed += 1
            self._say(0, f"failed: {result.source}: {result.error}")

    def add_skipped(self, source: str) -> None:
        self.skipped += 1
        self._say(2, f"skipped (up to date): {source}")

    def finish(self) -> None:
        self.finished = time.time()
        self._elapsed = time.perf_counter() - self._clock

    @property
    def elapsed(self) -> float:
        if self._elapsed is not None:
            return self._elapsed
        return time.perf_counter() - self._clock

    @property
    def images_per_second(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.stopped_by in EXIT_SIGNAL:
            return EXIT_SIGNAL[self.stopped_by]
        return EXIT_FAILED if self.failed or self.stopped_by else EXIT_OK

    def summary_line(self) -> str:
        line = (
            f"{self.ok} ok, {self.skipped} skipped, {self.failed} failed "
            f"in {self.elapsed:.1f} s ({self.images_per_second:.1f} images/s)"
        )
        if self.stopped_by:
            line += f"; stopped early: {self.stopped_by}"
        return line

    def summary(self) -> dict:
        return {
            "found": self.found,
            "ok": self.ok,
            "skipped": self.skipped,
            "failed": self.failed,
            "ignored_files": self.ignored,
            "removed_outputs": self.removed,
            "elapsed_seconds": round(self.elapsed, 3),
            "images_per_second": round(self.images_per_second, 2),
            "stopped_by": self.stopped_by,
            "exit_code": self.exit_code,
        }

    def print_summary(self) -> None:
        if self.found == 0 and self.ok + self.skipped + self.failed == 0:
            ignored = f" ({self.ignored} other files ignored)" if self.ignored else ""
            self._say(0, f"no images found{ignored}; nothing to do")
        else:
            self._say(0, self.summary_line())
        if self.removed:
            self._say(0, f"removed {self.removed} earlier outputs whose sources are gone")

    def _say(self, level: int, message: str) -> None:
        if self.verbosity < level:
            return
        message = escape(message)  # a name with bytes that are not UTF-8 must not crash a print
        if self.write is not None:
            self.write(f"resizer: {message}")
        else:
            print(f"resizer: {message}", file=sys.stderr, flush=True)
