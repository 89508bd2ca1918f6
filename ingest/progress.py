"""Progress goes through one reporter: a rich bar on stderr for the CLI, JSON lines on stderr under --json, a
callback for the UI. Files are counted; detail() says what the current file is doing (a 10 MB note is one
file for minutes: "embedding 2048/12500")."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, total: int, label: str) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def detail(self, stage: str, done: int = 0, total: int = 0, source: str = "") -> None: ...
    def finish(self) -> None: ...


def describe(stage: str, done: int, total: int, source: str) -> str:
    """A detail as words: "reading notes/big.md", "embedding 2048/12500"."""
    return f"{stage} {source}" if source else f"{stage} {done}/{total}"


class NoProgress:
    def start(self, total: int, label: str) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def detail(self, stage: str, done: int = 0, total: int = 0, source: str = "") -> None: ...
    def finish(self) -> None: ...


class CallbackProgress:
    """Calls fn(done, total, label): what the Streamlit UI uses for its progress bar."""

    def __init__(self, fn: Callable[[int, int, str], None]):
        self.fn, self.done, self.total, self.label = fn, 0, 0, ""

    def start(self, total: int, label: str) -> None:
        self.done, self.total, self.label = 0, total, label
        self.fn(0, total, label)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.fn(self.done, self.total, self.label)

    def detail(self, stage: str, done: int = 0, total: int = 0, source: str = "") -> None:
        self.fn(self.done, self.total, f"{self.label} ({describe(stage, done, total, source)})")

    def finish(self) -> None:
        self.fn(self.total, self.total, self.label)


class JsonProgress:
    """One JSON object a line on stderr, for `reread index --json` (stdout keeps the report alone):
    {"stage": "indexing", "done": 3, "total": 40, "unit": "files", "seconds": 1.2}, and for the current file
    {"stage": "reading", "source": "notes/big.md", ...} or {"stage": "embedding", "done": 2048, "total": 12500,
    "unit": "chunks", ...}. At most one line per `every` seconds; a line held back is printed when its time
    comes even if nothing follows (the big file that comes after a small one is named while it is read)."""

    def __init__(self, out: TextIO | None = None, every: float = 0.5):
        self.out, self.every = out, every
        self.t0 = self.last = time.monotonic() - every
        self.done, self.total, self.label = 0, 0, ""
        self._lock = threading.Lock()
        self._held: dict | None = None
        self._printed: dict | None = None
        self._timer: threading.Timer | None = None

    def _emit(self, line: dict, force: bool = False) -> None:
        with self._lock:
            wait = self.every - (time.monotonic() - self.last)
            if force or wait <= 0:
                self._print(line)
                return
            self._held = line
            if self._timer is None:
                self._timer = threading.Timer(wait, self._release)
                self._timer.daemon = True
                self._timer.start()

    def _release(self) -> None:
        with self._lock:
            self._timer = None
            if self._held is not None:
                self._print(self._held)

    def _print(self, line: dict) -> None:
        self._held = None
        if line == self._printed:  # finish() after the last advance(): said already
            return
        self._printed, self.last = dict(line), time.monotonic()
        print(json.dumps({**line, "seconds": round(self.last - self.t0 - self.every, 1)}, ensure_ascii=False),
              file=self.out or sys.stderr, flush=True)

    def _files(self, force: bool = False) -> None:
        self._emit({"stage": self.label, "done": self.done, "total": self.total, "unit": "files"}, force)

    def start(self, total: int, label: str) -> None:
        self.done, self.total, self.label = 0, total, label
        self._files(force=True)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._files()

    def detail(self, stage: str, done: int = 0, total: int = 0, source: str = "") -> None:
        line: dict = {"stage": stage, "source": source} if source else \
            {"stage": stage, "done": done, "total": total, "unit": "chunks"}
        self._emit(line)

    def finish(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self.done = self.total
        self._files(force=True)


class RichProgress:
    """A bar on stderr, shown only for runs with real work."""

    def __init__(self):
        self._bar = None
        self._task = None
        self._label = ""

    def start(self, total: int, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._bar.start()
        self._label = label
        self._task = self._bar.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def detail(self, stage: str, done: int = 0, total: int = 0, source: str = "") -> None:
        if self._bar is not None:
            from rich.markup import escape  # a file named "[/x].md" is text, not markup

            self._bar.update(self._task, description=escape(f"{self._label} · {describe(stage, done, total, source)}"))

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
