"""Answers a reader can trust on the sample vault: refusals that show what came close and cost no LLM call,
follow-ups that keep their subject, and citations that always quote the note exactly."""

from __future__ import annotations

import re

import pytest

from assistant.facade import Assistant
from ingest.types import Filters
from tests.conftest import SAMPLE_NOTES
from tests.fake_openai import FakeOpenAI


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    """The sample vault indexed once for this module (settings are rebuilt per test with other backends)."""
    from ingest.settings import Settings

    root = tmp_path_factory.mktemp("answers")
    vault = root / "vault" / "notes"
    vault.mkdir(parents=True)
    for p in SAMPLE_NOTES.glob("*.md"):
        (vault / p.name).write_bytes(p.read_bytes())
    settings = Settings(notes_dir=root / "vault", index_dir=root / "index", backend="extractive")
    Assistant(settings, embedder=embedder).index()
    return settings


def quotes_are_exact(answer, settings) -> None:
    for c in answer.citations:
        raw = (settings.notes_dir / c.source).read_bytes().decode("utf-8")
        assert raw[c.start:c.end] == c.quote
    assert {int(n) for n in re.findall(r"(?<!\\)\[(\d+)\]", answer.answer)} == {c.n for c in answer.citations}


def test_an_answerable_question_is_answered_with_exact_citations(indexed, embedder):
    answer = Assistant(indexed, embedder=embedder).ask("What is quantization?")
    assert answer.found and "precision" in answer.answer.lower() and not answer.nearest
    quotes_are_exact(answer, indexed)


def test_an_unrelated_question_is_refused_with_the_nearest_passages_and_no_llm_call(indexed, embedder):
    with FakeOpenAI() as server:
        server.reply("Bake it at 250 degrees [1].")
        settings = indexed.model_copy(update={"openai_base_url": server.base_url, "backend": "openai"})
        answer = Assistant(settings, embedder=embedder).ask("How do I bake sourdough bread?")
        assert server.chat_requests == []
    assert not answer.found and answer.citations == [] and answer.backend == "openai"
    assert answer.nearest and all(h.chunk.source.startswith("notes/") for h in answer.nearest)
    assert answer.to_json()["nearest"][0]["source"] == answer.nearest[0].chunk.source


def test_a_refusal_names_the_name_none_of_the_closest_passages_holds(indexed, embedder):
    """What the notes lack, said: the user sees "Eiffel Tower" was looked for. (A name missing does not refuse by
    itself: prose writes "the Soviets" for the Soviet Union; refusal.py has the figures.)"""
    app = Assistant(indexed, embedder=embedder)
    answer = app.ask("How do I bake sourdough bread like the Eiffel Tower bakery?")
    assert not answer.found and answer.nearest and answer.citations == []
    assert answer.answer.endswith("answer this. None of the closest passages mentions “Eiffel Tower”.")
    assert app.ask("How did Google Photos use AI?").found


def test_a_follow_up_keeps_the_subject_of_the_question_before(indexed, embedder):
    app = Assistant(indexed, embedder=embedder)
    first = app.ask("What is tokenization?")
    follow = app.chat([("What is tokenization?", first.answer)], "And why does it matter?")
    assert "tokeniz" in follow.standalone.lower()
    assert follow.question == "And why does it matter?"
    quotes_are_exact(follow, indexed)


def test_filters_limit_the_answer_to_one_note(indexed, embedder):
    only = "notes/ai-engineering-glossary.md"
    answer = Assistant(indexed, embedder=embedder).ask("What is tokenization?", filters=Filters(sources=(only,)))
    assert answer.found and {c.source for c in answer.citations} == {only}


def test_an_llm_answer_cites_only_what_it_was_shown(indexed, embedder):
    with FakeOpenAI() as server:
        server.reply("Quantization lowers the precision of weights [1]. See also [9].")
        settings = indexed.model_copy(update={"openai_base_url": server.base_url, "backend": "openai"})
        answer = Assistant(settings, embedder=embedder).ask("What is quantization?", k=3)
        assert len(server.chat_requests) == 1
    assert answer.found and [c.n for c in answer.citations] == [1]
    assert answer.answer == "Quantization lowers the precision of weights [1]. See also."  # [9] named nothing shown
    quotes_are_exact(answer, indexed)
