"""Obsidian-flavoured markdown: front matter, title fallback, headings as breadcrumbs, tags, inline cleanup."""

from __future__ import annotations

from pathlib import Path

from ingest.markdown import clean_inline, front_matter, parse_markdown

DATA = Path(__file__).resolve().parent / "data"


def _sections(raw: str, source: str = "notes/n.md") -> list[tuple[str, str]]:
    """(breadcrumb, text) of the sections that hold text; a heading directly followed by another holds none."""
    doc = parse_markdown(source, raw)
    return [(s.heading, raw[s.start:s.end].strip()) for s in doc.sections if raw[s.start:s.end].strip()]


# --- front matter -----------------------------------------------------------------------------------------------


def test_front_matter_fields_become_metadata():
    """Title, author, tags, type and dates from YAML land in the document's metadata."""
    raw = (DATA / "obsidian-note.md").read_text(encoding="utf-8")
    doc = parse_markdown("notes/obsidian-note.md", raw)
    assert doc.title == "Self-Supervised Learning"
    assert doc.metadata["author"] == "Yann LeCun, Ishan Misra"
    assert doc.metadata["type"] == "book-notes"
    assert doc.metadata["created"] == "2024-03-05"
    assert doc.metadata["frontmatter"]["tags"] == ["ml", "#reading"]
    assert doc.warnings == []


def test_front_matter_dates_are_json_safe_strings():
    """YAML dates parse to datetime objects; metadata must survive JSON (Chroma, --json output)."""
    meta, _, _ = front_matter("---\ncreated: 2024-01-05\nupdated: 2024-01-05 10:30:00\n---\nbody\n")
    assert meta == {"created": "2024-01-05", "updated": "2024-01-05T10:30:00"}


def test_front_matter_tags_merge_with_body_tags_without_hash_or_duplicates():
    """Tags from YAML (list or comma string, with or without '#') and #tags in the body form one list."""
    raw = "---\ntags: \"ml, #books\"\n---\nText about #ml and #deep-learning/vision.\n"
    assert parse_markdown("n.md", raw).metadata["tags"] == ["ml", "books", "deep-learning/vision"]


def test_aliases_are_a_notes_other_names_as_a_list_or_one_comma_separated_string():
    """Obsidian writes `aliases` as a list or as one string; a name repeating the title is no other name."""
    listed = parse_markdown("Dog.md", "---\naliases:\n  - Doggo\n  - How to/Pet  care\n  - dog\n---\n# Dog\n")
    assert listed.metadata["aliases"] == ["Doggo", "How to/Pet care"]
    assert parse_markdown("Dog.md", "---\nalias: Doggo, Woofer\n---\nText.\n").metadata["aliases"] == ["Doggo",
                                                                                                   "Woofer"]
    assert "aliases" not in parse_markdown("Dog.md", "---\naliases: []\n---\nText.\n").metadata


def test_body_starts_after_the_front_matter():
    """The YAML block is metadata, never chunk text."""
    raw = "---\ntitle: T\n---\nBody.\n"
    doc = parse_markdown("n.md", raw)
    assert [raw[s.start:s.end].strip() for s in doc.sections] == ["Body."]


def test_front_matter_with_crlf_and_bom():
    """A Windows-saved note with a BOM still has its front matter read."""
    raw = "\ufeff---\r\ntitle: CRLF note\r\ntags: [a]\r\n---\r\nBody.\r\n"
    doc = parse_markdown("n.md", raw)
    assert doc.title == "CRLF note"
    assert doc.metadata["tags"] == ["a"]
    assert [raw[s.start:s.end].strip() for s in doc.sections] == ["Body."]


def test_broken_front_matter_warns_and_keeps_the_body():
    """Broken YAML must not lose the note: warn, skip the block, index the body."""
    raw = "---\ntitle: [unclosed\nauthor: x\n---\n# Heading Title\n\nBody survives.\n"
    doc = parse_markdown("n.md", raw)
    assert len(doc.warnings) == 1 and "front matter" in doc.warnings[0]
    assert doc.title == "Heading Title"  # falls back to the H1
    assert "Body survives." in [raw[s.start:s.end].strip() for s in doc.sections]
    assert doc.metadata["frontmatter"] == {}


def test_unclosed_front_matter_warns_and_reads_everything_as_body():
    """An opening --- without a closing one is probably not front matter; nothing is dropped."""
    raw = "---\ntitle: x\n\nBody.\n"
    doc = parse_markdown("n.md", raw)
    assert doc.warnings and "never closes" in doc.warnings[0]
    assert doc.sections[0].start == 0


def test_front_matter_that_is_not_a_mapping_warns():
    """A YAML list is valid YAML but not front matter fields; say so, keep the body."""
    doc = parse_markdown("n.md", "---\n- a\n- b\n---\nBody.\n")
    assert doc.warnings and "mapping" in doc.warnings[0]
    assert doc.metadata["frontmatter"] == {}


# --- title ------------------------------------------------------------------------------------------------------


def test_title_falls_back_to_first_h1():
    """No front matter title: the first H1 names the note."""
    assert parse_markdown("n.md", "Intro.\n\n## Sub\n\n# Real Title\n\n# Second H1\n").title == "Real Title"


def test_title_falls_back_to_file_name():
    """No title and no H1: the file's stem."""
    assert parse_markdown("notes/reading-log.md", "## Only an H2\n\nText.\n").title == "reading-log"


def test_h1_inside_a_code_block_is_not_the_title():
    """'# comment' in a fenced block is code, not a heading."""
    raw = "```bash\n# install it\n```\n\nText.\n"
    assert parse_markdown("notes/setup.md", raw).title == "setup"


def test_h1_title_is_read_as_plain_text():
    """Wikilinks and highlights in the H1 read as their text."""
    assert parse_markdown("n.md", "# The [[Rise]] of ==AI==\n\nText.\n").title == "The Rise of AI"


def test_h1_on_the_first_line_after_a_bom_is_a_heading():
    """UTF-8 with a BOM is a supported input; its first-line H1 must still name the note."""
    raw = "\ufeff# My Title\n\nBody text here.\n"
    doc = parse_markdown("notes/x.md", raw)
    assert doc.title == "My Title"
    assert [raw[s.start:s.end].strip() for s in doc.sections] == ["Body text here."]


# --- headings and sections --------------------------------------------------------------------------------------


def test_headings_become_breadcrumbs():
    """Each section carries its heading path, e.g. 'Chapter 1 > Self-supervision'."""
    raw = "# Book\n\nIntro.\n\n## Chapter 1\n\nC1.\n\n### Self-supervision\n\nSS.\n\n## Chapter 2\n\nC2.\n"
    assert _sections(raw) == [("", "Intro."), ("Chapter 1", "C1."), ("Chapter 1 > Self-supervision", "SS."),
                              ("Chapter 2", "C2.")]


def test_h1_different_from_the_title_stays_in_the_breadcrumb():
    """Only an H1 that repeats the title is left out of the breadcrumb."""
    raw = "---\ntitle: Notes\n---\n# Part One\n\n## A\n\nText.\n\n# Part Two\n\nMore.\n"
    assert _sections(raw) == [("Part One > A", "Text."), ("Part Two", "More.")]


def test_text_before_the_first_heading_has_an_empty_breadcrumb():
    """Preamble text belongs to no heading."""
    assert _sections("Preamble.\n\n## H\n\nBody.\n")[0] == ("", "Preamble.")


def test_heading_levels_pop_correctly():
    """A shallower heading closes the deeper ones: skipping levels still nests properly."""
    raw = "## A\n\n#### A4\n\nx.\n\n### A3\n\ny.\n\n## B\n\nz.\n"
    assert [h for h, _ in _sections(raw)] == ["A > A4", "A > A3", "B"]


def test_heading_markup_closing_hashes_and_crlf_are_cleaned():
    """'## [[Link|Alias]] ##' reads as 'Alias'; CRLF does not leak into the breadcrumb."""
    raw = "## [[Link|Alias]] ##\r\n\r\nBody.\r\n"
    assert _sections(raw) == [("Alias", "Body.")]


def test_a_headings_attribute_list_is_not_part_of_its_breadcrumb():
    """Pandoc's '{#id .class}', kramdown's and Python-Markdown's '{: #id }', '{-}': ids for links, not words; a
    heading that ends in braces of its own ('Sets {a, b}') keeps them."""
    raw = ("# Guide {#top}\n\nIntro.\n\n## Using Git {: #git }\n\nClone it.\n\n### Sets {a, b}\n\nUnion.\n\n"
           "Appendix {.unnumbered}\n--------\n\nMore.\n\n## Notes {-}\n\nLast.\n")
    doc = parse_markdown("g.md", raw)
    assert doc.title == "Guide" and doc.metadata["tags"] == []  # "#top", "#git": ids, not tags
    assert _sections(raw) == [("", "Intro."), ("Using Git", "Clone it."), ("Using Git > Sets {a, b}", "Union."),
                              ("Appendix", "More."), ("Notes", "Last.")]
    specs = "## Rounding with {:.2f}\n\nTwo places.\n\n## Padding {:>10}\n\nRight. #fmt\n"
    assert _sections(specs) == [("Rounding with {:.2f}", "Two places."), ("Padding {:>10}", "Right. #fmt")]
    assert parse_markdown("f.md", specs).metadata["tags"] == ["fmt"]


def test_hash_words_and_code_comments_are_not_headings():
    """'#tag' (no space) and '# comment' inside fences are not section breaks."""
    raw = "## Real\n\n#tag on a line\n\n```\n# comment\n```\n\n~~~\n## nope\n~~~\n"
    assert [h for h, _ in _sections(raw)] == ["Real"]


def test_sections_never_include_a_heading_line():
    """Headings are breadcrumbs, not chunk text; section offsets skip them exactly."""
    raw = "# T\n\nA.\n## B\nB text.\n### C\n"
    doc = parse_markdown("n.md", raw)
    for s in doc.sections:
        assert "#" not in raw[s.start:s.end]


# --- tags -------------------------------------------------------------------------------------------------------


def test_body_tags_are_collected_outside_code_links_and_urls():
    """#tags count only as Obsidian would: not in code, URLs, wikilink anchors, C#, or HTML entities."""
    raw = ("Learn #python and #ml/nlp here.\n\n"
           "See [[Note#Heading]] and http://x.org/#anchor, C# and &#35; and #123.\n\n"
           "```\n#not-a-tag\n```\n")
    assert parse_markdown("n.md", raw).metadata["tags"] == ["python", "ml/nlp"]


# --- inline cleanup ---------------------------------------------------------------------------------------------


def test_wikilinks_read_as_their_text_or_alias():
    """[[target]] reads as the target's name, [[target|alias]] as the alias, [[note#Heading]] as the note."""
    assert clean_inline("See [[AI Engineering]], [[Target|the alias]], [[folder/Note#Part]].") == \
        "See AI Engineering, the alias, Note."


def test_markdown_links_read_as_their_text():
    """A URL is noise to the embedding model; the link text is not."""
    assert clean_inline("Read [the paper](https://arxiv.org/abs/1).") == "Read the paper."


def test_highlights_are_unmarked_and_collected():
    """==highlight== keeps its words (unmarked) and is reported as a highlight."""
    text = "A ==key idea== and ==another one==."
    assert clean_inline(text) == "A key idea and another one."
    spans = parse_markdown("x.md", text).metadata["highlight_spans"]
    assert [text[s:e] for s, e in spans] == ["key idea", "another one"]


def test_images_and_html_tags_are_dropped():
    """![[image.png]], ![alt](x.png) and <img> carry no words to embed."""
    text = 'Before ![[diagram.png]] ![alt](pic.jpg) <img src="a.png" alt="x"> after.'
    assert clean_inline(text) == "Before after."


def test_html_elements_go_but_words_in_angle_brackets_stay():
    """<span>, <iframe srcdoc="<p>..</p>"> are markup; “<bos>”, Obsidian-<version> and List<T> are what was written."""
    text = ('Both “<bos>” and “<eos>” mark a <span class="x">sequence</span> here. <iframe srcdoc="<p>hi</p>"></iframe>'
            "Run Obsidian-<version>.AppImage<br/> on List<T>.")
    assert clean_inline(text) == ("Both “<bos>” and “<eos>” mark a sequence here. "
                                  "Run Obsidian-<version>.AppImage on List<T>.")


def test_inline_code_reads_as_written():
    """What the docs tell you to type is what a question asks about: `<h3>`, `[[`, `__init__`, `![[x.png]]` stay, while
    the same markup outside backticks is read as markup."""
    text = "Start at level 3 (`<h3>`): type `[[`, define `__init__` or `![[x.png]]`; not <b>bold</b> or __this__."
    assert clean_inline(text) == \
        "Start at level 3 (`<h3>`): type `[[`, define `__init__` or `![[x.png]]`; not bold or this."
    assert clean_inline("**`Ctrl+;`** then `a > b` > quoted") == "`Ctrl+;` then `a > b` > quoted"


def test_inline_math_reads_as_written_and_money_does_not_count_as_math():
    """A paper note's "$\\tilde{c}_{:1}$" keeps its subscript (its "_" is no emphasis), "$$a_1 * b_2$$" its product;
    "$5 and $10" is money, so the emphasis after it is still read as emphasis."""
    text = r"Since $\tilde{c}_{: 1}$ and $c_{: 1}$ form *one* sequence, $$a_1 * b_2$$ holds."
    assert clean_inline(text) == r"Since $\tilde{c}_{: 1}$ and $c_{: 1}$ form one sequence, $$a_1 * b_2$$ holds."
    assert clean_inline("It costs $5 and $10 for _both_, or $5-$10.") == "It costs $5 and $10 for both, or $5-$10."
    assert parse_markdown("n.md", r"Count $\#S_k$ in #sets.").metadata["tags"] == ["sets"]  # \#S is no tag


def test_block_ids_are_hidden_as_obsidian_hides_them():
    """'^key-claim' closing a paragraph or item is a link target, not a word; x^2 and a lone ^ stay."""
    assert clean_inline("The main claim of the paper. ^key-claim") == "The main claim of the paper."
    assert clean_inline("- an item ^item-1\n- another") == "- an item\n- another"
    assert clean_inline("A note[^1] on $x^2$ ^ here.") == "A note on $x^2$ ^ here."


DRAWING = """---
excalidraw-plugin: parsed
tags: [excalidraw]
---
# Excalidraw Data
## Text Elements
Attention lets the decoder look back at every encoder state ^aB3dE1

%%
## Drawing
```compressed-json
N4KAkARALgngDgUwgLgAQQQDwMYEMA2AlgCYBOuA7hADTgQBuCpAzoQPYB2KqATL #secret
```
%%
A line after. %% an inline remark %% stays.
%% a one-line private note #private ==flagged== %%
The end, with `%%` in code.
%% left open, so nothing is hidden
"""


def test_obsidian_comments_are_hidden_as_its_reading_view_hides_them():
    """%% ... %% blocks are hidden when a note is read, and plugins keep data in them: an Excalidraw drawing note
    holds kilobytes of compressed JSON there, which reread chunked and embedded. What they hold is no section, no
    heading, no tag and no highlight; a comment inside a line, %% in code and a %% left open hide nothing."""
    doc = parse_markdown("attention.excalidraw.md", DRAWING)
    texts = [DRAWING[s.start:s.end] for s in doc.sections]
    assert texts == ["Attention lets the decoder look back at every encoder state ^aB3dE1\n\n",
                     "A line after. %% an inline remark %% stays.\n",
                     "The end, with `%%` in code.\n%% left open, so nothing is hidden\n"]
    assert {s.heading for s in doc.sections} == {"Text Elements"}
    assert doc.metadata["tags"] == ["excalidraw"] and doc.metadata["highlight_spans"] == []


def test_footnote_markers_read_as_obsidian_shows_them():
    """A paper note's "[^1]" after a claim is a superscript, a definition's "[^1]:" a number: an answer said them
    raw ("... the RNN Encoder-Decoder [^1] network ..."). An inline footnote shows its text; code keeps its [^x]."""
    text = "An improvement to the [RNN Encoder-Decoder](../rnn.md) [^1] network, as the survey says[^survey-2]."
    assert clean_inline(text) == "An improvement to the RNN Encoder-Decoder network, as the survey says."
    assert clean_inline("[^1]: Cho, K. (2014). Learning phrase representations.") == (
        "Cho, K. (2014). Learning phrase representations.")
    assert clean_inline("Attention helps^[on long sentences] a lot.") == "Attention helps (on long sentences) a lot."
    assert clean_inline("Match `[^abc]` once.") == "Match `[^abc]` once."


def test_callout_marker_reads_as_a_label():
    """'> [!note] Title' keeps its title as text and its kind as a readable label."""
    assert clean_inline("> [!note] Key idea\n> Body text.") == "Note: Key idea\nBody text."


def test_emphasis_markers_are_dropped():
    """**bold** and _italic_ read as plain words; snake_case is left alone."""
    assert clean_inline("A **bold** and _italic_ word in snake_case.") == "A bold and italic word in snake_case."


def test_setext_headings_are_headings():
    """`Title\\n===` and `Part\\n---` open sections like `#` and `##`; a --- under a list item is a rule."""
    raw = "Book Title\n==========\n\nIntro text here.\n\nPart One\n--------\nBody of part one.\n\n- a list\n---\n"
    doc = parse_markdown("x.md", raw)
    assert doc.title == "Book Title"
    assert [s.heading for s in doc.sections] == ["", "Part One"]
    assert "Body of part one." in raw[doc.sections[1].start:doc.sections[1].end]
    assert "--------" not in "".join(raw[s.start:s.end] for s in doc.sections)


def test_a_rule_after_a_paragraph_line_inside_a_paragraph_is_not_a_heading():
    """Only a line that opens a paragraph becomes a setext heading (no paragraph is swallowed)."""
    raw = "# Note\n\nfirst line of a paragraph\nsecond line\n---\nmore\n"
    doc = parse_markdown("x.md", raw)
    assert [s.heading for s in doc.sections] == [""]


def test_code_holds_neither_highlights_nor_tags():
    """`a==b and c==d` and `#include` inside code are code; ==marks== and #tags in prose still count."""
    raw = "# T\n\nUse `a==b and c==d` and `#include`. A ==real highlight== #tag\n\n```\nx ==no== #nope\n```\n"
    doc = parse_markdown("x.md", raw)
    assert doc.metadata["tags"] == ["tag"]
    assert [raw[s:e] for s, e in doc.metadata["highlight_spans"]] == ["real highlight"]


def test_web_clipped_headings_with_permalink_marks_open_sections():
    """A heading copied from a web page keeps its anchor ("Model Size#", "Setup¶"): it still opens a section."""
    raw = "# Notes\n\nIntro text.\n\nModel Size#\n\n- MoE splits a model into experts.\n\nSetup¶\n\nRun it.\n" \
          "\nA sentence with a hash# inside stays text.\n"
    doc = parse_markdown("n.md", raw)
    assert [s.heading for s in doc.sections] == ["", "Model Size", "Setup"]
    assert "hash#" in raw[doc.sections[-1].start:doc.sections[-1].end]


def test_a_longer_fence_around_an_example_with_fences_is_one_code_block():
    """````md wraps an example that has its own ``` fences and # lines: none of it is a heading or a tag."""
    raw = "# Doc\n\n````md\n# Not a heading\n```python\nx = 1\n```\n#not-a-tag ==no mark==\n````\n\n## Real\n\nText.\n"
    doc = parse_markdown("d.md", raw)
    assert [s.heading for s in doc.sections] == ["", "Real"]
    assert doc.metadata["tags"] == [] and doc.metadata["highlight_spans"] == []
