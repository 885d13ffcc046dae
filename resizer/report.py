"""The Report owns the counters, the per-file messages, the summary line and the exit code.

It also owns the two output streams: stdout carries only what was asked for (the --json
document, the --dry-run plan), every diagnostic goes to stderr, and neither stream can stop a
run: a reader that has gone away (`| head`) or a closed stream only ends that output.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

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
    shards: int | None = None  # --container webdataset: shards OUT holds after the run
    shards_written: int = 0  # of those, written by this run (the others were left as they were)
    shards_removed: int = 0  # earlier shards the samples no longer fill
    stopped_by: str | None = None  # signal name, "fail-fast" or a fault of OUT itself
    save_error: str | None = None  # the manifest or run record could not be written
    started: float = field(default_factory=time.time)
    finished: float | None = None
    _clock: float = field(default_factory=time.perf_counter)
    _elapsed: float | None = None
    write: Callable[[str], None] | None = None  # set while a progress bar owns stderr

    def add(self, result: Result) -> None:
        if result.status == "ok":
            self.ok += 1
            frames = result.src_frames or 1
            first = f" (first of {frames} frames)" if frames > 1 else ""
            self._say(1, f"ok: {result.source} -> {result.output}{first}")
        elif result.status == "skipped":
            self.add_skipped(result.source)
        else:
            self.failed += 1
            self._say(0, f"failed: {result.source}: {result.error}")

    def add_skipped(self, source: str) -> None:
        self.skipped += 1
        self._say(2, f"skipped (up to date): {source}")

    def warn(self, message: str) -> None:
        """Something the user should know that does not change the outcome (not with -q)."""
        self._say(0, message)

    def save_failed(self, message: str) -> None:
        """The record of the run is lost or stale: said even with --quiet, and exit 1."""
        self.save_error = self.save_error or message
        self._say(-1, message)

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
        return EXIT_FAILED if self.failed or self.stopped_by or self.save_error else EXIT_OK

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
            "shards": self.shards,
            "shards_written": self.shards_written,
            "shards_removed": self.shards_removed,
            "elapsed_seconds": round(self.elapsed, 3),
            "images_per_second": round(self.images_per_second, 2),
            "stopped_by": self.stopped_by,
            "manifest_error": self.save_error,
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
        if self.shards is not None:
            shards = f"{self.shards} shard" + ("" if self.shards == 1 else "s")
            removed = f", {self.shards_removed} removed" if self.shards_removed else ""
            self._say(0, f"{shards}: {self.shards_written} written{removed}")

    def _say(self, level: int, message: str) -> None:
        if self.verbosity < level:
            return
        message = escape(message)  # a name with bytes that are not UTF-8 must not crash a print
        if self.write is not None:
            self.write(f"resizer: {message}")
        else:
            say(message)


class SafeStream:
    """A text stream whose write errors end the output, never the run.

    A reader that has gone (`resizer ... | head -1`) makes writes fail with EPIPE; the stream's
    file descriptor is then pointed at /dev/null, so later writes, a progress bar and Python's
    flush at exit all succeed silently and the exit code stays the run's. A missing stream
    (started with `>&-` or `2>&-`, so Python has None) swallows everything.
    """

    def __init__(self, stream: IO[str] | None):
        self._stream = stream
        self.gone = stream is None

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self._stream.write(text)
            except (OSError, ValueError):
                self._detach()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._detach()

    def isatty(self) -> bool:
        return not self.gone and self._stream.isatty()

    def fileno(self) -> int:
        if self._stream is None:
            raise OSError("no stream")
        return self._stream.fileno()

    def __getattr__(self, name: str):  # encoding and the like, for tqdm
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._stream, name)

    def _detach(self) -> None:
        self.gone = True
        try:
            descriptor = self._stream.fileno()
        except (OSError, ValueError, AttributeError):
            return  # not a real file (a test runner's buffer): nothing will flush it at exit
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, descriptor)
        os.close(null)


def stderr() -> SafeStream:
    return SafeStream(sys.stderr)


def say(message: str) -> None:
    """One diagnostic line on stderr."""
    print(f"resizer: {message}", file=stderr(), flush=True)


def json_blocks(document: dict) -> Iterator[str]:
    """`json.dumps(document, indent=2)` in pieces that join with newlines into exactly that text;
    values that are iterators are read item by item, so a plan of millions of images is printed
    without ever being held whole."""
    yield "{"
    last = len(document) - 1
    for index, (name, value) in enumerate(document.items()):
        end = "," if index < last else ""
        label = f"  {json.dumps(name)}: "
        if not isinstance(value, Iterator):
            yield label + json.dumps(value, indent=2).replace("\n", "\n  ") + end
            continue
        items = iter(value)
        held = next(items, _NOTHING)
        if held is _NOTHING:
            yield f"{label}[]{end}"
            continue
        yield label + "["
        for item in items:
            yield _item_block(held) + ","
            held = item
        yield _item_block(held)
        yield f"  ]{end}"
    yield "}"


_NOTHING = object()


_ENCODE_STR = json.encoder.encode_basestring_ascii  # a str as json.dumps writes it (C)


def _item_block(item) -> str:
    """One list item of json_blocks, indented. Strings, and dicts of strings (every item of a
    plan), are written directly, as json.dumps(indent=2) would: a million are many."""
    if isinstance(item, str):
        return "    " + _ENCODE_STR(item)
    if isinstance(item, dict) and item and all(type(value) is str for value in item.values()):
        fields = ",\n".join(
            f"      {_ENCODE_STR(name)}: {_ENCODE_STR(value)}" for name, value in item.items()
        )
        return "    {\n" + fields + "\n    }"
    return "    " + json.dumps(item, indent=2).replace("\n", "\n    ")


def write_out(text: str) -> bool:
    """`text` and a newline on stdout; False if nobody reads stdout any more."""
    stream = SafeStream(sys.stdout)
    print(text, file=stream, flush=True)
    return not stream.gone
