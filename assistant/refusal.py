"""Whether the retrieved passages can answer at all, from both kinds of evidence; and the refusal itself.

Dense similarity alone cannot tell "about the book's subject" from "answers it" (MiniLM puts any question
on the topic near the notes), and word overlap alone misses paraphrase. The evidence combines the best
passage's similarity, the share of the question's words (weighted by rarity) that a passage holds, and
the share of the question's weight in words the vault never uses at all ("sourdough", "beam"), each counted
by how specific a word it is in everyday English (common_words.py: "docx" in full, "really" not at all).
The weights are calibrated by benchmarks/refusal.py on the tuning QA sets (the sample vault's and the help
vault's), counting both errors, and checked on the held-out sets.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.types import Answer, Hit

NOT_FOUND = "Your notes don't seem to answer this."


@dataclass(frozen=True)
class RefusalConfig:
    cover_weight: float = 0.5  # how much the question's words found in a passage add to its similarity
    unknown_weight: float = 1.0  # how much specific words absent from the whole vault take away
    threshold: float = 0.34  # evidence below this is "not in your notes"
    strong: float = 0.65  # a passage this similar answers whatever the words
    depth: int = 5  # the top passages that may carry the evidence


@dataclass(frozen=True)
class Evidence:
    similarity: float  # best cosine among the top passages
    cover: float  # best idf-weighted share of the question's terms one top passage holds (title and heading count)
    unknown: float  # idf-weighted share of the question's terms that no chunk of the vault holds, by specificity

    def score(self, cfg: RefusalConfig) -> float:
        return self.similarity + cfg.cover_weight * self.cover - cfg.unknown_weight * self.unknown


def evidence(terms: list[str], weights: dict[str, float], hits: list[Hit], analyzer, known,
             depth: int = 5, rarity=lambda term: 1.0) -> Evidence:
    """known(term) tells whether any chunk of the vault holds the term; rarity(term) in [0, 1] how much its
    absence counts."""
    wanted = set(terms)
    total = sum(weights.get(t, 1.0) for t in wanted) or 1.0
    cover = 0.0
    for h in hits[:depth]:
        have = set(analyzer(f"{h.chunk.title}\n{h.chunk.heading}\n{h.chunk.text}"))
        cover = max(cover, sum(weights.get(t, 1.0) for t in wanted & have) / total)
    unknown = sum(weights.get(t, 1.0) * rarity(t) for t in wanted if not known(t)) / total
    similarity = max((h.score for h in hits[:depth]), default=0.0)
    return Evidence(similarity, cover if wanted else 0.0, unknown if wanted else 0.0)


def grounded(ev: Evidence, config: RefusalConfig | None = None) -> bool:
    cfg = config or RefusalConfig()
    return ev.similarity >= cfg.strong or ev.score(cfg) >= cfg.threshold


def refusal(question: str, hits: list[Hit], backend: str, standalone: str = "", model: str = "") -> Answer:
    """'Not in your notes', with the passages that came closest, so the user sees what was looked at."""
    return Answer(question, NOT_FOUND, [], backend, False, nearest=hits, standalone=standalone, model=model)
