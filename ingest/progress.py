"""Progress goes through one reporter: a rich bar on stderr for the CLI, a callback for the UI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Progress(Protocol):
    def start(self, total: int, label: str) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...


class NoProgress:
    def start(self, total: int, label: str) -> None: ...
    def advance(self, n: int = 1) -> None: ...
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

    def finish(self) -> None:
        self.fn(self.total, self.total, self.label)


class RichProgress:
    """A bar on stderr, shown only for runs with real work."""

    def __init__(self):
        self._bar = None
        self._task = None

    def start(self, total: int, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._bar.start()
        self._task = self._bar.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
