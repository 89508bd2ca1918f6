"""The user's day, end to end through the real CLI: index the vault, search, ask, edit, re-index, ask again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_vault

REREAD = str(Path(sys.executable).parent / "reread")
pytestmark = pytest.mark.slow


def run(env, *args, stdin=None):
    return subprocess.run([REREAD, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def env(tmp_path, vault):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
    e.update(REREAD_NOTES_DIR=str(vault), REREAD_INDEX_DIR=str(tmp_path / "index"), HF_HUB_OFFLINE="1")
    return e


def raw(vault: Path, source: str) -> str:
    return (vault / source).read_bytes().decode("utf-8")


def test_a_study_session(env, vault):
    """Index the seed notes, ask, add a note, re-index, and the new note answers with an exact citation."""
    p = run(env, "index", "--json")
    assert p.returncode == 0, p.stderr
    first = json.loads(p.stdout)
    assert first["added"] == 5 and first["chunks"] >= 10 and first["failed"] == []

    p = run(env, "ask", "What is tokenization?", "--json")
    assert p.returncode == 0, p.stderr
    answer = json.loads(p.stdout)
    assert answer["found"] and answer["backend"] == "extractive"
    assert "token" in answer["answer"].lower()
    for c in answer["citations"]:
        assert raw(vault, c["source"])[c["start"]:c["end"]] == c["quote"]
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])} <= {c["n"] for c in answer["citations"]}

    write_vault(vault, {"notes/chapter-2.md": "---\ntitle: Chapter 2 notes\n---\n# Sampling\n\n"
                        "## Temperature\n\nA higher temperature makes the model's output more creative and less "
                        "predictable. Temperature 0 makes it pick the most likely token every time.\n"})
    p = run(env, "index", "--json")
    report = json.loads(p.stdout)
    assert (report["added"], report["unchanged"]) == (1, 5)
    assert report["chunks"] > first["chunks"]

    p = run(env, "ask", "What does a higher temperature do?", "--json")
    answer = json.loads(p.stdout)
    cited = [c for c in answer["citations"] if c["source"] == "notes/chapter-2.md"]
    assert cited, answer
    assert cited[0]["heading"] == "Sampling > Temperature" and cited[0]["title"] == "Chapter 2 notes"
    assert raw(vault, "notes/chapter-2.md")[cited[0]["start"]:cited[0]["end"]] == cited[0]["quote"]

    p = run(env, "status", "--json")
    status = json.loads(p.stdout)
    assert status["notes"] == 6 and status["chunks"] == report["chunks"]
    assert status["embed_model"] == "all-MiniLM-L6-v2" and status["store"] == "embedded"


def test_batches_and_human_output(env, vault):
    """`-` reads one query per line; without --json the output is for people, with the backend named."""
    assert run(env, "index", "--json").returncode == 0
    p = run(env, "search", "-", "-k", "2", "--json", stdin="tokenization\n\nmodel as a service\n")
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["query"] for r in rows] == ["tokenization", "model as a service"]
    assert all(len(r["hits"]) == 2 for r in rows)
    for h in rows[1]["hits"]:
        assert raw(vault, h["source"])[h["start"]:h["end"]] == h["text"]

    p = run(env, "ask", "What is self-supervision?")
    assert p.returncode == 0 and "[1]" in p.stdout and "extractive" in p.stdout


def test_ask_exports_markdown(env, vault, tmp_path):
    """--export writes the answer as a note with its sources as wikilinks and quotes."""
    run(env, "index")
    out = tmp_path / "exports" / "answer.md"
    p = run(env, "ask", "What is tokenization?", "--export", str(out))
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    assert text.startswith("---\n") and "## What is tokenization?" in text
    assert "[[notes/" in text and "\n    > " in text


def test_unanswerable_question_is_not_found(env):
    """A question the notes do not cover says so rather than quoting something unrelated."""
    run(env, "index")
    answer = json.loads(run(env, "ask", "What is the boiling point of tungsten in kelvin?", "--json").stdout)
    assert answer["found"] is False and answer["citations"] == []


def test_a_date_or_an_amount_the_notes_do_not_give_is_not_found(env):
    """The notes talk about GPT-4 but never date it: offline, a sentence about GPT-4 is no answer to "when".
    An amount they do give is answered with it."""
    run(env, "index")
    answer = json.loads(run(env, "ask", "When was GPT-4 released?", "--json").stdout)
    assert answer["found"] is False and "no date" in answer["answer"] and answer["nearest"]
    answer = json.loads(run(env, "ask", "How many AIs did theresanaiforthat.com list in 2024?", "--json").stdout)
    assert answer["found"] is True and "16,814" in answer["answer"]


def test_errors_are_one_line(env, tmp_path):
    """Bad settings and missing indexes exit 1 with one line that names the fix; typos exit 2."""
    p = run(dict(env, REREAD_BACKEND="gpt"), "status", "--json")
    assert p.returncode == 1 and "REREAD_BACKEND" in p.stderr and "Traceback" not in p.stderr
    assert p.stdout == ""
    p = run(env, "search", "anything", "--json")
    assert p.returncode == 1 and "reread index" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = run(env, "index", "--vault", str(tmp_path / "missing"))
    assert p.returncode == 1 and "--vault" in p.stderr
    p = run(env, "serch", "x")
    assert p.returncode == 2 and p.stdout == ""
    p = run(env, "ask", "x", "--backend", "gpt")
    assert p.returncode == 2 and p.stdout == ""


def test_bad_files_are_named_and_the_rest_lands(env, vault):
    """An empty note and a binary file named .md fail by name (exit 2); the good notes are searchable."""
    write_vault(vault, {"notes/empty.md": "", "notes/photo.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00binary"})
    p = run(env, "index", "--json")
    report = json.loads(p.stdout)
    assert p.returncode == 2
    assert {f["source"] for f in report["failed"]} == {"notes/empty.md", "notes/photo.md"}
    assert report["added"] == 5
    p = run(env, "index", "--json")
    again = json.loads(p.stdout)
    assert p.returncode == 2 and again["unchanged"] == 5 and len(again["failed"]) == 2
