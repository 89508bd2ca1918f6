"""The refusal rule's evidence: words the vault never uses count by how specific they are in English."""

from __future__ import annotations

from assistant.common_words import rarity
from assistant.refusal import RefusalConfig, evidence, grounded
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
