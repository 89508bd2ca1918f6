"""Sections -> chunks: exact offsets, breadcrumbs, sentence-aware packing, overlap, the model's window."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ingest.chunker import Chunker, ChunkerConfig, chunk_id, embed_view, header, named
from ingest.markdown import parse_markdown
from ingest.models import WINDOW, model_dir
from ingest.sources import parse_source
from ingest.spans import layout, units
from ingest.tokens import TokenCounter
from ingest.types import Chunk, ParsedDocument, Section
from tests.conftest import default_chunker

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_NOTES = sorted((ROOT / "data" / "notes").glob("*.md"))
TOKENIZER_JSON = model_dir("all-MiniLM-L6-v2") / "tokenizer.json"


@functools.cache
def counter() -> TokenCounter:
    return TokenCounter(TOKENIZER_JSON, WINDOW)


@functools.cache
def _model_tokenizer():
    """The model's tokenizer as the model uses it, minus the bundled file's truncation and padding at 128."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(TOKENIZER_JSON))
    tok.no_truncation()
    tok.no_padding()
    return tok


def model_tokens(text: str) -> int:
    """Word pieces the model reads for text, [CLS] and [SEP] included."""
    return len(_model_tokenizer().encode(text, add_special_tokens=True).ids)


def chunk_note(raw: str, source: str = "notes/n.md", size: int = 200, overlap: int = 40
               ) -> tuple[ParsedDocument, list[Chunk]]:
    doc = parse_markdown(source, raw)
    return doc, Chunker(counter(), ChunkerConfig(size, overlap)).chunk(doc)


def sentences_about(topic: str, n: int) -> str:
    return " ".join(f"Sentence {i} says something about {topic} in a handful of words." for i in range(n))


def assert_sections(doc: ParsedDocument, c: Chunk) -> None:
    """A chunk opens in the section named by its heading and ends in it, or in the last of the consecutive
    subsections packed in after it, each listed with where its heading lines start, where its body starts and its
    heading in metadata["sections"]."""
    order = [s for s in doc.sections if s.page == c.page]
    [first] = [i for i, s in enumerate(order) if s.heading == c.heading and s.start <= c.start < s.end]
    later = c.metadata.get("sections") or []
    spanned = order[first:first + 1 + len(later)]
    expected = [(above.end, s.start, s.heading) for above, s in zip(spanned, spanned[1:], strict=False)]
    assert expected == [tuple(x) for x in later], "packed sections out of order"
    for above, below in zip(spanned, spanned[1:], strict=False):
        assert not above.heading or below.heading.startswith(above.heading + " > "), "only a subsection is packed in"
    assert c.end <= spanned[-1].end, "a chunk left its sections"
    for s in spanned:
        assert c.heading_at(max(c.start, s.start)) == s.heading
    for hs, bs, _ in later:
        assert c.in_heading(hs) and not c.in_heading(bs)


def assert_invariants(doc: ParsedDocument, chunks: list[Chunk]) -> None:
    """The contract every chunk of every document keeps (DESIGN.md: offsets invariant, window)."""
    for c in chunks:
        text = doc.texts[c.page]
        assert text[c.start:c.end] == c.text
        assert 0 <= c.start < c.end <= len(text)
        assert_sections(doc, c)
        assert model_tokens(c.embed_text) <= WINDOW
        hdr = header(named(doc.title, doc.metadata.get("aliases")), c.heading)
        assert c.embed_text.startswith(hdr) or hdr.startswith(c.embed_text)
        assert hdr not in c.text or hdr in text


# --- the offsets invariant on real notes ------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_NOTES, ids=lambda p: p.name)
def test_sample_vault_notes_keep_offsets_and_window(path):
    """The shipped sample vault must index cleanly: every chunk is raw[start:end] and fits the model."""
    doc = parse_source(f"notes/{path.name}", path, 20_000_000)
    chunks = Chunker(counter(), ChunkerConfig()).chunk(doc)
    assert chunks
    assert_invariants(doc, chunks)


def test_the_model_reads_a_notes_aliases_with_its_title():
    """An alias is another title: every chunk's embedded header names it, and the offsets are untouched."""
    raw = "---\naliases: [Doggo, Woofer]\n---\n# Dog\n\n## Walks\n\nTwo walks a day keep the dog calm.\n"
    doc = parse_markdown("Dog.md", raw)
    chunks = Chunker(counter(), ChunkerConfig()).chunk(doc)
    assert [c.embed_text.splitlines()[0] for c in chunks] == ["Dog (Doggo, Woofer) > Walks"]
    assert_invariants(doc, chunks)


def test_corpus_note_offsets_refer_to_the_raw_file_bytes():
    """Offsets index the file's bytes decoded as UTF-8, not a cleaned or normalised copy."""
    path = DATA / "obsidian-note.md"
    doc = parse_source("obsidian-note.md", path, 1_000_000)
    raw = path.read_bytes().decode("utf-8")
    chunks = Chunker(counter(), ChunkerConfig()).chunk(doc)
    assert chunks
    for c in chunks:
        assert raw[c.start:c.end] == c.text
    assert_invariants(doc, chunks)


# --- breadcrumbs and the context header -------------------------------------------------------------------------


def test_chunk_carries_breadcrumb_and_note_title():
    """Each chunk knows its note title and heading path, e.g. 'Chapter 1 > Self-supervision'."""
    raw = "# Deep Learning\n\n## Chapter 1\n\n### Self-supervision\n\nLabels come from the data.\n"
    doc, chunks = chunk_note(raw)
    assert [(c.title, c.heading) for c in chunks] == [("Deep Learning", "Chapter 1 > Self-supervision")]


def test_context_header_is_embedded_but_never_displayed():
    """The model reads 'Title > Breadcrumb' first; the stored display text is the raw span only."""
    raw = "# Deep Learning\n\n## Chapter 1\n\nLabels come from the data.\n"
    _, [c] = chunk_note(raw)
    assert c.embed_text == "Deep Learning > Chapter 1\nLabels come from the data."
    assert c.text == "Labels come from the data."
    assert "Deep Learning" not in c.text


def test_chunks_never_straddle_a_top_level_section():
    """Two short parts would fit one chunk, but a chunk never mixes sections."""
    raw = "---\ntitle: Book\n---\n# Part One\n\nFirst part text.\n\n# Part Two\n\nSecond part text.\n"
    _, chunks = chunk_note(raw)
    assert [(c.heading, c.text) for c in chunks] == [("Part One", "First part text."),
                                                     ("Part Two", "Second part text.")]


# --- sentence-aware packing and overlap -------------------------------------------------------------------------


def _long_note(n: int = 60) -> str:
    return "# Notes\n\n## Long section\n\n" + sentences_about("retrieval", n) + "\n"


def test_long_section_splits_at_sentence_boundaries():
    """Chunks begin and end on sentence boundaries, so a quote never starts mid-sentence."""
    raw = _long_note()
    doc, chunks = chunk_note(raw)
    assert len(chunks) > 2
    sec = doc.sections[-1]
    starts = {u.start for u in units(raw, sec.start, sec.end)}
    ends = {u.end for u in units(raw, sec.start, sec.end)}
    for c in chunks:
        assert c.start in starts and c.end in ends


def test_prose_chunks_stay_within_the_chunk_size():
    """chunk_size counts the embedded text with its header, in the model's own word pieces."""
    _, chunks = chunk_note(_long_note(), size=120)
    assert all(model_tokens(c.embed_text) <= 120 for c in chunks)


def test_consecutive_chunks_overlap_by_a_few_whole_sentences():
    """Small overlap: the next chunk repeats whole trailing sentences, at most chunk_overlap word pieces."""
    raw = _long_note()
    doc, chunks = chunk_note(raw, overlap=40)
    sec = doc.sections[-1]
    starts = {u.start for u in units(raw, sec.start, sec.end)}
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start < a.end, "no overlap"
        assert a.start < b.start, "the next chunk must move forward"
        assert b.start in starts
        assert counter().count(raw[b.start:a.end]) <= 40


def test_zero_overlap_shares_no_text():
    """chunk_overlap=0 gives back-to-back chunks."""
    _, chunks = chunk_note(_long_note(), overlap=0)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start >= a.end


def test_a_sentence_longer_than_the_budget_is_cut_at_word_boundaries():
    """One giant run-on sentence still fits the window, and is cut between words, not inside one."""
    words = " ".join(f"word{i}" for i in range(600))
    raw = f"# Run-on\n\n{words}.\n"
    doc, chunks = chunk_note(raw)
    assert len(chunks) > 1
    for c in chunks:
        assert raw[c.start - 1] == " " or raw[c.start - 2:c.start] == "\n\n"
        assert raw[c.end] in " .\n"
        assert model_tokens(c.embed_text) <= 200
    assert_invariants(doc, chunks)


@pytest.mark.parametrize("item", ["{i}. go", "- [ ] task {i}", "- item{i}"])
def test_a_long_list_is_embedded_in_full(item):
    """Every word of a chunk's display text must reach the model; nothing may be cut silently by fit()."""
    raw = "# Checklist\n\n" + "".join(item.format(i=i) + "\n" for i in range(1, 200))
    doc, chunks = chunk_note(raw)
    for c in chunks:
        assert c.embed_text == header(doc.title, c.heading) + embed_view(c.text, "note")


# --- code blocks ------------------------------------------------------------------------------------------------

LONG_CODE = "```python\n" + "\n".join(f"value_{i} = compute(value_{i - 1}, step={i})" for i in range(1, 150)) + "\n```"


def test_code_block_longer_than_the_window_is_one_display_chunk():
    """A code block is never split for display; only its embedded text is cut to fit the window. The line
    introducing it stays in front of it (and is what the model reads first)."""
    raw = f"# Code\n\nSome intro.\n\n{LONG_CODE}\n\nAfter the code.\n"
    doc, chunks = chunk_note(raw)
    code = [c for c in chunks if "```" in c.text]
    assert len(code) == 1
    assert code[0].text == "Some intro.\n\n" + LONG_CODE
    assert counter().count(code[0].text) > WINDOW
    assert model_tokens(code[0].embed_text) <= WINDOW
    assert code[0].embed_text.startswith("Code\nSome intro.\n```python\nvalue_1 = compute")
    assert [c.text for c in chunks if c is not code[0]] == ["After the code."]
    assert_invariants(doc, chunks)


def test_code_block_with_blank_lines_and_hashes_stays_whole():
    """'# comment' lines and blank lines inside a fence neither start a section nor split the block."""
    block = "```bash\n# install\npip install x\n\n# run\nx --help\n```"
    _, chunks = chunk_note(f"## Setup\n\n{block}\n")
    assert [(c.heading, c.text) for c in chunks] == [("Setup", block)]


def test_code_block_embed_text_keeps_the_code():
    """Code is kept whole: operators and generics in a fence are code, not markdown emphasis or HTML."""
    block = "```java\nList<String> names = load(**kwargs);\n```"
    _, [c] = chunk_note(f"## Snippet\n\n{block}\n")
    assert "List<String>" in c.embed_text and "**kwargs" in c.embed_text


# --- structure: lead-ins, lists, tables, callouts (a software-help page) ----------------------------------------

EMBED_HELP = """# Embed files

Learn how you can embed other notes and media into your notes.

## Embed a note in another note

To embed a note:

```md
![[Internal links]]
```

You can also embed links to [[Internal links#Heading|headings]] and [[Internal links#^b15695|blocks]].

```md
![[Internal links#^b15695]]
```
"""


def _budget_filler(topic: str, raw_after: str, fits: bool = False) -> str:
    """The smallest filler that makes the section overflow one chunk (or the largest that does not)."""
    for n in range(1, 40):
        raw = f"## Section\n\n{sentences_about(topic, n)}\n\n{raw_after}"
        if len(chunk_note(raw)[1]) > 1:
            return f"## Section\n\n{sentences_about(topic, n - 1 if fits else n)}\n\n{raw_after}"
    raise AssertionError("never overflowed")


def test_user_story_to_embed_a_note_is_retrieved_with_its_example():
    """The help page's "To embed a note:" is useless on its own: it is one chunk with the example it introduces
    and the small blocks around it, not a 4-word fragment."""
    doc, chunks = chunk_note(EMBED_HELP)
    [embed] = [c for c in chunks if "To embed a note:" in c.text]
    assert embed.heading_at(embed.start + embed.text.index("To embed a note:")) == "Embed a note in another note"
    assert "![[Internal links]]" in embed.text and "![[Internal links#^b15695]]" in embed.text
    assert "To embed a note:\n```md\n![[Internal links]]\n```" in embed.embed_text
    assert min(len(c.text.split()) for c in chunks) > 4
    assert_invariants(doc, chunks)


@pytest.mark.parametrize("block", ["```md\n![[Internal links]]\n```", "- first item\n- second item",
                                   "| Action | Hotkey |\n|---|---|\n| Save | Ctrl+S |"])
def test_a_lead_in_at_the_edge_of_a_chunk_moves_on_with_what_it_introduces(block):
    """Where the budget runs out right after "To embed a note:", the lead-in opens the next chunk instead of
    ending this one; no chunk ends on the colon."""
    raw = _budget_filler("embedding", f"To embed a note:\n\n{block}\n")
    doc, chunks = chunk_note(raw)
    assert len(chunks) > 1
    [holding] = [c for c in chunks if "To embed a note:" in c.text]
    assert holding.text.endswith(block)
    assert not any(c.text.endswith(":") for c in chunks)
    assert_invariants(doc, chunks)


def test_a_paragraph_right_before_a_list_is_its_lead_in():
    """No colon needed: the paragraph directly before a list stays with the list's first items."""
    items = "".join(f"- Step {i} is done with care.\n" for i in range(1, 4))
    raw = _budget_filler("setup", f"Then follow the steps below\n{items}")
    _, chunks = chunk_note(raw)
    [holding] = [c for c in chunks if "Then follow the steps below" in c.text]
    assert "Step 1 is done with care." in holding.text


def test_small_blocks_of_a_section_share_one_chunk():
    """Paragraphs, small code blocks, a list and a callout of one section are packed up to the budget: a code block
    no longer ends a chunk."""
    raw = ("## Lists\n\nUnordered:\n\n```md\n- a\n- b\n```\n\nOrdered:\n\n```md\n1. a\n2. b\n```\n\n"
           "- Use `Tab` to indent.\n- Use `Shift+Tab` to unindent.\n\n"
           "> [!tip] Nesting\n> Any list nests in any other.\n")
    doc, [c] = chunk_note(raw)
    assert c.text == raw[raw.index("Unordered:"):].rstrip("\n")
    assert_invariants(doc, [c])


def test_a_long_list_splits_between_items_and_no_chunk_opens_on_half_an_item():
    """Items are cut apart, never inside; the overlap repeats whole items, never the tail of one."""
    items = [f"Item {i} has a first sentence. And item {i} has a second sentence too." for i in range(40)]
    raw = "## List\n\nThe items:\n\n" + "".join(f"- {it}\n" for it in items)
    doc, chunks = chunk_note(raw)
    starts = {raw.index(it) for it in items}
    ends = {raw.index(it) + len(it) for it in items}
    assert len(chunks) > 2 and chunks[0].text.startswith("The items:")
    assert all(c.start in starts for c in chunks[1:])
    assert all(c.end in ends for c in chunks)
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False)), "whole items still overlap"
    assert_invariants(doc, chunks)


def test_a_table_that_fits_is_kept_whole_with_its_lead_in():
    rows = "".join(f"| Command {i} | `Ctrl+{i}` |\n" for i in range(6))
    table = "| Action | Hotkey |\n|---|---|\n" + rows
    raw = _budget_filler("hotkeys", "The defaults:\n\n" + table)
    doc, chunks = chunk_note(raw)
    assert len(chunks) > 1
    [holding] = [c for c in chunks if "Command" in c.text]
    assert holding.text.endswith("The defaults:\n\n" + table.rstrip("\n"))
    assert_invariants(doc, chunks)


def test_a_long_table_splits_at_rows_and_each_part_embeds_the_header_row():
    """A table longer than a chunk is cut between rows, never inside one, and rows are not repeated; a part that
    opens inside the table embeds the table's header row so its columns keep their names."""
    rows = [f"| `op{i}:` | Finds text number {i} in a note, with a few more words. |" for i in range(40)]
    raw = "## Operators\n\n| Operator | Description |\n|---|---|\n" + "\n".join(rows) + "\n"
    doc, chunks = chunk_note(raw)
    assert len(chunks) > 2
    assert chunks[0].text.startswith("| Operator | Description |\n|---|---|\n| `op0:`")
    for c in chunks[1:]:
        assert set(c.text.splitlines()) <= set(rows)
        assert c.embed_text.startswith(header(doc.title, c.heading) + "| Operator | Description |\n| `op")
        assert "|---|" not in c.embed_text
    assert sum(len(c.text.splitlines()) for c in chunks[1:]) + len(chunks[0].text.splitlines()) - 2 == len(rows)
    assert_invariants(doc, chunks)


def test_a_table_without_outer_pipes_is_a_table_too():
    """'a | b' over '--- | ---' is a table (the pipes at the ends are optional)."""
    raw = "## T\n\nFirst Header | Second Header\n------------ | ------------\nCell 1 | Cell 2\n"
    _, [c] = chunk_note(raw)
    assert c.text == "First Header | Second Header\n------------ | ------------\nCell 1 | Cell 2"
    assert "----" not in c.embed_text


def test_a_callout_title_stays_with_its_body():
    """'> [!tip] Callouts can have custom titles' never ends a chunk cut off from '> Like this one.'"""
    raw = _budget_filler("callouts", "> [!tip] Callouts can have custom titles\n> Like this one, with a body.\n")
    doc, chunks = chunk_note(raw)
    assert len(chunks) > 1
    [holding] = [c for c in chunks if "custom titles" in c.text]
    assert holding.text.endswith("Callouts can have custom titles\n> Like this one, with a body.")
    assert_invariants(doc, chunks)


def test_no_overlap_is_carried_into_a_code_block():
    """A chunk that opens on a code block opens right at its fence; the overlap is for prose."""
    code = "```python\n" + "\n".join(f"x{i} = {i}" for i in range(40)) + "\n```"
    raw = f"## S\n\n{sentences_about('code', 9)}\n\n---\n\n{code}\n"
    doc, chunks = chunk_note(raw)
    assert [c.text for c in chunks if "```" in c.text] == [code]
    assert_invariants(doc, chunks)


@pytest.mark.parametrize("n", range(12, 28))
def test_no_fragment_is_left_at_the_end_of_a_section(n):
    """A section a little over one chunk is cut into two even parts, not a full chunk and a few-word tail."""
    _, chunks = chunk_note("## S\n\n" + sentences_about("balance", n) + " Done.\n", overlap=0)
    assert min(len(c.text.split()) for c in chunks) >= 20


def test_code_inside_a_chunk_is_embedded_as_written_and_prose_around_it_cleaned():
    """Mixed chunks: the prose loses its markup, the code keeps every character."""
    raw = "## S\n\nRun **this**:\n\n```java\nList<String> names = load(**kwargs);\n```\n\nThen [[Next|continue]].\n"
    _, [c] = chunk_note(raw)
    assert c.embed_text == "n > S\nRun this:\n```java\nList<String> names = load(**kwargs);\n```\nThen continue."


def test_a_fence_inside_a_callout_is_not_code_on_its_own():
    """A chunk may open on '```md' inside a callout; it is quoted text there, not a code block to embed raw."""
    callout = "> [!note]-\n>  ```md\n> > [!note]\n> > Lorem ipsum number {i}\n> ```\n\n---\n\n"
    doc, chunks = chunk_note("## Types\n\n" + "".join(callout.format(i=i) for i in range(30)))
    assert any(c.text.startswith("```md") for c in chunks)
    assert all(model_tokens(c.embed_text) <= 202 for c in chunks)
    assert_invariants(doc, chunks)


def test_a_longer_fence_is_not_closed_by_the_example_fences_inside_it():
    """A ````md fence shows a ```mermaid example: the whole example is one code block."""
    block = "````md\n```mermaid\ngraph TD\n\nBiology --> Chemistry\n```\n````"
    _, chunks = chunk_note(f"## Diagram\n\n{block}\n")
    assert [c.text for c in chunks] == [block]


def test_a_pdf_page_is_prose_even_where_a_line_opens_with_a_bullet():
    """pypdf's text has no blank lines: a '•' line runs on to the page's end, so it is no list item; chunks of a
    page still overlap by whole sentences."""
    lines = [("• " if i % 10 == 3 else "") + f"Line {i} of the page says something about attention." for i in range(80)]
    text = "\n".join(lines)
    doc = ParsedDocument("b.pdf", "pdf", "Book", {1: text}, [Section("", 0, len(text), page=1)], {"tags": []})
    chunks = default_chunker().chunk(doc)
    assert len(chunks) > 2
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False))
    assert_invariants(doc, chunks)


def test_the_chunk_size_benchmark_runs_and_prints_json(tmp_path):
    """benchmarks/chunks.py is how the figures in the report were made; it must keep running (no torch needed)."""
    vault = tmp_path / "vault"
    (vault / "notes").mkdir(parents=True)
    (vault / "notes" / "embed.md").write_text(EMBED_HELP, encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "chunks.py"), "--vault", str(vault)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["notes"] == 1 and out["chunks"] >= 1 and out["le_10_words_in_larger_sections"] == 0
    assert out["ends_with_colon"] == 0 and out["code_only_chunks"] == 0


# --- Obsidian syntax in chunks ----------------------------------------------------------------------------------


def test_chunks_holding_highlights_are_flagged_in_metadata():
    """==highlights== are kept in the text and listed in the chunk's metadata; other chunks list none."""
    raw = "## A\n\nPlain text here.\n\n## B\n\nThis is ==the key idea== of the book.\n"
    _, chunks = chunk_note(raw)
    assert [(c.heading, c.metadata["highlights"]) for c in chunks] == [("A", []), ("B", ["the key idea"])]
    assert "==the key idea==" in chunks[1].text
    assert "the key idea" in chunks[1].embed_text and "==" not in chunks[1].embed_text


def test_a_highlight_cut_by_a_chunk_boundary_flags_both_chunks():
    """A multi-sentence highlight may span two chunks; each chunk holding part of it is a highlight chunk."""
    quote = "==The key claim is here. It spans two sentences. And a third one.=="
    for k in range(10, 40):
        raw = "# T\n\n" + sentences_about("filler", k) + " " + quote + " " + sentences_about("after", 12) + "\n"
        _, chunks = chunk_note(raw, overlap=0)
        hs, he = raw.index(quote), raw.index(quote) + len(quote)
        holding = [c for c in chunks if c.start < he and c.end > hs]
        if len(holding) > 1:
            break
    else:
        pytest.skip("no chunk boundary fell inside the highlight")
    assert all(c.metadata["highlights"] for c in holding)


def test_images_are_dropped_from_embedded_text_only():
    """![[image.png]] and <img> carry no words: not embedded, but the display text is still the raw span."""
    raw = '## Figures\n\nSee the plot ![[plot.png]] and <img src="a.png"> here.\n'
    _, [c] = chunk_note(raw)
    assert c.text == 'See the plot ![[plot.png]] and <img src="a.png"> here.'
    assert c.embed_text.endswith("\nSee the plot and here.")


def test_an_image_only_paragraph_makes_no_chunk():
    """A paragraph that is only an embed has nothing to embed."""
    _, chunks = chunk_note("## Figures\n\n![[plot.png]]\n\nReal text.\n")
    assert [c.text for c in chunks] == ["Real text."]


def test_wikilinks_and_callouts_read_as_text_in_the_embedding():
    """[[target|alias]] reads as 'alias'; a callout's title stays as text."""
    raw = "## Ideas\n\n> [!note] Key idea\n> Read [[Dark Matter|the dark matter post]] and [[SimCLR]].\n"
    _, [c] = chunk_note(raw)
    assert "Key idea" in c.embed_text
    assert "Read the dark matter post and SimCLR." in c.embed_text
    assert "[[" not in c.embed_text
    assert c.text.startswith("Key idea")


def test_chunk_metadata_carries_tags_author_and_front_matter():
    """Filters and citations need the note's tags, author and front matter on every chunk."""
    raw = "---\ntitle: T\nauthor: Ada\ntags: [ml]\n---\n## S\n\nText with #nlp.\n"
    _, [c] = chunk_note(raw)
    assert c.metadata["tags"] == ["ml", "nlp"]
    assert c.metadata["author"] == "Ada"
    assert c.metadata["frontmatter"] == {"title": "T", "author": "Ada", "tags": ["ml"]}


def test_whitespace_only_sections_make_no_chunks():
    """Headings with nothing under them produce no empty chunks."""
    _, chunks = chunk_note("# A\n\n## B\n\n   \n\n## C\n\nText.\n")
    assert [c.text for c in chunks] == ["Text."]


# --- ids --------------------------------------------------------------------------------------------------------


def test_chunk_ids_are_stable_and_repeated_text_gets_distinct_ids():
    """Same source + same text + occurrence -> same id across runs; a repeated paragraph is a new occurrence."""
    raw = "## A\n\nSame words.\n\n## B\n\nSame words.\n"
    _, first = chunk_note(raw)
    _, again = chunk_note(raw)
    assert [c.id for c in first] == [c.id for c in again]
    assert first[0].id != first[1].id
    assert first[0].id == chunk_id("notes/n.md", "Same words.", 0)
    assert first[1].id == chunk_id("notes/n.md", "Same words.", 1)


def test_chunk_id_depends_on_the_source():
    """Two notes with the same sentence keep separate ids in one index."""
    _, [a] = chunk_note("Same words.\n", source="notes/a.md")
    _, [b] = chunk_note("Same words.\n", source="notes/b.md")
    assert a.id != b.id


# --- the tokenizer ----------------------------------------------------------------------------------------------


def test_token_counter_does_not_truncate_at_128():
    """The bundled tokenizer.json truncates at 128; counting must see every word piece."""
    text = " ".join(["word"] * 300)
    assert counter().count(text) == 300
    assert model_tokens(counter().fit(text)) == WINDOW


def test_a_chunks_summed_count_is_its_texts_count_within_the_fit_slack():
    """The chunker skips re-tokenizing a chunk to cut it when its sentences' summed count is FIT_SLACK under the
    window; that is safe while the sum never falls short of the chunk's count by that much. (Summed counts run
    over, never under, by more than 3 on three vaults' 1,865 chunks; over only costs a tokenization.)"""
    from ingest.chunker import FIT_SLACK

    chunker = Chunker(counter(), ChunkerConfig())
    short = []
    for path in [*SAMPLE_NOTES, DATA / "obsidian-note.md"]:
        doc = parse_source(path.name, path, 1_000_000)
        for section in doc.sections:
            for _, _, view, tokens in chunker._pack(doc, section):
                short.append(counter().count(header(doc.title, section.heading) + view) - tokens)
    assert len(short) > 50 and max(short) < FIT_SLACK // 2


def test_fit_leaves_short_text_alone():
    """Text that fits is embedded as is."""
    assert counter().fit("short text") == "short text"


def test_chunking_needs_only_the_tokenizer_not_torch():
    """Chunking runs without torch or sentence-transformers (a light, no-change index run relies on it)."""
    code = ("import sys\n"
            "from ingest.chunker import Chunker, ChunkerConfig\n"
            "from ingest.markdown import parse_markdown\n"
            "from ingest.models import model_dir\n"
            "from ingest.tokens import TokenCounter\n"
            "c = Chunker(TokenCounter(model_dir('all-MiniLM-L6-v2') / 'tokenizer.json', 256), ChunkerConfig())\n"
            "assert c.chunk(parse_markdown('n.md', '# T\\n\\nHello world.\\n'))\n"
            "heavy = [m for m in ('torch', 'sentence_transformers', 'chromadb', 'llama_index') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


# --- properties -------------------------------------------------------------------------------------------------

WORDS = [
    "alpha", "Beta", "self-supervision", "naïve", "Ünïcödé", "日本語のテキスト", "emoji🙂", "ﬁne", "İstanbul", "straße",
    "e.g.", "Dr.", "3.14", "2024.", "x", "**bold**", "_it_", "`code`", "#tag", "#nested/tag", "C#", "[[Link]]",
    "[[Target|alias]]", "[[note#Head]]", "[[#Local]]", "==highlight==", "==", "![[img.png]]", "<img src='x.png'>",
    "<b>", "[md](http://x.org/a)", "http://a.org/#b", "...", "?", "!", "…", "—", "\u200b", "\u00a0", "\t", "“curly”",
    "(paren)", "[!note]", "---", "|", "&#35;", "\\", "*",
]
_word = st.one_of(st.sampled_from(WORDS),
                  st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\n\r"), min_size=1,
                          max_size=12))
_sentence = st.builds(lambda ws, end: " ".join(ws) + end, st.lists(_word, min_size=1, max_size=14),
                      st.sampled_from(["", ".", "!", "?", ".”", "…"]))
_line = st.one_of(
    st.lists(_sentence, min_size=1, max_size=4).map(" ".join),  # paragraph line
    st.builds(lambda n, sp, s: "#" * n + sp + s, st.integers(1, 6), st.sampled_from([" ", "\t"]), _sentence),
    st.builds(lambda m, s: m + s, st.sampled_from(["- ", "* ", "  - ", "1. ", "12) ", "- [ ] ", "- [x] "]), _sentence),
    st.builds(lambda m, s: m + s, st.sampled_from(["> ", ">", "> > ", "> [!note] ", "> [!quote]- "]), _sentence),
    st.sampled_from(["```", "```python", "~~~", "````", "   ```", "", "", " ", "---", "***", "| a | b |",
                     "    indented code", "![[image.png]]", '<img src="a.png">', "==a long highlight. Two.=="]),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60),  # anything at all
)
_front = st.sampled_from([
    "", "", "", "---\ntitle: A Title\nauthor: Ada\ntags: [one, '#two']\ncreated: 2024-01-02\n---\n",
    "---\ntitle: [unclosed\nauthor: : :\n---\n", "---\ntitle: never closed\n", "---\n---\n", "---\n- a\n- b\n---\n",
])


@st.composite
def markdown_notes(draw) -> str:
    """A raw note as the decoder hands it over: maybe a BOM, front matter, CRLF or LF line ends."""
    raw = draw(_front) + "\n".join(draw(st.lists(_line, max_size=30))) + draw(st.sampled_from(["", "\n", "\n\n"]))
    if draw(st.booleans()):
        raw = raw.replace("\n", "\r\n")
    if draw(st.integers(0, 4)) == 0:
        raw = "\ufeff" + raw
    return raw


# Derandomized: the same examples every run, so a known bug below cannot make CI flaky and a strict xfail
# stays strict. Raise max_examples locally (or drop derandomize) to hunt for new failures.
PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(markdown_notes(), st.sampled_from([(200, 40), (256, 0), (128, 16)]))
def test_property_chunks_keep_offsets_sections_and_window(raw, config):
    """For any markdown-ish note: raw[start:end] == text, start < end, chunks stay in their section,
    the embedded text fits 256 model tokens, and the display text never holds the context header."""
    doc, chunks = chunk_note(raw, size=config[0], overlap=config[1])
    assert_invariants(doc, chunks)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


@PROPERTY
@given(st.lists(st.sampled_from(["Short line.", "- item", "1. step", "> quote.", "A longer sentence about chunking "
                                 "and retrieval with several words.", "", "```", "code = 1", "## Head"]),
                min_size=50, max_size=400))
def test_property_long_notes_fit_the_window(lines):
    """Long notes (many chunks, overlap in play) keep every invariant too."""
    raw = "# Long\n\n" + "\n".join(lines) + "\n"
    doc, chunks = chunk_note(raw)
    assert_invariants(doc, chunks)


@settings(PROPERTY, phases=[Phase.generate])  # no shrinking while it is expected to fail
@given(markdown_notes(), st.sampled_from([(32, 8), (64, 16)]))
def test_property_small_budgets_keep_the_invariants(raw, config):
    """With a small chunk_size most sentences are over budget and get cut at words: the invariants still hold."""
    doc, chunks = chunk_note(raw, size=config[0], overlap=config[1])
    assert_invariants(doc, chunks)


_HELP_SENTENCES = ["Open Settings.", "Click the cog icon in the upper-right corner of the graph view.",
                   "Obsidian stores notes as plain text files in a vault, a folder on your local file system.",
                   "You can hold Shift while using the keyboard to speed up the movements.", "Press Enter.",
                   "Block identifiers can only consist of letters, numbers, and dashes."]
_help_sentence = st.sampled_from(_HELP_SENTENCES)
_help_prose = st.lists(_help_sentence, min_size=1, max_size=5).map(" ".join)
_help_code = st.one_of(st.integers(1, 4), st.just(80)).map(
    lambda n: "```md\n" + "\n".join(f"![[Note {i}#Heading|alias {i}]]" for i in range(n)) + "\n```")
_help_list = st.builds(lambda marker, items: "\n".join(f"{marker} {it}" for it in items), st.sampled_from(["-", "1."]),
                       st.lists(st.lists(_help_sentence, min_size=1, max_size=2).map(" ".join), min_size=1,
                                max_size=12))
_help_table = st.integers(1, 30).map(lambda n: "| Action | Hotkey |\n|---|---|\n" + "\n".join(
    f"| Focus property number {i} | `Ctrl+{i}` |" for i in range(n)))
_help_callout = st.builds(lambda title, body: f"> [!tip] {title}\n> {body}", _help_sentence, _help_prose)
_help_lead_in = st.builds(lambda lead, block: f"{lead}\n\n{block}",
                          st.sampled_from(["To embed a note:", "**Ribbon:**", "For example:", "Run this"]),
                          st.one_of(_help_code, _help_list, _help_table))
_help_block = st.one_of(_help_prose, _help_code, _help_list, _help_table, _help_callout, _help_lead_in,
                        st.sampled_from(["---", "## Another heading", "![[image.png]]"]))


@PROPERTY
@given(st.lists(_help_block, min_size=1, max_size=14).map(lambda bs: "# Help\n\n" + "\n\n".join(bs) + "\n"))
def test_property_help_pages_keep_code_rows_items_and_lead_ins_whole(raw):
    """Software-help pages: code blocks and table rows are never split, no chunk opens on half a list item, no
    chunk ends on a lead-in its section goes on after, and what is embedded is all of the chunk (bar an
    oversized code block)."""
    doc, chunks = chunk_note(raw)
    assert_invariants(doc, chunks)
    for section in doc.sections:
        found = layout(raw, section.start, section.end)
        inside = [c for c in chunks if c.heading == section.heading and section.start <= c.start < section.end]
        whole = [u for b in found if b.kind in ("code", "table") for u in b.units]
        for u in whole:
            assert all(c.start <= u.start and u.end <= c.end for c in inside if c.start < u.end and u.start < c.end)
        half_items = {u.start for b in found if b.kind == "item" for u in b.units[1:]}
        assert not half_items & {c.start for c in inside}
        last = max((u.end for b in found for u in b.units if b.kind == "code" or embed_view(u.text, "note")),
                   default=0)
        for c in inside:
            assert not (c.text.endswith(":") and c.end < last), "a lead-in cut off from what it introduces"
            oversized = any(b.kind == "code" and counter().count(b.text) > 150 and c.start <= b.start < c.end
                            for b in found)
            assert oversized or counter().count(c.embed_text) <= 200


def test_embed_view_of_a_note_is_clean_inline():
    """Notes embed their cleaned text; the PDF view is separate (see test_pdf.py)."""
    assert embed_view("A [[Link|alias]] and ==mark==.", "note") == "A alias and mark."
    assert re.search(r"\s{2,}", embed_view("a   b\t\tc", "note")) is None


@PROPERTY
@given(st.lists(st.sampled_from(["word", "Naïve", "ß", "İ", "中文", "🙂", "[MASK]", "x" * 120, "e\u0301", ".", "'", "#",
                                 "==", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2028",
                                 "\u200b", "\u3000", "\ufffd", "\x00", "\u202f"]), max_size=25).map("".join))
def test_counting_word_by_word_is_the_tokenizers_count(text):
    """TokenCounter sums a text's words, each tokenized once: exact only while no word piece spans what it
    splits at (control characters join their neighbours, a no-break space parts them)."""
    assert counter()._words is not None
    assert counter().count(text) == len(_model_tokenizer().encode(text, add_special_tokens=False).ids)


@pytest.mark.parametrize("join", ["\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u200b", "\x00", "\ufffd",
                                  " ", "\xa0", "\u2028", "\u3000", "\t"])
def test_what_the_tokenizer_joins_is_counted_as_one_word(join):
    """60 + 60 letters joined by a deleted control character make one word over 100 characters, one [UNK];
    parted by whitespace, two words of several pieces each."""
    text = "x" * 60 + join + "x" * 60
    assert counter().count(text) == len(_model_tokenizer().encode(text, add_special_tokens=False).ids)


# --- small sections packed together -------------------------------------------------------------------------------


THEMES = """# Themes

Learn how to change the look and feel of Obsidian using themes built by the community.

## Install a theme

1. Open **Settings**.
2. Under **Appearance**, select **Manage**.
3. Select the theme you want to install, then **Install and use**.

Obsidian installs the theme and immediately applies it.
"""

FAQ = """# Sync FAQ

## General

### How large can each file be?

The maximum file size is 5 MB on the Standard plan and 200 MB per file on the Plus plan.

### Can I sync between phone and laptop?

Yes, install Obsidian on both devices and connect them to the same remote vault.
"""


def test_a_one_line_intro_shares_a_chunk_with_the_section_under_it():
    """The intro alone was a chunk that matched the question ("change how Obsidian looks") but held no answer;
    packed with the steps under it, the chunk that matches is the one that answers. Each part keeps its heading."""
    doc, chunks = chunk_note(THEMES, size=256)
    [chunk] = chunks
    under = THEMES.index("## Install a theme\n") + len("## Install a theme\n")
    assert chunk.heading == ""
    assert chunk.metadata["sections"] == [(THEMES.index("## Install"), under, "Install a theme")]
    assert "## Install a theme" in chunk.text and "\nInstall a theme\nOpen Settings." in chunk.embed_text
    steps = chunk.start + chunk.text.index("Obsidian installs")
    assert chunk.heading_at(steps) == "Install a theme" and chunk.heading_at(chunk.start) == ""
    assert_invariants(doc, chunks)


def test_short_answers_side_by_side_stay_apart():
    """An FAQ's answers are small but whole: packing siblings blurred each one's vector, so only a section's
    own subsections are packed in after it."""
    doc, chunks = chunk_note(FAQ, size=256)
    sizes = [c for c in chunks if "5 MB" in c.text] + [c for c in chunks if "remote vault" in c.text]
    assert len(sizes) == 2 and sizes[0] is not sizes[1]
    assert "remote vault" not in sizes[0].text
    assert_invariants(doc, chunks)


def test_sections_that_are_no_fragments_are_not_packed():
    """Only a fragment (a quarter of the budget or less) is packed with its neighbour."""
    raw = sentences_about("tea", 4) + "\n\n## Brewing\n\n" + sentences_about("brewing", 3) + "\n"
    doc, chunks = chunk_note(raw, size=128)
    assert len(chunks) > 1 and not any(c.metadata.get("sections") for c in chunks)
    assert_invariants(doc, chunks)


def test_an_intro_opens_the_first_chunk_of_a_long_section_under_it():
    """"Note composer lets you merge two notes." alone matched every question about merging and answered none."""
    raw = "# Note composer\n\nNote composer lets you merge two notes.\n\n## Merge notes\n\n" + \
        sentences_about("merging", 40) + "\n"
    doc, chunks = chunk_note(raw, size=128)
    assert len(chunks) > 2
    assert chunks[0].text.startswith("Note composer lets you") and "Sentence 0 says" in chunks[0].text
    assert [h for *_, h in chunks[0].metadata["sections"]] == ["Merge notes"]
    assert all(c.heading == "Merge notes" and "sections" not in c.metadata for c in chunks[1:])
    assert_invariants(doc, chunks)
