"""The offline answerer: the notes' own words, cited: the key fact, a how-to's steps, a term's definition.

Tried and left out: a bonus for a sentence the reader ==highlighted== (+0.05: key fact on the sample vault's
held-out questions 0.97 -> 1.0, on its tuning questions 0.85 -> 0.84; +0.1: -0.03 there)."""

from __future__ import annotations

import re

import numpy as np

from ingest.lexical import Analyzer
from ingest.types import Answer, Hit

from .candidates import (
    DIGIT,
    INSTRUCTION,
    Candidate,
    candidates,
    clash,
    clauses,
    dated_heading,
    dated_neighbour,
    is_fragment,
    leaf,
    leaning_on,
    leant_on,
    neighbours,
    numbers_after,
    procedural,
    reads_on,
    render,
)
from .citations import citation, escape_markers, passages, plain, same_place, span_in, words
from .question import AMOUNT, AUTHOR_Q, DATE, NUMBER, WHEN, classify, defines, names_in, spells_out

NOT_FOUND = "Your notes don't seem to answer this."
NO_AMOUNT = "The sentences closest to the question give no amount."
NO_DATE = "The sentences closest to the question give no date."

ASKED_FOR = ((AMOUNT, NUMBER, NO_AMOUNT), (WHEN, DATE, NO_DATE))  # what a question asks for, what gives it
ALTERNATIVE = re.compile(r"(?:you\s+can\s+also|or|alternatively|also)\b", re.I)
EXPANSION_BONUS = 0.3  # the sentence that spells the acronym out is its definition
CONTEXT_WEIGHT, CONTEXT_FLOOR = 0.3, 0.45
HOWTO_BONUS = 0.1  # a how-to question prefers steps and instructions
# the retriever ranked the whole passage (its heading, its words, its neighbours' share): a sentence from its first
# passage gets 0.05, from its second 0.025, ... Key fact: sample tuning 0.85 -> 0.87, Turing Way held out 0.82 ->
# 0.84, help vault 0.56 -> 0.58, sample held out unchanged; the same from 0.03 to 0.07; no answer lost, none refused
PASSAGE_RANK = 0.05
NEIGHBOUR_SLACK = 0.1  # how much lower the sentence right next to a chosen one may score
# ... and the sentence right after a chosen one, when it holds a word of the question that the answer and the note's
# title do not ("The Faroese economy is dependent on fishing ..." reads on: "The sector normally accounts for about 95%
# of exports"). Key fact: Factbook 0.81 -> 0.83, State of the Union 2 0.65 -> 0.68, book PDFs 2 0.48 -> 0.50, the
# others the same; 12 of 398 answers change, 0.6 words longer on average. Any sentence after a chosen one within 0.5
# (no new word asked): more key facts (Turing Way +0.02, State of the Union 2 +0.08) but 55 answers padded with what
# follows ("... 10-day war. Historical ties to Western Europe ..."), 5 words longer; 0.3 lost the Faroese 95%. Any
# sentence at all holding a new word asked, within 0.1 below the floor: 59 answers changed, most by a third sentence
# from another note ("Every job also runs in an environment ..."), 4 words longer, the Faroese 95% lost again.
# Also tried in session 13: a two-part question ("..., and who wrote the music?") answered part by part (each part's
# best sentence, read with the whole question): no set moved, and the second part's best was another country's
# anthem; the question's words counted by rarity in `overlap` (0.5 + common_words.rarity): on the nine studied sets
# one key fact more and one error fewer each way, but neighbouring weights lost as many and the blind PyMdown set lost
# a key fact (0.48 -> 0.46)
READ_ON_SLACK = 0.5
ASKING = "many much long often old far big large one ones kind kinds type types way ways thing things"  # not asked
STEPS_REACH = 0.3  # a how-to answer adds the best steps this far below its key sentence


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder, max_sentences: int = 3, threshold: float = 0.45, spread: float = 0.12):
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.threshold = threshold  # below this the notes do not hold the answer
        self.spread = spread  # further sentences must score within this of the best
        self.stems = Analyzer()  # the question's words found in a sentence, as BM25 stems them ("independence" and
        # "independent" are one word)
        self._asking = set(self.stems(ASKING))

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        cands, q = self.ranked(question, hits), classify(question)
        howto = q.howto
        written = self._written_by(question, cands)
        if written is not None:  # "Who wrote AI Engineering?": the book's note says, in its author property
            c, author = written
            return self._compose(question, [c], hits, f"{c.hit.chunk.title} is by {author} (its note's author). ")
        top = max(cands, key=lambda c: c.base, default=None)
        # a sentence that only sounds related (no shared word, middling similarity) is not an answer. Tried and left
        # out (session 14): also refusing when the key sentence shares no asked word beyond its note's title and
        # heading ("What does the book say about hiring?" answered from the book's note by its title alone): under a
        # similarity of 0.5, one out-of-scope question more refused and two in scope; under 0.6, two and four
        if top is None or top.base < self.threshold or (not top.overlap and top.sim < 0.6):
            return Answer(question, NOT_FOUND, [], self.name, False)
        best, chosen = cands[0], [cands[0]]
        floor = max(self.threshold, best.score - self.spread)
        for c in cands[1:]:
            if len(chosen) == self.max_sentences or c.score < floor - READ_ON_SLACK:
                break
            if any(clash(c, d) or (c.steps and d.steps and c.hit.chunk.source != d.hit.chunk.source) for d in chosen):
                continue  # the same thing again, or a second procedure from another note
            # the sentence next to a chosen one reads on from it and shares its citation: a lower bar; lower still for
            # the one right after it that holds something the question asks and the answer does not yet say
            if (c.score >= floor or (c.score >= floor - NEIGHBOUR_SLACK and any(neighbours(c, d) for d in chosen))
                    or (any(reads_on(c, d) for d in chosen) and self._adds(question, c, chosen))):
                chosen.append(c)
        leaning = leaning_on(best, cands)  # the key sentence's own continuation outranks the sentences after it
        if leaning is not None and leaning not in chosen:
            chosen = ([best, leaning] + chosen[1:])[:self.max_sentences]
        # "That tribe ... has ceded to us all the country between the Wabash and Ohio": the tribe is named in the
        # sentence before, which comes first
        referent = leant_on(best, cands)
        if referent is not None and referent not in chosen:
            chosen = ([referent] + chosen)[:self.max_sentences]
        if q.quantity and not DIGIT.search(render(best)):
            # "The maximum file size depends on your plan." reads on: "For the Standard plan the limit is 5 MB. ..."
            # (a number in some other note's sentence is no reason to cut the key sentence short)
            # the sentence the key one leans on, if taken, stays before it
            after, lead = numbers_after(best, cands), chosen[:chosen.index(best) + 1] if best in chosen else [best]
            chosen = (lead + after + [c for c in chosen if c not in lead and c not in after])[:self.max_sentences]
        if howto and not any(c.steps for c in chosen):
            floor = max(self.threshold, best.score - STEPS_REACH)
            steps = next((c for c in cands if c.steps and c.score >= floor
                          and not any(clash(c, d) for d in chosen)), None)
            if steps:  # the user asked how: the key fact, then the steps
                chosen = chosen[:self.max_sentences - 1] + [steps]
        said, dated = [render(c) for c in chosen], ""
        for asked, given, missing in ASKED_FOR:
            # "How much does a DOI cost?" answered by how DOIs are registered: the notes name it, not its amount
            if asked.match(question) and not any(given.search(t) for t in said):
                # "Mar 8, 2015: Released version 2.6.1. The yaml option has been removed ...": the date is said
                # right before or after the key sentence; or a daily note's title or a changelog's heading holds it
                near = dated_neighbour(best, cands) if asked is WHEN else None
                if near is not None:
                    chosen = sorted([best, near], key=lambda c: c.start) + [c for c in chosen if c not in (best, near)]
                    chosen = chosen[:self.max_sentences]
                    continue
                dated = dated_heading(best) if asked is WHEN else ""
                if not dated:
                    return Answer(question, f"{NOT_FOUND} {missing}", [], self.name, False)
        return self._compose(question, chosen, hits, f"{dated}: " if dated else "")

    def _adds(self, question: str, c: Candidate, chosen: list[Candidate]) -> bool:
        """c holds a word of the question that no chosen sentence holds, nor c's note title (the subject, named);
        not a word of how the question asks ("how many", "which one": "Many amateur astronomers ..." adds nothing)."""
        said = set(self.stems(c.hit.chunk.title)).union(*(self.stems(d.plain) for d in chosen), self._asking)
        return bool((set(self.stems(question)) & set(self.stems(c.plain))) - said)

    def _written_by(self, question: str, cands: list[Candidate]) -> tuple[Candidate, str] | None:
        """For a question of who wrote a work the question names by its note's title, that note's best sentence
        and its author property; None otherwise (no such question, no such note, no author given)."""
        if not AUTHOR_Q.search(question):
            return None
        asked = set(self.stems(question))
        for c in cands:  # best first
            chunk, author = c.hit.chunk, str(c.hit.chunk.metadata.get("author") or "")
            title = set(self.stems(chunk.title))
            if author and title and title <= asked:
                return c, author
        return None

    def ranked(self, question: str, hits: list[Hit]) -> list[Candidate]:
        """Every candidate answer in the hits, scored, best first."""
        q = classify(question)
        seen: dict[tuple[str, int, int], Candidate] = {}
        for hit in hits:
            for c in candidates(hit, q):
                # overlapping chunks repeat sentences (a PDF's offsets count from its page)
                seen.setdefault((hit.chunk.source, hit.chunk.page, c.start, c.end), c)
        cands = list(seen.values())
        texts = [render(c) for c in cands]
        # steps are embedded under their heading ("Install a new theme"), which says what they achieve
        seen_as = [f"{leaf(c.hit.chunk, c.start)}\n{t}".lstrip() if c.steps else t
                   for c, t in zip(cands, texts, strict=True)]
        places = sorted({x for c in cands for x in (c.hit.chunk.title, leaf(c.hit.chunk, c.start)) if x})
        parts = [(n, p) for n, c in enumerate(cands) if not c.steps for p in clauses(texts[n])]
        # a sentence is read with its note's title too when the question names the note and the sentence does not:
        # "I will soon be visiting China" in "1972 State of the Union — Richard Nixon" answers "Which countries was
        # Nixon about to visit?", "331,918 (July 2015 est.)" in "Iceland" how many live in Iceland
        named = set(self.stems(" ".join(names_in(question))))
        parts += [(n, f"{c.hit.chunk.title}: {texts[n]}") for n, c in enumerate(cands)
                  if named and not c.steps and (named & set(self.stems(c.hit.chunk.title))) - set(self.stems(texts[n]))]
        vecs = np.asarray(self.embedder.embed([question] + seen_as + places + [p for _, p in parts]))
        qv, qw = vecs[0], set(self.stems(question))
        near = dict(zip(places, (vecs[1 + len(texts):1 + len(texts) + len(places)] @ qv).tolist(), strict=True))
        clause_sim: dict[int, float] = {}
        for (n, _), v in zip(parts, vecs[1 + len(texts) + len(places):], strict=True):
            clause_sim[n] = max(clause_sim.get(n, -1.0), float(v @ qv))
        for n, (c, v, t) in enumerate(zip(cands, vecs[1:1 + len(texts)], texts, strict=True)):
            c.vec, c.sim = v, max(float(v @ qv), clause_sim.get(n, -1.0))
            ch = c.hit.chunk
            if q.howto and c.steps and 2 * (c.end - c.start) >= ch.end - ch.start:
                c.sim = max(c.sim, c.hit.score)  # most of the passage: its own match (read with its heading) counts
            # a heading named like the question
            context = max(near.get(ch.title, 0.0), near.get(leaf(ch, c.start), 0.0))
            said = [plain(p) for p in c.parts if not is_fragment(p) or plain(p).endswith(":")]  # a bare name: nothing
            c.overlap = len(qw & set(self.stems(" ".join(said)))) / max(1, len(qw))
            c.base = c.sim + 0.15 * c.overlap + 0.03 * c.hit.score - (0.08 if len(words(t)) < 5 else 0.0)
            c.score = c.base + PASSAGE_RANK / c.hit.rank
            if q.term and not c.steps and defines(c.parts[0].text, q):
                c.score += 0.15
            if q.acronym and not c.steps and spells_out(c.parts[0].text, q.acronym):
                c.score += EXPANSION_BONUS
                c.base = max(c.base, self.threshold)  # it answers, however unlike the question it reads
            if q.howto and (procedural(c.parts) if c.steps else INSTRUCTION.match(t)):
                c.score += HOWTO_BONUS
            # "You can also ..." adds to an answer rather than leading it; a question in the notes asks, not answers
            c.score -= 0.05 * bool(ALTERNATIVE.match(t)) + 0.1 * t.endswith("?")
            c.score += CONTEXT_WEIGHT * max(0.0, context - CONTEXT_FLOOR)
            if q.quantity and DIGIT.search(t):
                c.score += 0.08
        if q.howto:  # a step is best read within its steps: the list scores as its best step
            for c in (c for c in cands if c.steps):
                inner = [d.score for d in cands if not d.steps and same_place(d.hit.chunk, c.hit.chunk)
                         and c.start <= d.start < c.end]
                c.score = max([c.score, *(x + 0.01 for x in inner)])
        return sorted(cands, key=lambda c: -c.score)

    def _compose(self, question: str, chosen: list[Candidate], hits: list[Hit], lead: str = "") -> Answer:
        """The chosen sentences, grouped by passage, each group cited; after a lead from the note's title, heading or
        properties (the date a daily note is named by, a book's author), if any."""
        groups = passages([(c.hit.chunk, c.start, c.end) for c in chosen], [h.chunk for h in hits])
        parts, cits = [], []
        for n, (chunk, members) in enumerate(groups, start=1):
            text, group = "", [chosen[i] for i in members]
            for c in group:  # a list item among other sentences keeps its bullet
                body = ("- " if len(group) > 1 and c.parts[0].kind == "item" and not c.steps else "") + render(c)
                joiner = "\n" if text and ("\n" in text or c.parts[0].kind in ("item", "code")) else " "
                text = f"{text}{joiner}{body}" if text else body
            cits.append(citation(n, chunk, span_in(chunk, group[0].start, group[-1].end)))
            parts.append(f"{escape_markers(text)} [{n}]")
        out = escape_markers(lead) + parts[0]
        for p in parts[1:]:
            out += ("\n" if "\n" in out or "\n" in p else " ") + p  # lists keep their own lines
        return Answer(question, out, cits, self.name, True)
