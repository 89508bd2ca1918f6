"""Blocks, sentences and units: the pieces chunks and quotes are cut from, always with exact offsets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.spans import blocks, layout, sentences, units


def _sentences(text: str) -> list[str]:
    return [s.text for s in sentences(text, 0, len(text))]


def _blocks(text: str) -> list[tuple[str, bool]]:
    return [(text[s:e], code) for s, e, code in blocks(text, 0, len(text))]


# --- blocks -----------------------------------------------------------------------------------------------------


def test_blank_lines_separate_paragraphs():
    """A paragraph is the unit a sentence never leaves; a blank line ends it."""
    text = "One line.\nstill the same paragraph.\n\nA second paragraph.\n"
    assert _blocks(text) == [("One line.\nstill the same paragraph.\n", False), ("A second paragraph.\n", False)]


def test_each_list_item_is_its_own_block_with_its_continuation():
    """List items are separate thoughts; an indented continuation line stays with its item."""
    text = "- item a\n  more a\n- item b\n1. first\n2) second\n"
    assert [b for b, _ in _blocks(text)] == ["- item a\n  more a\n", "- item b\n", "1. first\n", "2) second\n"]


def test_fenced_code_is_one_block_even_with_blank_lines_and_hashes():
    """A code block is kept whole: blank lines and '# comments' inside it do not split it."""
    text = "before\n\n```python\nx = 1\n\n# not a heading\n```\nafter\n"
    assert _blocks(text) == [("before\n", False), ("```python\nx = 1\n\n# not a heading\n```\n", True),
                             ("after\n", False)]


def test_tilde_fence_and_unclosed_fence_run_to_the_end():
    """An unclosed fence is still code (Obsidian renders it so) up to the end of the range."""
    text = "text\n~~~\nunclosed\n\nstill code\n"
    assert _blocks(text)[-1] == ("~~~\nunclosed\n\nstill code\n", True)


def test_horizontal_rule_separates_blocks_and_is_dropped():
    """A thematic break is layout, not text."""
    text = "above\n***\nbelow\n"
    assert [b for b, _ in _blocks(text)] == ["above\n", "below\n"]


def test_crlf_blocks_keep_exact_offsets():
    """Windows line ends are not translated: blocks index the raw text, \\r included."""
    text = "first line\r\nsame para\r\n\r\n```\r\ncode\r\n```\r\n"
    got = blocks(text, 0, len(text))
    assert [(text[s:e], c) for s, e, c in got] == [("first line\r\nsame para\r\n", False),
                                                   ("```\r\ncode\r\n```\r\n", True)]


def test_blocks_respect_the_given_range():
    """blocks() only looks inside [start, end), so sections can be split independently."""
    text = "skip me\n\ninside one.\n\ninside two.\n\nskip too\n"
    start, end = text.index("inside one"), text.index("skip too")
    assert all(start <= s and e <= end for s, e, _ in blocks(text, start, end))


# --- sentences --------------------------------------------------------------------------------------------------


def test_sentences_split_at_terminal_punctuation():
    """Sentence-aware boundaries: ., !, ? and … end a sentence."""
    assert _sentences("Wow! Really? Yes. Ends with ellipsis… Next.") == [
        "Wow!", "Really?", "Yes.", "Ends with ellipsis…", "Next."]


def test_closing_quotes_and_brackets_stay_with_their_sentence():
    """A quote mark after the period belongs to the sentence it closes."""
    assert _sentences("He said “stop.” Then left. It is (really.) Next") == [
        "He said “stop.”", "Then left.", "It is (really.)", "Next"]


def test_a_quoted_sentence_inside_another_does_not_end_it():
    """'the sentence “I love street food.” gives six samples' is one sentence: lower case reads on."""
    assert _sentences("For example, the sentence “I love street food.” gives six samples. Next.") == [
        "For example, the sentence “I love street food.” gives six samples.", "Next."]


def test_a_caption_label_opening_a_line_is_not_a_sentence():
    """'Figure 6. Left: ...' is a caption; 'See Table 2.' at the end of a sentence still ends it."""
    assert _sentences("Figure 6. Left: GPT pretraining. More. See Table 2. It shows sizes.") == [
        "Figure 6. Left: GPT pretraining.", "More.", "See Table 2.", "It shows sizes."]


def test_abbreviations_and_initials_do_not_end_a_sentence():
    """e.g., Dr., i.e. and initials are not sentence ends; splitting there would cut quotes mid-thought."""
    assert _sentences("See e.g. the list. Dr. Who came. J. R. R. Tolkien wrote it. Done.") == [
        "See e.g. the list.", "Dr. Who came.", "J. R. R. Tolkien wrote it.", "Done."]


def test_decimal_numbers_do_not_end_a_sentence():
    """'3.14' has no space after the dot; it is not a boundary."""
    assert _sentences("Pi is 3.14 roughly. Next.") == ["Pi is 3.14 roughly.", "Next."]


def test_a_sentence_ending_in_a_number_still_ends():
    """'released in 2024. Then' is two sentences; a year or count at the end is common in notes."""
    assert _sentences("It was released in 2024. Then it spread.") == ["It was released in 2024.", "Then it spread."]


def test_list_quote_and_callout_markers_are_trimmed_from_sentences():
    """A quote or chunk starts at the words, not at '- [x] ' or '> [!note] ' markup."""
    assert _sentences("- [x] done task. Next.") == ["done task.", "Next."]
    assert _sentences("> [!note] Title\n> body.") == ["Title\n> body."]
    assert _sentences("1. First step.") == ["First step."]


def test_a_bom_is_not_part_of_the_first_sentence():
    """A UTF-8 BOM stays in the raw text (offsets) but must not lead a displayed chunk or quote."""
    assert _sentences("\ufeffHello there. Next.") == ["Hello there.", "Next."]


def test_punctuation_only_runs_are_not_sentences():
    """A run with no letters or digits ('...', '---') is no sentence to cite."""
    assert _sentences("   ...   ") == []
    assert _sentences("Real text. !!! ...") == ["Real text."]


def test_sentence_offsets_are_exact():
    """Each sentence's text is text[start:end]: quotes are cited by offset."""
    text = "  > - First one.  Second one?\n\nThird…  "
    for s in sentences(text, 0, len(text)):
        assert text[s.start:s.end] == s.text
        assert s.text == s.text.strip()


# --- units ------------------------------------------------------------------------------------------------------


def test_units_keep_code_whole_and_atomic_without_trailing_newline():
    """A code block is one atomic unit; its trailing line end is not part of it."""
    text = "text here.\r\n```\r\ncode\r\n```\r\n"
    got = units(text, 0, len(text))
    assert [(u.text, u.atomic) for u in got] == [("text here.", False), ("```\r\ncode\r\n```", True)]


def test_a_fence_closes_only_on_its_own_character_and_length():
    """```` around a ```python example, and ~~~ around ```: the inner fences are content (CommonMark)."""
    text = "````md\n```python\nx = 1\n```\n````\n~~~\n```\n~~~\nafter\n"
    assert _blocks(text) == [("````md\n```python\nx = 1\n```\n````\n", True), ("~~~\n```\n~~~\n", True),
                             ("after\n", False)]


def test_a_closing_fence_has_no_info_string():
    """'```js' opens a block; inside one it is content, not the end."""
    text = "```\na\n```js\nb\n```\n"
    assert _blocks(text) == [(text, True)]


# --- layout: the blocks the chunker packs -----------------------------------------------------------------------


def _layout(text: str) -> list[tuple[str, list[str]]]:
    return [(b.kind, [u.text for u in b.units]) for b in layout(text, 0, len(text))]


def test_layout_names_each_kind_of_block():
    """Paragraphs, list items, a callout with its body, code, and a table are told apart."""
    text = ("Intro. Two.\n\n- item a\n- item b\n\n> [!tip] Title\n> Body line.\n\n```py\nx = 1\n```\n\n"
            "| A | B |\n|---|---|\n| 1 | 2 |\n")
    assert _layout(text) == [("text", ["Intro.", "Two."]), ("item", ["item a"]), ("item", ["item b"]),
                             ("quote", ["Title", "Body line."]), ("code", ["```py\nx = 1\n```"]),
                             ("table", ["| A | B |\n|---|---|", "| 1 | 2 |"])]
    assert [b.callout for b in layout(text, 0, len(text))] == [False, False, False, True, False, False]


def test_a_table_is_one_block_header_and_delimiter_one_unit_then_a_unit_per_row():
    """A chunk may open on a row but never on the delimiter row, and never inside a row."""
    text = "|First | Second|\n|----- | -----:|\n|cell 1 | cell 2|\n|cell 3 | cell 4|\n"
    [table] = layout(text, 0, len(text))
    assert table.kind == "table" and all(u.atomic for u in table.units)
    assert [u.text for u in table.units] == ["|First | Second|\n|----- | -----:|", "|cell 1 | cell 2|",
                                             "|cell 3 | cell 4|"]


def test_a_table_without_outer_pipes_and_the_paragraph_after_it():
    """Outer pipes are optional; a line without a pipe ends the table and goes on as a paragraph."""
    text = "First | Second\n--- | ---\ncell 1 | cell 2\nNot a row.\n"
    assert _layout(text) == [("table", ["First | Second\n--- | ---", "cell 1 | cell 2"]), ("text", ["Not a row."])]


def test_pipes_without_a_delimiter_row_are_not_a_table():
    """'a | b' in prose is prose."""
    assert _layout("Use a | b to pipe.\nThen more.\n") == [("text", ["Use a | b to pipe.", "Then more."])]


def test_a_blank_line_ends_a_quote():
    """Two blockquotes are two blocks; the lines of one quote are one block."""
    text = "> one.\n> two.\n\n> three.\n"
    assert _layout(text) == [("quote", ["one.", "two."]), ("quote", ["three."])]


def test_layout_offsets_are_exact_with_crlf_and_a_bom():
    text = "\ufeffIntro:\r\n\r\n| A | B |\r\n|---|---|\r\n| 1 | 2 |\r\n\r\n- item\r\n"
    found = layout(text, 0, len(text))
    assert [b.kind for b in found] == ["text", "table", "item"]
    for b in found:
        assert text[b.start:b.end] == b.text
        assert all(text[u.start:u.end] == u.text and b.start <= u.start < u.end <= b.end for u in b.units)


# --- properties -------------------------------------------------------------------------------------------------

TEXT = st.lists(st.sampled_from(list("ab .!?…\n\r\t>-*#`~=[]|1üß日\ufeff") + ["```", "\n\n", "e.g.", "Dr.", "2024."]),
               max_size=80).map("".join)


@settings(max_examples=100, deadline=None)
@given(TEXT, st.data())
def test_units_are_exact_ordered_and_inside_the_range(text, data):
    """For any text and range: every unit is text[start:end], non-empty, in order, and inside the range."""
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    prev_end = start
    for u in units(text, start, end):
        assert text[u.start:u.end] == u.text
        assert start <= u.start < u.end <= end
        assert u.start >= prev_end
        prev_end = u.end


@settings(max_examples=100, deadline=None)
@given(TEXT)
def test_blocks_do_not_overlap(text):
    """Blocks partition the text in order; nothing is read twice."""
    prev = 0
    for s, e, _ in blocks(text, 0, len(text)):
        assert prev <= s < e <= len(text)
        prev = e


LAYOUT_TEXT = st.lists(st.sampled_from(["Para one. Two.", "- item.", "1. step", "> quote.", "> [!note] T", "```",
                                        "code", "| a | b |", "|---|---|", "a | b", "--- | ---", "", "---", "x\r"]),
                       max_size=40).map("\n".join)


@settings(max_examples=100, deadline=None)
@given(LAYOUT_TEXT, st.data())
def test_layout_blocks_are_exact_ordered_and_hold_their_units(text, data):
    """For any text and range: blocks are text[start:end], in order, inside the range, and each unit lies in its
    block."""
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    prev = start
    for b in layout(text, start, end):
        assert text[b.start:b.end] == b.text and b.units
        assert prev <= b.start < b.end <= end
        assert b.units[0].start == b.start and b.units[-1].end == b.end
        for u in b.units:
            assert text[u.start:u.end] == u.text
        prev = b.end


def test_a_heading_line_is_a_block_of_its_own_even_without_blank_lines():
    """A chunk packed from small sections holds the later headings: each is a block of kind heading, never the
    start of the paragraph under it; a #tag or a heading inside code is no heading."""
    text = "Intro line.\n## Install a theme\nOpen Settings.\n#tag here\n```\n# comment\n```\n"
    found = layout(text, 0, len(text))
    assert [(b.kind, b.text) for b in found] == [
        ("text", "Intro line."), ("heading", "## Install a theme"), ("text", "Open Settings.\n#tag here"),
        ("code", "```\n# comment\n```")]
