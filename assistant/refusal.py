"""Whether the retrieved passages can answer at all, from both kinds of evidence; and the refusal itself.

Dense similarity alone cannot tell "about the book's subject" from "answers it" (MiniLM puts any question
on the topic near the notes), and word overlap alone misses paraphrase. The evidence combines the best
passage's similarity, the share of the question's words (weighted by rarity) that a passage holds, and
the share of the question's weight in words the vault never uses at all ("sourdough", "beam"), each counted
by how specific a word it is in everyday English (common_words.py: "docx" in full, "really" not at all).
The weights are calibrated by benchmarks/refusal.py on the tuning QA sets (the sample vault's and the help
vault's), counting both errors, and checked on the held-out sets.

A file format the question names (".docx") must appear in one of those passages: similarity and word counts cannot
see that. A name it spells with capitals mid-sentence ("Apple Watch") that no passage holds as a run of words (nor as
its initials, "UN" for "United Nations") is said in the refusal, but no longer refuses by itself (session 10): on the
two tuning vaults that rule refused "Apple Watch" and "Google Calendar", and on the five held-out third-party sets
it refused 10 in-scope questions and no out-of-scope one the answerer would not refuse anyway. Prose names things
its own way: "the Soviets" for the Soviet Union, "vessels of the Navy" for the US Navy, "this hemisphere" for the
New World, "Solidarity" in Poland for Polish Solidarity, "the original Perl implementation" for Perl Markdown.
In-scope refused without it: Factbook 3 -> 1, State of the Union 4 -> 0 and 4 -> 1, Python-Markdown 5 -> 4; key
fact +0.02 to +0.05 there; out of scope answered on the help vault 2 -> 4, unchanged elsewhere. A penalty on the
evidence instead (a name missing takes 0.45 off the score) would have kept one of the two and refused two in scope.

Tried in session 14 and left out, on the seven studied sets' answered questions (25 out of scope, 329 in scope): a
question on a note's subject that the note does not answer should find no sentence closer to it than the note's title
is; refusing when the key sentence is no closer than the title would refuse 4 out of scope and 14 in scope (than its
heading: 2 and 20; than its passage: 8 and 56). Nor did a question word the vault holds but no top passage does
separate them (0.2 of the question's weight: 4 and 6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.chunker import named
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
    unmatched: tuple[str, ...] = ()  # names and file formats in the question that none of the top passages holds

    def score(self, cfg: RefusalConfig) -> float:
        return self.similarity + cfg.cover_weight * self.cover - cfg.unknown_weight * self.unknown


WORD = re.compile(r"[\w'’.-]*\w")
EXTENSION = re.compile(r"(?<![\w.])\.[A-Za-z][A-Za-z0-9]{0,5}\b")  # ".docx", ".h5": a file format, named
SENTENCE_END = re.compile(r"[.!?:;]$")


def names(question: str) -> list[str]:
    """Runs of two or more capitalised words, not counting a sentence's first word or "I"; file extensions.
    A question in title case ("What Is Zettelkasten Method?": 4 words in 5 capitalised) names nothing by it."""
    words = [w for w in WORD.findall(question)[1:] if len(w) > 1]
    if words and 5 * sum(w[0].isupper() for w in words) >= 4 * len(words):
        return EXTENSION.findall(question)
    out: list[str] = []
    run: list[str] = []
    starts = True  # this word begins a sentence
    for m in WORD.finditer(question):
        w = m.group()
        capital = w[0].isupper() and len(w) > 1 and not starts
        if capital:
            run.append(w)
        starts = bool(SENTENCE_END.match(question[m.end():m.end() + 1]))
        if not capital or starts:  # the run ends before a lower-case word, or with its sentence
            out += [" ".join(run)] if len(run) > 1 else []
            run = []
    return out + ([" ".join(run)] if len(run) > 1 else []) + EXTENSION.findall(question)


def _holds(seq: list[str], name: list[str]) -> bool:
    """The name's words in a row; for a longer name, any two of them in a row ("open source licence")."""
    if len(name) == 1:
        return name[0] in seq
    want = [tuple(name)] if len(name) == 2 else list(zip(name, name[1:], strict=False))
    runs = {tuple(seq[i:i + len(w)]) for w in want for i in range(len(seq) - len(w) + 1)}
    return any(w in runs for w in want)


def initials(name: str) -> re.Pattern | None:
    """What a passage may write the name as, in capitals: "United Nations" -> "UN" (not "us" for "United States",
    nor "AWS" for "Apple Watch"); None for a name of fewer than two capitalised words."""
    caps = "".join(w[0] for w in WORD.findall(name) if w[0].isupper())
    return re.compile(rf"(?<![\w-]){caps}s?(?![\w-])") if len(caps) > 1 else None


def evidence(terms: list[str], weights: dict[str, float], hits: list[Hit], analyzer, known,
             depth: int = 5, rarity=lambda term: 1.0, question: str = "") -> Evidence:
    """known(term) tells whether any chunk of the vault holds the term; rarity(term) in [0, 1] how much its
    absence counts."""
    wanted = set(terms)
    total = sum(weights.get(t, 1.0) for t in wanted) or 1.0
    cover = 0.0
    texts = [f"{named(h.chunk.title, h.chunk.metadata.get('aliases'))}\n{h.chunk.heading}\n{h.chunk.text}"
             for h in hits[:depth]]
    seqs = [analyzer(t) for t in texts]
    for seq in seqs:
        cover = max(cover, sum(weights.get(t, 1.0) for t in wanted & set(seq)) / total)
    unknown = sum(weights.get(t, 1.0) * rarity(t) for t in wanted if not known(t)) / total
    similarity = max((h.score for h in hits[:depth]), default=0.0)
    asked = [(n, analyzer(n), initials(n)) for n in names(question)]
    unmatched = tuple(n for n, stems, short in asked if stems and not any(_holds(s, stems) for s in seqs)
                      and not (short and any(short.search(t) for t in texts)))
    return Evidence(similarity, cover if wanted else 0.0, unknown if wanted else 0.0, unmatched)


def grounded(ev: Evidence, config: RefusalConfig | None = None) -> bool:
    cfg = config or RefusalConfig()
    if any(n.startswith(".") for n in ev.unmatched):  # a file format no passage names
        return False
    return ev.similarity >= cfg.strong or ev.score(cfg) >= cfg.threshold


def refusal(question: str, hits: list[Hit], backend: str, standalone: str = "", model: str = "",
            unmatched: tuple[str, ...] = ()) -> Answer:
    """'Not in your notes', with the passages that came closest, so the user sees what was looked at; and,
    when a name or file format the question uses is in none of them, which one."""
    text = NOT_FOUND
    if unmatched:
        missing = ", ".join(f"“{n}”" for n in unmatched)
        text += f" None of the closest passages mentions {missing}."
    return Answer(question, text, [], backend, False, nearest=hits, standalone=standalone, model=model)
