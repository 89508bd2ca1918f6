"""Exporting cited answers as markdown notes: footnotes, links back, front matter, safe file names and writes."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from assistant.export import (
    ExportError,
    answer_markdown,
    check_target,
    conversation_markdown,
    footnoted,
    slug,
    write_export,
)
from ingest.types import Answer, Chunk, Citation, Hit
from tests.conftest import write_vault

ASKED = dt.datetime(2026, 11, 30, 9, 15, tzinfo=dt.UTC)
REREAD = str(Path(sys.executable).parent / "reread")


def cite(n, source="notes/llm.md", heading="Basics > Tokenization", page=None, quote="Tokens are pieces of words."):
    return Citation(n=n, source=source, title="LLM notes", heading=heading, page=page, chunk_id=f"c{n}",
                    start=10, end=10 + len(quote), quote=quote)


def answer(text="Tokenization splits text [1]. PDFs say so too [2].", citations=None, question="What is tokenization?",
           **kw):
    cs = citations if citations is not None else [cite(1), cite(2, "books/deep learning.pdf", "", 12, "A token.")]
    return Answer(question, text, cs, "extractive", True, **kw)


def front(md: str) -> dict:
    assert md.startswith("---\n")
    return yaml.safe_load(md[4:md.index("\n---\n", 4)])


def footnote_quote(md: str, label: str) -> str:
    """The block quote under footnote [^label], with the markdown quoting taken off."""
    after = md.split(f"\n[^{label}]: ", 1)[1].split("\n", 2)[2]
    lines = []
    for line in after.split("\n"):
        if not line.startswith("    >"):
            break
        lines.append(line[len("    > "):] if line.startswith("    > ") else "")
    return "\n".join(lines)


def test_answer_becomes_a_note_with_footnotes_and_links_back():
    md = answer_markdown(answer(), asked_at=ASKED)
    meta = front(md)
    assert meta == {"question": "What is tokenization?", "asked_at": "2026-11-30T09:15:00+00:00",
                    "backend": "extractive", "model": None,
                    "sources": ["notes/llm.md", "books/deep learning.pdf"], "tags": ["reread"]}
    assert "## What is tokenization?" in md
    assert "Tokenization splits text [^1]. PDFs say so too [^2]." in md
    assert "\n[^1]: [[notes/llm#Tokenization]]\n" in md  # the heading is the breadcrumb's last part
    assert "\n[^2]: [[books/deep learning.pdf#page=12]]\n" in md
    assert footnote_quote(md, "1") == "Tokens are pieces of words."
    assert footnote_quote(md, "2") == "A token."


def test_a_multiline_quote_is_kept_exactly():
    quote = "Steps:\n\n1. Split   the text.\n  - keep *this*"
    md = answer_markdown(answer("Do it [1].", [cite(1, quote=quote)]), asked_at=ASKED, model="gpt-x")
    assert footnote_quote(md, "1") == quote
    assert front(md)["model"] == "gpt-x"


def test_note_without_heading_and_unsafe_heading_characters():
    md = answer_markdown(answer("A [1] and B [2].", [cite(1, heading=""), cite(2, heading="X > C# | [draft]^")]),
                         asked_at=ASKED)
    assert "[^1]: [[notes/llm]]\n" in md
    assert "[^2]: [[notes/llm#C draft]]\n" in md


def test_relative_links_are_relative_to_the_export_folder(tmp_path):
    vault = tmp_path / "vault"
    md = answer_markdown(answer(), asked_at=ASKED, links="relative", vault_root=vault,
                         export_dir=vault / "reread-answers")
    assert "[^1]: [LLM notes > Tokenization](../notes/llm.md#tokenization)\n" in md
    assert "[^2]: [LLM notes, p. 12](../books/deep%20learning.pdf#page=12)\n" in md
    assert "[[" not in md


@pytest.mark.parametrize("question", [
    'C:\\Users\\me "quoted" it\'s: a #tag',
    "line one\n---\nkey: value\n...",
    "- yes\n? no: [1] {a: b} & *ref !tag %x @y `z` |",
    "null", "true", "2026-11-30", "0o17", "   leading and trailing   ", "émoji ✓ 日本語",
])
def test_nasty_questions_round_trip_through_yaml(question):
    md = answer_markdown(answer(question=question), asked_at=ASKED)
    assert front(md)["question"] == question
    assert md.count("\n---\n") == 1  # the front matter closes once: a "---" in the question cannot end it


def test_only_real_markers_become_footnotes():
    assert footnoted(r"Array \[12\] stays; cited [1]; grouped [1, 2]", {1, 2}) == \
        r"Array \[12\] stays; cited [^1]; grouped [^1][^2]"
    assert footnoted("stray [7] and [1, 7]", {1}) == r"stray \[7\] and \[1, 7\]"


def test_refusal_exports_not_found_and_the_nearest_passages():
    chunk = Chunk(id="x", source="notes/llm.md", kind="note", title="LLM notes", heading="Basics > Sampling",
                  page=None, start=0, end=40, text="Temperature   changes\nhow random the output is.")
    refusal = Answer("Boiling point of tungsten?", "Your notes don't seem to answer this.", [], "extractive",
                     False, nearest=[Hit(chunk, 1, 0.3)])
    md = answer_markdown(refusal, asked_at=ASKED)
    assert "Your notes don't seem to answer this." in md
    assert "- [[notes/llm#Sampling]]: Temperature changes how random the output is." in md
    assert "[^" not in md and front(md)["sources"] == []


def test_a_conversation_numbers_footnotes_on_through_the_turns():
    turns = [answer(), answer("Follow-up [1].", [cite(1, quote="Second quote.")], question="And then?")]
    md = conversation_markdown(turns, asked_at=ASKED)
    meta = front(md)
    assert meta["question"] == "What is tokenization?" and meta["questions"] == ["What is tokenization?", "And then?"]
    assert md.index("## What is tokenization?") < md.index("## And then?")
    assert "Follow-up [^3]." in md and footnote_quote(md, "3") == "Second quote."
    assert len(re.findall(r"^\[\^\d+\]: ", md, re.M)) == 3
    assert conversation_markdown(turns[:1], asked_at=ASKED) == answer_markdown(turns[0], asked_at=ASKED)


def test_export_dir_names_from_date_and_question_and_never_overwrites(tmp_path):
    out = tmp_path / "vault" / "reread-answers"
    paths = [write_export(f"v{i}", directory=out, question="What is tokenization?", now=ASKED) for i in range(3)]
    assert [p.name for p in paths] == ["2026-11-30-what-is-tokenization.md", "2026-11-30-what-is-tokenization-2.md",
                                       "2026-11-30-what-is-tokenization-3.md"]
    assert [p.read_text() for p in paths] == ["v0", "v1", "v2"]
    assert sorted(os.listdir(out)) == sorted(p.name for p in paths)  # no temp file left behind
    assert slug("  Why?!  ") == "why" and slug("???") == "answer" and slug("Qu'est-ce qu'un «token»") == \
        "qu-est-ce-qu-un-token"
    assert len(slug("word " * 40)) <= 60


def test_export_file_creates_folders_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "answer.md"
    assert write_export("one", file=target) == target
    write_export("two", file=target)
    assert target.read_text() == "two" and os.listdir(target.parent) == ["answer.md"]


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out" / "answer.md"

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        write_export("text", file=target)
    assert os.listdir(target.parent) == []


def test_unwritable_targets_fail_before_answering(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ExportError, match="folder"):
        check_target(file=tmp_path / "folder")
    with pytest.raises(ExportError, match="not a folder"):
        check_target(directory=tmp_path / "plain" / "sub")
    check_target(directory=tmp_path / "new" / "deeper")  # creatable: fine, and nothing is created
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_ask_exports_into_the_vault(tmp_path):
    """Index a small vault, ask with --export-dir: the note's footnote quotes the note exactly, and links to it."""
    note = "# Basics\n\n## Tokenization\n\nTokenization splits text into tokens, small pieces of words.\n"
    vault = write_vault(tmp_path / "vault", {"notes/llm.md": note,
                                             "notes/other.md": "# Cooking\n\nBake bread at 220 degrees.\n"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
    env.update(REREAD_NOTES_DIR=str(vault), REREAD_INDEX_DIR=str(tmp_path / "index"), HF_HUB_OFFLINE="1")

    def run(*args):
        return subprocess.run([REREAD, *args], capture_output=True, text=True, env=env, timeout=300)

    assert run("index", "--json").returncode == 0
    p = run("ask", "What is tokenization?", "--export", "x.md", "--export-dir", "y")
    assert p.returncode == 2 and "not both" in p.stderr and p.stdout == ""
    out = vault / "reread-answers"
    p = run("ask", "What is tokenization?", "--export-dir", str(out), "--json")
    assert p.returncode == 0, p.stderr
    reply = json.loads(p.stdout)
    [path] = out.iterdir()
    assert f"exported to {path}" in p.stderr and path.name.endswith("-what-is-tokenization.md")
    md = path.read_text(encoding="utf-8")
    c = reply["citations"][0]
    assert footnote_quote(md, str(c["n"])) == note[c["start"]:c["end"]]
    assert f"[^{c['n']}]: [[notes/llm#Tokenization]]" in md and front(md)["sources"][0] == "notes/llm.md"


def test_a_note_with_footnotes_is_answered_and_exported_without_borrowing_the_exports_footnotes(tmp_path,
                                                                                                  fake_embedder):
    """A paper note cites its sources with footnotes. The answer says none of its markers ("... Decoder [^1]
    network" was said raw), and the export escapes those in its quotes: a quoted "[^1]" would point at the
    export's own footnote 1, and a quoted "[^1]: ..." define it. Unescaped, each quote is the passage exactly."""
    from assistant.facade import Assistant
    from ingest.settings import Settings

    note = ("# Neural Machine Translation\n\n## Overview\n\n"
            "This paper proposed an improvement to the RNN Encoder-Decoder [^1] network, adding an attention "
            "mechanism to the decoder.[^2] It translated long sentences far better than the encoder-decoder did.\n\n"
            "## References\n\n"
            "[^1]: Cho and colleagues learned phrase representations with an RNN encoder-decoder in 2014.\n"
            "[^2]: Brauwers and Frasincar surveyed attention mechanisms in deep learning in 2023.\n")
    vault = write_vault(tmp_path / "vault", {"papers/nmt.md": note, "notes/other.md": "# Bread\n\nBake at 220.\n"})
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive"),
                    embedder=fake_embedder)
    app.index()
    turns = [app.ask("What did the paper add to the RNN encoder-decoder network?"),
             app.ask("Who learned phrase representations with an RNN encoder-decoder?")]
    assert all(a.found for a in turns) and "[^" not in " ".join(a.answer for a in turns)
    assert "attention mechanism to the decoder" in turns[0].answer and turns[1].answer.startswith("Cho and colleagues")
    md = conversation_markdown(turns, asked_at=ASKED)
    cited = [c for a in turns for c in a.citations]
    labels = [str(n) for n in range(1, len(cited) + 1)]
    assert re.findall(r"(?m)^\[\^(\d+)\]:", md) == labels  # the export's own footnotes, and no others
    assert set(re.findall(r"(?<!\\)\[\^(\d+)\]", md)) == set(labels)
    for label, c in zip(labels, cited, strict=True):
        quoted = footnote_quote(md, label)
        assert not re.search(r"(?<!\\)\[\^", quoted)  # no footnote of the export's own inside a quote
        assert re.sub(r"\\(\[)", r"\1", quoted) == note[c.start:c.end] == c.quote


GOLDEN = Path(__file__).parent / "golden"
GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name,reply", [
    ("note-answer.md", Answer(
        "How are tokens made?", "Tokenization splits text into tokens [1]. A token is about ¾ of a word [2].",
        [cite(1, quote="Tokenization splits text into tokens,\nsmall pieces of words."),
         cite(2, "notes/tokens & words.md", "Sizes > Rules of thumb", quote="A token is about ¾ of a word.")],
        "extractive", True)),
    ("pdf-answer.md", Answer(
        "How was GPT pretrained?", "With language modeling: the target is the input shifted by one token [1].",
        [cite(1, "books/large-scale-pretraining-with-transformers.pdf", "", 4,
              "The target sequence is the input sequence\nshifted by one token.")],
        "openai", True, model="gpt-4o-mini")),
])
@pytest.mark.parametrize("links", ["wikilink", "relative"])
def test_exports_match_their_golden_files(name, reply, links):
    """The whole exported note, byte for byte: front matter, answer, footnotes quoting and linking back.
    After an intended format change, rewrite them with UPDATE_GOLDEN=1 and read the diff."""
    md = answer_markdown(reply, asked_at=ASKED, links=links)
    path = GOLDEN / (name if links == "wikilink" else name.replace(".md", ".relative.md"))
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(md, encoding="utf-8")
    assert md == path.read_text(encoding="utf-8")
    markers = set(re.findall(r"\[\^(\d+)\](?!:)", md))
    definitions = set(re.findall(r"^\[\^(\d+)\]:", md, re.M))
    assert markers == definitions == {str(c.n) for c in reply.citations}
