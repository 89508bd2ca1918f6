"""The offline answerer: steps for a how-to, the defining sentence for a term, one citation per passage."""

from __future__ import annotations

import re

import pytest

from assistant.candidates import clauses
from assistant.citations import passages, pieces
from assistant.extractive import NOT_FOUND, ExtractiveAnswerer
from assistant.question import classify, defines, names_in, spells_out
from ingest.types import Chunk, Hit

CANVAS = """# Canvas

Canvas is a tool for visual note-taking. Lay out notes on an infinite canvas and connect them with lines.

## Create a new canvas

To start using Canvas, you first need to create a file to hold your canvas. You can create a new canvas using \
the following methods:

1. Open the [[Command palette]].
1. Select **Canvas: Create new canvas** to create a canvas in the same folder as the active file.
1. Type a name for the canvas and press `Enter`.

Obsidian stores each canvas as a file with the `.canvas` extension.
"""

GLOSSARY = """# Glossary

Many people keep one vault for everything. Others keep a vault per project, which makes search narrower.
A vault is a folder on your computer where Obsidian keeps your notes and their settings. Vaults can be
synced between devices with Obsidian Sync. You can open several vaults at once, each in its own window.
"""

SYNC = """# Sync

Obsidian Sync keeps your notes in sync across your phone, tablet and computer. Sync also keeps a version \
history of every note, so you can restore an older version of a note.

## Plans

The Standard plan includes 1 GB of storage.
"""


def hit(source: str, text: str, rank: int = 1, score: float = 0.6, start: int | None = None,
        end: int | None = None, heading: str = "") -> Hit:
    """A retrieved chunk cut from a whole note text, offsets exact."""
    s = 0 if start is None else start
    e = len(text) if end is None else end
    chunk = Chunk(id=f"{source}:{s}", source=source, kind="note", title=source.removesuffix(".md"),
                  heading=heading, page=None, start=s, end=e, text=text[s:e])
    return Hit(chunk, rank, score)


def section(text: str, heading_line: str) -> tuple[int, int]:
    """The body under a heading line, as the chunker would cut it."""
    start = text.index(heading_line) + len(heading_line)
    while text[start] in "\n":
        start += 1
    nxt = text.find("\n#", start)
    return start, (len(text) if nxt == -1 else nxt + 1)


def check_citations(answer, texts: dict[str, str]) -> None:
    """Every quote is the exact source slice; every marker has a citation and every citation a marker."""
    for c in answer.citations:
        assert texts[c.source][c.start:c.end] == c.quote
    markers = {int(n) for n in re.findall(r"(?<!\\)\[(\d+)\]", answer.answer)}
    assert markers == {c.n for c in answer.citations}


@pytest.fixture(scope="module")
def answerer(embedder):
    return ExtractiveAnswerer(embedder)


def test_a_how_to_gets_the_lead_in_and_every_step_in_order(answerer):
    s, e = section(CANVAS, "## Create a new canvas")
    hits = [hit("Canvas.md", CANVAS, 1, 0.7, s, e, "Create a new canvas"),
            hit("Canvas.md", CANVAS, 2, 0.5, CANVAS.index("Canvas is"), CANVAS.index("## Create"))]
    answer = answerer.answer("How do I create a canvas?", hits)

    assert answer.found
    text = answer.answer
    steps = ["1. Open the Command palette.", "2. Select Canvas: Create new canvas", "3. Type a name for the canvas"]
    assert all(step in text for step in steps)
    assert text.index(steps[0]) < text.index(steps[1]) < text.index(steps[2])
    # the lead-in comes with its list, before it, and the steps are one passage with one citation
    assert text.index("using the following methods") < text.index(steps[0])
    check_citations(answer, {"Canvas.md": CANVAS})
    steps_cite = next(c for c in answer.citations if "Type a name" in c.quote)
    assert "following methods" in steps_cite.quote and steps_cite.quote.rstrip().endswith("`Enter`.")


def test_a_lead_in_is_never_the_whole_answer(answerer):
    """A chunk cut right after its lead-in: the list lives in the next chunk, which is retrieved too."""
    s, e = section(CANVAS, "## Create a new canvas")
    cut = CANVAS.index("1. Open")
    hits = [hit("Canvas.md", CANVAS, 1, 0.7, s, cut, "Create a new canvas"),
            hit("Canvas.md", CANVAS, 2, 0.6, CANVAS.index("You can create"), e, "Create a new canvas")]
    answer = answerer.answer("How do I create a new canvas?", hits)

    assert "1. Open the Command palette." in answer.answer
    assert not re.search(r":\s*\[\d+\]", answer.answer)  # no citation closes on a lead-in
    check_citations(answer, {"Canvas.md": CANVAS})


def test_a_table_comes_whole_with_the_sentence_that_introduces_it(answerer):
    text = ("# Testing\n\nEvery language has its own test runners. These are the frameworks we suggest:\n\n"
            "| Language | Frameworks |\n|---|---|\n| Python | pytest (recommended), unittest |\n| R | testthat |\n")
    answer = answerer.answer("Which test framework is suggested for Python code?",
                             [hit("Testing.md", text, start=text.index("Every"))])

    assert "| Python | pytest (recommended), unittest |" in answer.answer and "|---|" not in answer.answer
    cited = next(c for c in answer.citations if "pytest" in c.quote)
    assert cited.quote.startswith("These are the frameworks") and cited.quote.endswith("| R | testthat |")
    check_citations(answer, {"Testing.md": text})


def test_a_definition_question_leads_with_the_defining_sentence(answerer):
    answer = answerer.answer("What is a vault?", [hit("Glossary.md", GLOSSARY)])

    assert answer.found
    assert answer.answer.startswith("A vault is a folder on your computer")
    check_citations(answer, {"Glossary.md": GLOSSARY})


def test_two_sentences_of_one_passage_share_one_citation(answerer):
    s, e = section(SYNC, "# Sync")
    answer = answerer.answer("How does Sync keep my notes across devices and their history?",
                             [hit("Sync.md", SYNC, 1, 0.7, s, e)])

    assert "keeps your notes in sync" in answer.answer and "version history" in answer.answer
    assert len(answer.citations) == 1 and answer.answer.count("[1]") == 1
    quote = answer.citations[0].quote
    assert quote.startswith("Obsidian Sync keeps") and quote.endswith("restore an older version of a note.")
    check_citations(answer, {"Sync.md": SYNC})


def test_passages_merge_only_neighbours_inside_one_chunk():
    h = hit("Glossary.md", GLOSSARY, start=GLOSSARY.index("Many"))
    ps = pieces(h.chunk)
    best, first, second = ((h.chunk, ps[i].start, ps[i].end) for i in (3, 0, 1))
    groups = passages([best, first, second], [h.chunk])
    # the best leads on its own (a sentence lies between it and the others); first and second share a passage
    assert [members for _, members in groups] == [[0], [1, 2]]
    assert all(chunk is h.chunk for chunk, _ in groups)


def test_a_question_the_notes_cannot_answer_is_refused(answerer):
    answer = answerer.answer("Who won the 1998 football World Cup?",
                             [hit("Canvas.md", CANVAS), hit("Glossary.md", GLOSSARY, 2)])

    assert not answer.found and answer.answer == NOT_FOUND and answer.citations == []


def test_literal_bracket_numbers_from_notes_are_escaped(answerer):
    text = "The Standard plan was introduced in [2023] and includes 1 GB of storage for your synced notes.\n"
    answer = answerer.answer("How much storage does the Standard plan include?", [hit("Plans.md", text)])

    assert "\\[2023\\]" in answer.answer
    check_citations(answer, {"Plans.md": text})


def test_a_limit_that_depends_reads_on_to_the_numbers(answerer):
    """"Is there a limit?" answered by "it depends on your plan" alone misses the fact; the sentences after
    it in the passage hold the numbers, and they come with it under the same citation."""
    text = ("# Sync FAQ\n\nSync keeps your notes on our servers, encrypted end to end.\n\n"
            "## How large can each file be?\n\nThe maximum file size depends on your Sync plan. "
            "For the Standard plan the limit is 5 MB. For the Plus plan the limit is 200 MB per file. "
            "Larger files are skipped.\n")
    start, end = section(text, "## How large can each file be?")
    answer = answerer.answer("Is there a size limit for files I sync, like big videos?",
                             [hit("FAQ.md", text, start=start, end=end, heading="How large can each file be?")])

    assert "5 MB" in answer.answer and "200 MB" in answer.answer
    assert answer.answer.index("depends") < answer.answer.index("5 MB") < answer.answer.index("200 MB")
    assert len(answer.citations) == 1
    check_citations(answer, {"FAQ.md": text})


def test_a_number_in_another_note_does_not_cut_the_key_sentence_short(embedder):
    """The key sentence says "it depends"; a close second from another note holds an unrelated number. The
    numbers that answer are the ones reading on from the key sentence."""
    faq = ("## How large can each file be?\n\nThe maximum file size depends on your Sync plan. "
           "For the Standard plan the limit is 5 MB. For the Plus plan the limit is 200 MB per file.\n")
    teams = ("## Limits\n\nFiles you sync in a shared vault have a size limit set by the owner's plan; "
             "a vault allows 20 collaborators.\n")
    answerer = ExtractiveAnswerer(embedder, spread=0.3)  # wide enough that the teams sentence is chosen too
    answer = answerer.answer("Is there a size limit for files I sync?",
                             [hit("FAQ.md", faq, heading="How large can each file be?"),
                              hit("Teams.md", teams, heading="Limits")])
    assert answer.answer.index("depends") < answer.answer.index("5 MB") < answer.answer.index("200 MB")
    check_citations(answer, {"FAQ.md": faq, "Teams.md": teams})


def test_a_sentence_that_leans_on_the_key_sentence_comes_with_it(answerer):
    """"This configuration is written in Ruby." holds the fact; read alone it would make no sense, so it
    is taken with the sentence it leans on, ahead of sentences from elsewhere."""
    text = ("## Vagrant\n\nWith Vagrant, users define a virtual machine in a configuration language stored in a "
            "Vagrantfile. This configuration is written in the Ruby programming language. Vagrant has no "
            "hypervisor of its own.\n")
    other = "## YAML\n\nYAML is a configuration language that many projects use for their settings files.\n"
    answer = answerer.answer("What programming language is a Vagrantfile in?",
                             [hit("VM.md", text, heading="Vagrant"), hit("YAML.md", other, rank=2, score=0.4)])
    assert "Ruby" in answer.answer
    assert answer.answer.index("Vagrantfile.") < answer.answer.index("Ruby")
    check_citations(answer, {"VM.md": text, "YAML.md": other})


def test_a_quoted_sentence_and_a_token_in_angle_brackets_are_kept_whole(answerer):
    text = ("# Self-supervision\n\nFor example, the sentence “I love street food.” gives six training samples. "
            "Both “<bos>” and “<eos>” are special tokens that mark where a sequence begins and ends.\n")
    answer = answerer.answer("How many training samples does the sentence about street food give?",
                             [hit("LM.md", text)])
    assert "gives six training samples" in answer.answer
    answer = answerer.answer("Which special tokens mark where a sequence begins and ends?", [hit("LM.md", text)])
    assert "<bos>" in answer.answer and "<eos>" in answer.answer
    check_citations(answer, {"LM.md": text})


def test_inline_math_in_an_answer_keeps_its_subscripts(answerer):
    """A paper note's "$\\tilde{c}_{:1}$" was said as "$\\tilde{c}{:1}$": its "_" read as emphasis."""
    text = ("# VALL-E\n\nSince VALL-E is a decoder-only LM, the concatenation of $\\tilde{c}_{: 1}$ and $c_{: 1}$ is a "
            "whole sequence, and no special token separates them in training.\n")
    answer = answerer.answer("Does VALL-E put a special token between the prompt and the target codes?",
                             [hit("VALL-E.md", text)])
    assert "$\\tilde{c}_{: 1}$ and $c_{: 1}$ is a whole sequence" in answer.answer
    check_citations(answer, {"VALL-E.md": text})


def test_a_heading_that_lost_its_marks_is_not_the_answer(answerer):
    """A web page pasted into a note keeps its headings as plain lines ("Chapter 3: Evaluation Methodology"): one
    such line answered "What does the book say about evaluation?" over the sentence that says something. A short
    sentence in its own paragraph, or a Title Case line ending in a full stop, still answers."""
    text = ("Chapter 3: Evaluation Methodology\n\nWork in progress...\n\n"
            "Evaluation is one of the hardest, if not the hardest, challenges of AI engineering.\n")
    answer = answerer.answer("What does the book say about evaluation?", [hit("viquez.md", text)])
    assert answer.answer.startswith("Evaluation is one of the hardest") and "Chapter 3" not in answer.answer
    check_citations(answer, {"viquez.md": text})
    titled = "Prompt Caching Saves Money.\n\nOther Ideas\n"
    assert "Prompt Caching Saves Money." in answerer.answer("What saves money?", [hit("t.md", titled)]).answer
    glossary = "LLM: Large Language Model\n\nRAG: Retrieval Augmented Generation\n"
    spelled = answerer.answer("What does RAG stand for?", [hit("g.md", glossary)])
    assert "Retrieval Augmented Generation" in spelled.answer


def test_questions_are_classified():
    assert classify("How do I create a canvas?").howto
    assert classify("What are the steps to publish a note?").howto
    assert not classify("How does finetuning differ from prompting?").howto
    vault = classify("What is a vault?")
    assert vault.term == {"vault"} and vault.head == "vault"
    assert classify("What does model as a service mean?").head == "service"
    assert not classify("What is the difference between A and B?").term
    assert classify("How many words are 100 tokens?").quantity
    assert classify("Is there a size limit for files I sync?").quantity
    assert not classify("Is there a plugin for calendars?").quantity


def test_defining_sentences_are_recognised():
    q = classify("What is quantization?")
    assert defines("*quantization*: The process of reducing the precision of model weights.", q)
    assert defines("Quantization is the process of reducing precision.", q)
    assert defines("Reducing the precision of weights is called quantization.", q)
    assert defines("- **Quantization** - fewer bits per weight", q)
    assert not defines("Evaluation of quantization is one of the hardest parts of deployment.", q)


def test_acronyms_are_spelled_out_by_initials_not_by_chance():
    assert classify("What does TPOT stand for?").acronym == "TPOT"
    assert classify("What do the four letters of FAIR stand for?").acronym == "FAIR"
    assert classify("What is MMLU?").acronym == "MMLU" and classify("What is AI engineering?").acronym == ""
    assert spells_out("Latency metrics: TTFT (time to first token), TPOT (time per output token).", "TPOT")
    assert spells_out("FAIR means **F**indable, **A**ccessible, **I**nteroperable and **R**eusable.", "FAIR")
    assert spells_out("RAG: retrieval-augmented generation.", "RAG")
    assert spells_out("The field of artificial intelligence (AI) is young.", "AI")
    assert not spells_out("AI is an idea whose time has come.", "AI")  # two letters: only beside brackets
    assert not spells_out("MMLU is a benchmark of many tasks.", "MMLU")
    assert not spells_out("Time per output token matters.", "TPOT")  # the sentence must name the acronym


def test_an_acronym_question_is_answered_by_the_sentence_that_spells_it_out(answerer):
    """The spelled-out sentence reads little like "What does TPOT stand for?": it answers nonetheless."""
    text = ("# Latency\n\nUsers notice latency before anything else. Latency metrics include TTFT (time to first "
            "token), TPOT (time per output token), and total latency. Streaming hides some of it.\n")
    answer = answerer.answer("What does TPOT stand for?", [hit("latency.md", text, score=0.3)])
    assert answer.found and "time per output token" in answer.answer
    check_citations(answer, {"latency.md": text})


def test_the_sample_vault_answers_a_definition_with_its_glossary_line(assistant, vault):
    """The user's day: index the seed notes, ask what a term means, read the exact cited line."""
    assistant.index()
    answer = assistant.ask("What is quantization?")

    assert answer.found and answer.backend == "extractive"
    assert "reducing the precision" in answer.answer.split("[1]")[0]
    texts = {c.source: (vault / c.source).read_bytes().decode("utf-8") for c in answer.citations}
    check_citations(answer, texts)


@pytest.mark.parametrize("question", ["How much does Obsidian Sync cost per month?",
                                      "And how much does Obsidian Sync cost?"])  # a follow-up, made standalone
def test_an_amount_question_answered_without_an_amount_is_refused(answerer, question):
    """The notes describe Sync and its history but never its price: a sentence about Sync is no answer."""
    answer = answerer.answer(question, [hit("Sync.md", SYNC.split("## Plans")[0])])

    assert not answer.found and answer.citations == []
    assert answer.answer.startswith(NOT_FOUND) and "no amount" in answer.answer


TOKENS = "# Tokens\n\nA model reads tokens, not words. GPT-4 breaks the phrase about AI apps into nine tokens.\n"


@pytest.mark.parametrize("question, amount", [("How much storage does the Standard plan include?", "1 GB"),
                                              ("How many tokens does GPT-4 break the phrase into?", "nine")])
def test_an_amount_question_is_answered_by_a_number_or_a_number_word(answerer, question, amount):
    notes = [hit("Sync.md", SYNC), hit("Tokens.md", TOKENS, 2)]
    answer = answerer.answer(question, notes)

    assert answer.found and amount in answer.answer


PREPRINTS = """# Preprints

A preprint is a version of a paper shared before peer review. The first preprint server, arXiv, opened in 1991 \
for physics. Preprints let others read and cite results months before a journal publishes them.
"""


def test_a_time_question_answered_without_a_date_is_refused(answerer):
    """"When was X released?" over notes that describe X but never date it."""
    answer = answerer.answer("When was Obsidian Sync first released?", [hit("Sync.md", SYNC)])

    assert not answer.found and answer.answer.startswith(NOT_FOUND) and "no date" in answer.answer


@pytest.mark.parametrize("question, found", [("When did the first preprint server open?", "1991"),
                                             ("In what year did arXiv open?", "1991"),
                                             ("When is a preprint shared?", "before peer review")])
def test_a_dated_answer_or_a_question_of_when_to_is_answered(answerer, question, found):
    """A date answers "when did"; "When is a preprint shared?" asks for a condition, which needs none."""
    answer = answerer.answer(question, [hit("Preprints.md", PREPRINTS)])

    assert answer.found and found in answer.answer


DAILY = "Finished the chapter on closures today. Started reading Moby-Dick on the train home, slowly.\n"
CHANGELOG = """# Changelog

## [3.0.0] - 2018-09-21

### Removed

* The yaml option of the Meta-Data extension, which was buggy.

## [2.6.0] - 2015-02-19

### Added

* Support for YAML style meta-data in the Meta-Data extension.
"""


def test_a_time_question_is_answered_by_the_date_of_a_daily_note_or_a_changelog_entry(answerer):
    """A daily note's date is its title, a changelog's the heading over the entry: the answer leads with it."""
    daily = hit("2024-03-05.md", DAILY)
    answer = answerer.answer("When did I start reading Moby-Dick?", [daily])
    assert answer.found and answer.answer.startswith("2024-03-05: ") and "Started reading Moby-Dick" in answer.answer
    check_citations(answer, {"2024-03-05.md": DAILY})

    s, e = section(CHANGELOG, "### Removed")
    entry = hit("Changelog.md", CHANGELOG, start=s, end=e, heading="Changelog > [3.0.0] - 2018-09-21 > Removed")
    answer = answerer.answer("When was the yaml option taken out of the Meta-Data extension?", [entry])
    assert answer.found and answer.answer.startswith("[3.0.0] - 2018-09-21: ")
    check_citations(answer, {"Changelog.md": CHANGELOG})

    undated = hit("Reading list.md", DAILY)  # no date over the sentence: still no answer
    assert not answerer.answer("When did I start reading Moby-Dick?", [undated]).found


def test_who_wrote_a_book_is_answered_by_its_notes_author_property(answerer):
    """A reading note's front matter names the author; its text need not. Asked by the book's title, the answer
    leads with it and cites the note; asked about another work, the property says nothing."""
    text = "# AI Engineering\n\nAI engineering is building applications on top of foundation models.\n"
    book = Hit(Chunk(id="b:0", source="notes/book.md", kind="note", title="AI Engineering", heading="", page=None,
                     start=0, end=len(text), text=text, metadata={"author": "Chip Huyen"}), 1, 0.6)
    other = hit("History.md", "# History\n\nThe first AI program was written in 1951 by Christopher Strachey.\n", 2)
    answer = answerer.answer("Who wrote AI Engineering?", [other, book])
    assert answer.found and answer.answer.startswith("AI Engineering is by Chip Huyen (its note's author). ")
    assert [c.source for c in answer.citations] == ["notes/book.md"]
    check_citations(answer, {"notes/book.md": text})
    assert "Strachey" in answerer.answer("Who wrote the first AI program?", [other, book]).answer


@pytest.mark.parametrize("sentence", ["The option was removed in 2.6.1 as it was buggy.",
                                      "The option was removed in version 3 as it was buggy.",
                                      "The option was removed on 2015-02-19 as it was buggy.",
                                      "The option was removed on 19/02/2015 as it was buggy."])
def test_a_release_or_a_numeric_date_answers_a_time_question(answerer, sentence):
    note = f"# Meta-Data\n\n{sentence}\n"
    answer = answerer.answer("When was the yaml option removed?", [hit("Meta-Data.md", note)])
    assert answer.found and sentence.removesuffix(".") in answer.answer


def test_a_time_question_takes_the_dated_sentence_right_before_its_key_sentence(answerer):
    """A release history dates the line before the change it lists."""
    note = ("# Change Log\n\nMar 8, 2015: Released version 2.6.1 (a bug-fix release). The `yaml` option has been "
            "removed from the Meta-Data Extension as it was buggy.\n\nYou may use YAML style delimiters.\n")
    answer = answerer.answer("When was the yaml option taken out of the Meta-Data extension?", [hit("Log.md", note)])
    assert answer.found and answer.answer.index("Mar 8, 2015") < answer.answer.index("has been removed")
    check_citations(answer, {"Log.md": note})


def test_may_the_verb_is_no_date(answerer):
    note = "# Meta-Data\n\nThe yaml option was removed as it was buggy. You may use YAML style delimiters.\n"
    answer = answerer.answer("When was the yaml option removed?", [hit("Meta-Data.md", note)])
    assert not answer.found and "no date" in answer.answer


MESSAGE = """# 1823 State of the Union

A strong hope has been long entertained, founded on the heroic struggle of the Greeks. From the facts which have \
come to our knowledge there is good cause to believe that their enemy has lost forever all dominion over them; \
that Greece will become again an independent nation. That she may obtain that rank is the object of our most \
ardent wishes.
"""


def test_a_fact_in_one_clause_of_a_long_sentence_is_found(answerer):
    """Older prose packs several facts into one sentence: the clause that answers is read on its own, and
    "independence" asks about what the clause calls "independent"."""
    answer = answerer.answer("Which country did Monroe predict would regain its independence?",
                             [hit("1823-monroe.md", MESSAGE)])
    assert answer.found and "that Greece will become again an independent nation" in answer.answer
    check_citations(answer, {"1823-monroe.md": MESSAGE})


CESSION = """# 1804

On this side of the Mississippi an important relinquishment of native title has been received from the Delawares. \
That tribe, desiring to convert superfluous lands into the means of improving what they retain, has ceded to us all \
the country between the Wabash and Ohio, for which they are to receive annuities in animals and implements.
"""


def test_a_key_sentence_that_leans_back_comes_after_the_sentence_it_leans_on(answerer):
    """"That tribe ... has ceded" answers which tribe only with the sentence before it, which names the tribe."""
    answer = answerer.answer("Which tribe gave up its land between the Wabash and the Ohio?", [hit("1804.md", CESSION)])
    assert answer.found and answer.answer.index("the Delawares") < answer.answer.index("That tribe")
    check_citations(answer, {"1804.md": CESSION})


FENCES = """# Fenced Code Blocks

Fenced code blocks are only supported at the document root level. Therefore, they cannot be nested inside lists or \
blockquotes. However faint the need, an indented code block can stand in a list item.
"""


def test_a_sentence_opening_with_therefore_comes_after_the_sentence_it_leans_on(answerer):
    """"Therefore, they cannot be nested ..." says why only with the sentence before it ("only ... at the document
    root level"); "However faint ..." is no connective and leans on nothing."""
    from assistant.candidates import LEANS_BACK

    answer = answerer.answer("Can I nest a fenced code block inside a list?", [hit("fenced.md", FENCES)])
    assert answer.found and answer.answer.index("root level") < answer.answer.index("Therefore")
    check_citations(answer, {"fenced.md": FENCES})
    assert not LEANS_BACK.search("However faint the need, an indented code block can stand in a list item.")
    assert LEANS_BACK.search("However, the toc extension is not part of Extra.")
    assert not LEANS_BACK.search("Instead of tabs, use four spaces.") and LEANS_BACK.search("Instead, use spaces.")


ADDRESS = """# 1972 State of the Union — Richard Nixon

We have great differences with both powers. As you know, I will soon be visiting the People's Republic of China \
and the Soviet Union. Peace depends on the ability of great powers to live together on the same planet.
"""


def test_a_sentence_is_read_with_the_title_of_the_note_the_question_names(answerer):
    """"I will soon be visiting ..." says who only in its note's title, which the question names."""
    address = Hit(Chunk(id="n:0", source="1972-nixon.md", kind="note", title="1972 State of the Union — Richard Nixon",
                        heading="", page=None, start=0, end=len(ADDRESS), text=ADDRESS), 1, 0.5)
    answer = answerer.answer("Which two countries was Nixon about to visit?", [address])
    assert answer.found and "People's Republic of China and the Soviet Union" in answer.answer
    assert names_in("Which two countries was Nixon about to visit in the USA, AI aside?") == ["Nixon"]


def test_only_a_long_sentence_is_read_clause_by_clause():
    long = "From the facts which have come to our knowledge there is good cause to believe that their enemy has " \
           "lost forever all dominion over them; that Greece will become again an independent nation."
    assert clauses(long) == [long.split("; ")[0], "that Greece will become again an independent nation."]
    assert clauses("It rained; we stayed in.") == []  # short: its one vector reads it well
    assert clauses(long.replace(";", ",")) == []


def test_steps_quoted_from_the_middle_of_a_list_keep_their_numbers(answerer):
    """A chunk that starts at step 6 (a long list cut in two) reads 6, 7: "1." would say it is the first step."""
    note = ("# Import from Notion\n\n## Import\n\n1. Open **Settings**.\n2. Go to **Community plugins**.\n"
            "3. Install the Importer plugin.\n4. Enable it.\n5. Open the Importer.\n"
            "6. Choose the `.zip` file with the Notion pages you want to import.\n"
            "7. Select **Import** and wait until the import is complete.\n")
    start = note.index("6. Choose")
    answer = answerer.answer("How do I import the zip file of my Notion pages?",
                             [hit("Notion.md", note, 1, 0.7, start, len(note), "Import")])
    assert "6. Choose the .zip file" in answer.answer.replace("`", "")
    assert "7. Select Import" in answer.answer and "1. Choose" not in answer.answer
    check_citations(answer, {"Notion.md": note})


def test_a_tag_ending_a_line_stays_out_of_the_next_sentence(answerer):
    """Obsidian users end lines with tags ("... of Dune. #reading"): the quote of the next line starts at its own
    first word, not at the tag."""
    note = ("# Dune\n\nPaul Atreides is the hero of Dune. #reading #sf\nFrank Herbert wrote Dune in 1965, after six "
            "years of research. It won the Hugo award.\n")
    answer = answerer.answer("When did Frank Herbert write Dune?", [hit("Dune.md", note, 1, 0.7, note.index("Paul"))])
    quote = next(c.quote for c in answer.citations if "1965" in c.quote)
    assert quote.startswith("Frank Herbert wrote Dune in 1965") and "#" not in answer.answer
    check_citations(answer, {"Dune.md": note})


def test_a_packed_chunk_answers_from_its_subsection_and_never_quotes_a_heading(tmp_path, embedder):
    """The story on a help page: its one-line intro and the steps under "Create a new canvas" are one chunk.
    Indexed, searched and answered offline, the answer gives the steps, no "## ..." line is quoted, and the
    steps' citation names their own section (read back through Chroma), not the intro's."""
    from assistant.facade import Assistant
    from ingest.settings import Settings
    from tests.conftest import write_vault

    vault = write_vault(tmp_path / "vault", {"notes/Canvas.md": CANVAS, "notes/Sync.md": SYNC})
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive"), embedder=embedder)
    app.index()
    [packed] = [h.chunk for h in app.search("How do I create a canvas?", k=3) if h.chunk.source == "notes/Canvas.md"]
    assert packed.heading == "" and [h for *_, h in packed.metadata["sections"]] == ["Create a new canvas"]

    answer = app.ask("How do I create a canvas?")
    assert answer.found and "1. Open the Command palette." in answer.answer
    assert "##" not in answer.answer and not any(c.quote.lstrip().startswith("#") for c in answer.citations)
    steps = next(c for c in answer.citations if "Type a name" in c.quote)
    assert steps.heading == "Create a new canvas"
    check_citations(answer, {"notes/Canvas.md": CANVAS, "notes/Sync.md": SYNC})


def test_a_setext_heading_packed_into_a_chunk_is_neither_quoted_nor_a_lead_in(answerer):
    """Headings underlined with dashes (and web-clipped "Title¶" lines) make sections too; packed into a chunk
    they read as prose, so their place in the chunk marks them: the steps are quoted without them and are cited
    under their own section."""
    from ingest.markdown import parse_markdown
    from tests.conftest import default_chunker

    note = ("Themes change the look of the app.\n\nInstall a theme\n---------------\n\n"
            "1. Open Settings.\n2. Click Browse.\n3. Pick one and click Install.\n")
    [chunk] = default_chunker().chunk(parse_markdown("Themes.md", note))
    assert [h for *_, h in chunk.metadata["sections"]] == ["Install a theme"]
    answer = answerer.answer("How do I install a theme?", [Hit(chunk, 1, 0.7)])
    assert answer.found and "Open Settings" in answer.answer and "Install a theme" not in answer.answer
    steps = next(c for c in answer.citations if "Open Settings" in c.quote)
    assert steps.heading == "Install a theme" and not steps.quote.startswith("Install a theme")
    check_citations(answer, {"Themes.md": note})


ECONOMY = ("## Economy\n\nThe island's economy is dependent on fishing, which leaves it exposed to swings in fish "
           "prices. The sector accounts for about 90% of exports and a third of output. Tourism has grown quickly "
           "since 2010.\n")
QUOTAS = "## Fisheries\n\nQuotas set how much fish each boat may land in a year.\n"


def test_the_sentence_reading_on_comes_when_it_says_what_else_was_asked(answerer):
    """"How dependent are its exports ..." is answered by the key sentence only with the one after it, which holds
    the exports and scores far below it; asked only about the economy, the key sentence stands alone."""
    hits = [hit("Kelp Island.md", ECONOMY, heading="Economy"), hit("Quotas.md", QUOTAS, rank=2, score=0.4)]
    exports = answerer.answer("How dependent are the island's exports on fishing?", hits)
    assert exports.found and "90% of exports" in exports.answer and "Quotas" not in exports.answer
    assert exports.answer.index("dependent on fishing") < exports.answer.index("90%")
    assert len(exports.citations) == 1  # one passage, cited once
    check_citations(exports, {"Kelp Island.md": ECONOMY, "Quotas.md": QUOTAS})
    economy = answerer.answer("Is the island's economy dependent on fishing?", hits)
    assert economy.found and "dependent on fishing" in economy.answer and "90%" not in economy.answer
    assert "Tourism" not in exports.answer + economy.answer


def test_a_word_of_how_the_question_asks_does_not_bring_the_next_sentence(answerer):
    """"How many moons ...": "Many amateur astronomers ..." holds "many", which asks, and says nothing asked."""
    text = ("## Moons\n\nMars has two small moons, Phobos and Deimos. Many amateur astronomers own a telescope. "
            "The planet is red.\n")
    answer = answerer.answer("How many moons does Mars have?", [hit("Mars.md", text)])
    assert answer.found and "Phobos" in answer.answer and "astronomers" not in answer.answer


def test_an_amount_read_on_from_a_key_sentence_that_leans_back_is_said_once(answerer):
    """The key sentence leans on the one before it and the amount comes after it: each is said once, in order, in
    one passage (the key sentence was repeated, and the one it leans on lost)."""
    text = "## Sync\n\nThe app itself is free. However, sync is not free. It costs 8 dollars a month.\n"
    answer = answerer.answer("How much does sync cost?", [hit("Sync.md", text)])
    assert answer.found and answer.answer.count("sync is not free") == 1 and "8 dollars" in answer.answer
    assert answer.answer.index("free.") < answer.answer.index("sync is not") < answer.answer.index("8 dollars")
    assert len(answer.citations) == 1
    check_citations(answer, {"Sync.md": text})
