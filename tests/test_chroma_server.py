"""Server mode: the same index and search against a real `chroma run` server on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.facade import Assistant
from ingest.types import Filters

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    exe = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(exe), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start")
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def test_index_and_ask_through_a_chroma_server(settings, embedder, chroma_server, vault):
    """Index, re-index after a delete, and ask, with vectors in the server instead of on disk."""
    s = settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": chroma_server})
    assistant = Assistant(s, embedder=embedder)
    report = assistant.index()
    assert report.added == 5 and report.failed == []
    assert not (Path(s.index_dir) / "chroma").exists()  # nothing embedded on disk: the server holds it
    assert assistant.status()["store"] == "server"

    (vault / "notes" / "ai-engineering-glossary.md").unlink()
    again = assistant.index()
    assert again.removed == 1
    m = assistant.manifest()
    assert assistant.store.count(m.collection) == m.chunks == again.chunks

    answer = assistant.ask("What is tokenization?")
    assert answer.found
    for c in answer.citations:
        assert c.source != "notes/ai-engineering-glossary.md"
        assert (vault / c.source).read_text(encoding="utf-8")[c.start:c.end] == c.quote

    # filters, both the one applied after the vector search and the one the server applies itself
    one = "notes/the-rise-of-ai-engineering.md"
    for filters in (Filters(sources=(one,)), Filters(folders=("notes",), kinds=("note",))):
        hits = assistant.search("tokenization", k=5, filters=filters)
        assert hits and all(filters.matches(h.chunk.source, h.chunk.kind, h.chunk.metadata["tags"]) for h in hits)
    answer = assistant.ask("What is tokenization?", filters=Filters(sources=(one,)))
    assert answer.found and {c.source for c in answer.citations} == {one}


def test_unreachable_server_is_one_clear_error(settings, embedder):
    s = settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": free_port()})
    from ingest.errors import RereadError

    with pytest.raises(RereadError, match="REREAD_CHROMA_HOST"):
        Assistant(s, embedder=embedder).index()
