"""The offline answerer: the notes' own best sentences, each cited, when no LLM is configured."""

from __future__ import annotations

import numpy as np

from ingest.markdown import clean_inline
from ingest.types import Answer, Hit, Span

from .citations import candidate_spans, citation, escape_markers, words

NOT_FOUND = "Your notes don't seem to answer this."


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder, max_sentences: int = 3, threshold: float = 0.45, spread: float = 0.12):
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.threshold = threshold  # below this the notes do not hold the answer
        self.spread = spread  # further sentences must score within this of the best

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        cands: list[tuple[Hit, Span, str]] = []
        for hit in hits:
            for span in candidate_spans(hit.chunk, max_chars=500):
                text = clean_inline(span.text)
                if len(words(text)) >= 3:
                    cands.append((hit, span, text))
        if not cands:
            return Answer(question, NOT_FOUND, [], self.name, False)
        vecs = np.asarray(self.embedder.embed([question] + [t for _, _, t in cands]))
        sims = vecs[1:] @ vecs[0]
        q = words(question)
        overlap = [len(q & words(t)) / max(1, len(q)) for _, _, t in cands]
        # short fragments and list lead-ins ("There are two types:") make poor answers
        scores = [float(s) + 0.15 * o + 0.03 * h.score - (0.08 if len(words(t)) < 5 else 0.0)
                  - (0.1 if t.rstrip().endswith(":") else 0.0)
                  for s, o, (h, _, t) in zip(sims, overlap, cands, strict=True)]
        order = sorted(range(len(cands)), key=lambda i: -scores[i])
        best = scores[order[0]]
        # a sentence that only sounds related (no shared word, middling similarity) is not an answer
        if best < self.threshold or (not overlap[order[0]] and sims[order[0]] < 0.6):
            return Answer(question, NOT_FOUND, [], self.name, False)
        chosen: list[int] = []
        for i in order:
            if len(chosen) == self.max_sentences or scores[i] < max(self.threshold, best - self.spread):
                break
            w = words(cands[i][2])
            if any(len(w & words(cands[j][2])) / max(1, len(w | words(cands[j][2]))) > 0.5 for j in chosen):
                continue
            chosen.append(i)
        parts, cits = [], []
        for n, i in enumerate(chosen, start=1):
            hit, span, text = cands[i]
            cits.append(citation(n, hit.chunk, span))
            parts.append(f"{escape_markers(text.rstrip())} [{n}]")
        return Answer(question, " ".join(parts), cits, self.name, True)
