"""`reread index --watch`: re-index when notes are saved, debounced, until Ctrl-C."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from ingest.discover import IGNORE_FILE
from ingest.errors import RereadError
from ingest.sources import NOTE_SUFFIXES, PDF_SUFFIXES


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def relevant(path: Path, vault: Path, index_dir: Path) -> bool:
    try:
        rel = path.relative_to(vault)
    except ValueError:
        return False
    if index_dir in path.parents or any(p.startswith(".") for p in rel.parts[:-1]):
        return False
    return path.name == IGNORE_FILE or path.suffix.lower() in NOTE_SUFFIXES | PDF_SUFFIXES


def watch_vault(vault: Path, index_dir: Path, reindex: Callable[[], int], log: Callable[[str], None],
                debounce_ms: int = 800, stop_event=None) -> None:
    from watchfiles import watch

    # Ctrl-C (or a plain kill) stops the watch, even when a parent shell started us with SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    vault, index_dir = vault.resolve(), index_dir.resolve()
    log(f"watching {vault} for changes (Ctrl-C to stop)")
    try:
        for changes in watch(vault, debounce=debounce_ms, step=100, stop_event=stop_event,
                             watch_filter=lambda _change, p: relevant(Path(p), vault, index_dir)):
            if changes:
                try:
                    reindex()
                except RereadError as e:  # a busy lock or a passing error: say so and keep watching
                    log(f"error: {e}")
    except KeyboardInterrupt:
        log("stopped watching")
