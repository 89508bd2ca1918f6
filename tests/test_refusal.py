"""The refusal rule's evidence: words the vault never uses count by how specific they are in English, a file format
the question names must appear in a passage, and a name it spells with capitals is looked for as a name."""

from __future__ import annotations

from dataclasses import replace

from assistant.common_words import rarity
from assistant.refusal import RefusalConfig, evidence, grounded, names
from ingest.lexical import Analyzer
from ingest.types import Chunk, Hit


def test_everyday_words_say_little_and_specific_ones_count_in_full():
    stem = Analyzer()
    assert rarity(stem("really")[0]) == 0.0 and rarity(stem("several")[0]) == 0.0
    assert rarity(stem("docx")[0]) == 1.0 and rarity(stem("venv")[0]) == 1.0  # not in the table at all
    assert 0.0 < rarity(stem("squash")[0]) < 1.0


def passage(text: str, score: float) -> Hit:
    chunk = Chunk(id="n.md:0", source="n.md", kind="note", title="Versions", heading="", page=None, start=0,
                  end=len(text), text=text)
    return Hit(chunk, 1, score)


def test_a_paraphrase_in_everyday_words_is_answered_and_a_specific_unknown_topic_is_not():
    """Same passage, same similarity: "really" and "several" missing from the vault is how people talk;
    "docx" and "pandoc" missing means the notes are about something else."""
    analyzer = Analyzer()
    hits = [passage("Sync keeps a version history of every note, and you can restore an older version.", 0.45)]
    vault = set(analyzer(hits[0].chunk.text + " export note file word pdf"))

    def judge(question: str) -> bool:
        terms = analyzer(question)
        ev = evidence(terms, {t: 2.0 for t in terms}, hits, analyzer, vault.__contains__, rarity=rarity)
        return grounded(ev, RefusalConfig())

    assert judge("Is it really possible to get back several older versions?")
    assert not judge("Can I export a note as a docx file with pandoc?")


def test_names_are_runs_of_capitalised_words_after_a_sentence_starts():
    assert names("Can I use Obsidian on my Apple Watch?") == ["Apple Watch"]
    assert names("How do I choose an Open Source License? And Git LFS.") == ["Open Source License", "Git LFS"]
    assert names("Which Python version does I Need") == []  # a sentence's first word, and "I", start no name
    assert names("Why does Face ID keep updating?") == ["Face ID"]
    assert names("what about Google Photos?Google Docs too") == ["Google Photos"]
    assert names("How do I export a note as a Word .docx file, not notes.md?") == [".docx"]
    assert names("How To Export A Note As A Word .docx File?") == [".docx"]  # title case names nothing


def named(question: str, hits: list[Hit]):
    """The evidence for a question whose words the vault all holds: only names can be missing."""
    analyzer = Analyzer()
    terms = analyzer(question)
    return evidence(terms, {t: 1.0 for t in terms}, hits, analyzer, lambda t: True, question=question)


def test_a_file_format_the_passages_never_name_is_not_grounded():
    hits = [passage("Export a note as a PDF file from the command palette.", 0.63)]
    docx = named("How do I export a note as a .docx file?", hits)
    assert docx.unmatched == (".docx",) and not grounded(docx)
    assert named("How do I export a note as a .pdf file?", hits).unmatched == ()


def test_a_name_the_passages_hold_only_in_pieces_is_noted_but_does_not_refuse_by_itself():
    """The passage names Apple and a watch, and is similar enough to answer; the Apple Watch is not in it. That is
    noted (a refusal says so), but prose names things its own way ("the Soviets"), so the evidence decides."""
    text = "Obsidian can be used in Apple's Lockdown Mode. Watch the sync indicator while it works."
    hits = [passage(text, 0.62)]
    watch = named("Can I use Obsidian on my Apple Watch?", hits)
    assert watch.unmatched == ("Apple Watch",) and grounded(watch)
    assert not grounded(replace(watch, similarity=0.2, cover=0.1))
    lockdown = named("Does Obsidian work in Lockdown Mode?", hits)
    assert lockdown.unmatched == () and grounded(lockdown)


def test_a_longer_name_needs_two_of_its_words_in_a_row_so_spelling_variants_pass():
    analyzer = Analyzer()
    hits = [passage("Pick an open source licence before you publish the code.", 0.5)]
    question = "How do I choose an Open Source License?"
    terms = analyzer(question)
    assert evidence(terms, {}, hits, analyzer, lambda t: True, question=question).unmatched == ()


def test_a_name_the_passage_writes_as_its_initials_is_held():
    """"United Nations" is "UN" in the notes: the name is there, and the question is answered."""
    hits = [passage("The country did not officially become a UN member until 2002.", 0.6)]
    assert named("When did Switzerland officially join the United Nations?", hits).unmatched == ()
    assert named("When did Switzerland join the Arctic Council?", hits).unmatched == ("Arctic Council",)
    # written in capitals, and the whole of it: "us", "vs" and "AWS" are not the United States, Visual Studio or
    # an Apple Watch
    plain = [passage("Bots help us find things, masked vs autoregressive; see AWS.", 0.6)]
    for question, name in (("Can bots in the United States find it?", "United States"),
                           ("Does it run in Visual Studio?", "Visual Studio"),
                           ("Is it on my Apple Watch?", "Apple Watch")):
        assert named(question, plain).unmatched == (name,)
    assert named("Does it run on Amazon Web Services?", plain).unmatched == ()


def test_a_name_that_is_a_notes_alias_is_held():
    """A note about the Zettelkasten with `aliases: Slip Box`: the question's name is the note's other title."""
    hit = passage("Write one idea per card and link each card to the ones it builds on.", 0.6)
    assert named("How do I fill my Slip Box?", [hit]).unmatched == ("Slip Box",)
    hit.chunk.metadata["aliases"] = ["Slip Box"]
    assert named("How do I fill my Slip Box?", [hit]).unmatched == ()
