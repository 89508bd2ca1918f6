"""Hybrid retrieval: dense (MiniLM in Chroma) and lexical (stemmed BM25), fused by score, spread over notes.
`Retriever.retrieve(query, k, filters)` is the one seam the facade, CLI, eval and UI use.

A candidate's fused score is its cosine plus lexical_weight times its BM25 score over the query's best BM25
score. Measured against reciprocal-rank fusion (k=60) at chunk level, MRR@10: sample vault 0.797 -> 0.823, a
178-note help vault 0.499 -> 0.561, held-out sample questions 0.946 -> 0.964, held-out Turing Way 0.839 -> 0.833
(recall@5 0.913 -> 0.935): rank fusion throws away how far ahead the best match is. Weights 0.35-0.7 are within
0.02 of each other; min-max scaling the cosines did no better.

Kept (session 8): the first 7 fused candidates re-read sentence by sentence, each scored up by half the query's
cosine with its best sentence. With chunks of 256 word pieces, recall@5 / MRR@10 before -> after: sample vault
0.967 / 0.867 -> 0.967 / 0.901, its held-out questions 1.0 / 0.919 -> 1.0 / 0.922, help vault 0.82 / 0.590 ->
0.86 / 0.601 (key fact 0.64 -> 0.58), held-out Turing Way 0.982 / 0.886 -> 1.0 / 0.906 (one in-scope refusal
fewer). Re-reading 10 or 20 candidates gained nothing more; a weight of 0.3 or 1.0 within 0.02. Only an answer's
search does it (`ask`, `chat`, `eval`): ~100 ms on 2 cores whatever the vault's size, and the sentences'
vectors are the offline answerer's too (memo.py), so a fresh `ask` costs no more CPU than before (paired runs).
A plain `search` keeps the fused order and its ~15 ms. (Session 1 had tried it on the top 20 with torch: ~2 s.)
Kept (session 9): a re-read passage that is short and links to another candidate's note yields to it
(pointers.py); a re-read chunk scores by its best sentence or by itself, whichever is closer (was: its best
sentence): recall@5 / MRR@10 help vault 0.84 / 0.630 -> 0.86 / 0.623, Factbook 0.924 / 0.864 -> 0.924 / 0.886,
the other four sets within 0.001. Tried and left out: reading pairs of neighbouring sentences too (-0.006 to
+0.005); reading a short sentence under its heading in the offline answer ("Population: 331,918 ...": it then
took Norway's population for Iceland's, key fact -0.02 and -0.03 on two sets).

Kept (session 12): the lexical side brings 200 candidates (was 50, as the dense side still does). A chunk 60th to
200th by BM25 whose cosine is fair can lead the fused order; at 50 it was never read. recall@5 / MRR@10 before ->
after: book PDFs 0.775 / 0.630 -> 0.800 / 0.682, Factbook 0.924 / 0.886 -> 0.943 / 0.903; the second book set 0.812 /
0.675 -> 0.812 / 0.672, a new blind set (PyMdown Extensions' docs) 0.854 / 0.633 -> 0.854 / 0.631, the six others
identical; refusals unchanged. The dense side deeper (200) added nothing. A chunk the dense side did not return needs
its vector read (~0.1 ms each): an answer's search reads all of them, a plain search only those whose best possible
fused score can still place (~5 of the 150 on the book vault, 2 on Python-Markdown). Tried with it and left out: a
re-read sentence weight of 0.75 (MRR up to +0.018 on seven of nine sets, the sample most, but the blind PyMdown set lost
a question from the top 5, MRR -0.009: no gain where it was not tuned); 1.0 (lost on Python-Markdown and the books);
re-reading 15 or 30 candidates instead of 7 (~+0.01 MRR on four sets, a State of the Union question out of the top 5,
~+60 ms an ask); a lexical weight of 0.4 or 0.6 (mixed, within 0.02).

Tried and left out (session 13): a smaller lexical share where BM25 is flat (the best score over the 10th or 20th
best, the share scaled down as that nears 1): Python-Markdown recall@5 +0.02 to +0.055, book PDFs up to +0.025, but
Factbook MRR -0.012 to -0.023 (a country's profile matches its name all alike), State of the Union recall@5 -0.022, book
PDFs 2 key fact -0.03; measured at the 100th or 200th it never bites. Embedding a question's last sentence with it
("I typed a numbered list ... How do I get two separate lists?"; 16 of Python-Markdown's questions, 10 of the second
book set's): MRR +0.002 and -0.010 at half weight; alone, 8 more in-scope questions refused on the two. Re-reading
the 3 nearest and the 3 best BM25 chunks beside the first 7: Factbook recall@5 +0.019, Python-Markdown -0.018.

Tried and left out (session 14): each query word's BM25 score weighed by how specific a word it is in everyday English
(common_words.rarity; an everyday word at a + (1 - a) times its score): at a = 0.5 Python-Markdown recall@5 +0.019,
book PDFs +0.025, State of the Union MRR +0.018, but Turing Way recall@5 -0.018 with one more in-scope refusal and the
sample vault's MRR -0.005; at 0.65 and 0.75 Turing Way the same loss, the gains smaller. A learned ranker over the
first 12 fused candidates (pairwise logistic regression on cosine, BM25 share, fused score, best-sentence bonus, the
question's idf share in the chunk and in its title and heading, length, rank, the note's count and lead), judged set
by set with that set left out of its training, with three feature sets: MRR@10 below the fused order on five or six of
seven studied sets each time (book PDFs 0.682 -> 0.619 to 0.656, Python-Markdown 0.682 -> 0.650 to 0.674, the sample
vault -0.015 to -0.021), above it by at most 0.015 on Factbook or State of the Union. The hand-set fusion is what
these features support. Hyphenated compounds indexed joined as well ("fine-tuning" also as "finetuning", so that notes
that write it either way meet): added to the question too, "end-of-sequence" became a word the vault lacks and an
in-scope question was refused; added to the question only where the vault has it, Python-Markdown MRR -0.013 (a
compound counts twice), book PDFs -0.026, State of the Union recall@5 -0.022.

Tried and left out: pseudo-relevance feedback (Rocchio on the query
vector, beta 0.3-0.7, and RM3-style expansion terms: -0.03 to +0.01); field weights (folder, title and heading
counted twice in BM25: within 0.01); boosting chunks of notes with several good chunks (-0.02 to +0.01);
scaling BM25 by the query's summed idf (or by the larger of that and the best score, or their geometric mean)
instead of the best score, so that a query of common words gets a smaller lexical share: recall@5 +0.02 on the help
vault and the held-out Turing Way, MRR -0.03 on the help vault, and one more out-of-scope question answered;
adding 0.15 or 0.3 times the query's cosine with each top-30 chunk's "title > heading" (help vault recall@5 +0.02
to +0.04, but the sample vault -0.016 and its held-out MRR -0.006: the header is already in the embedded text);
raising each top-10 note's first chunk to its note's best score minus a margin (the help vault's evidence is in a
note's first chunk for 8 of its 15 misses; margin 0.1: help +0.06, sample -0.016, held-out Turing Way -0.018;
0.2: help +0.04, Turing Way -0.018; 0.3: nothing gained, one more out-of-scope question answered); a bonus of
a/(dense rank + 1) beside the fused score (a 0.1-0.2: help recall unchanged, MRR -0.008 to -0.027).

Spreading: at most per_note chunks of one note before other notes get a place. 2 -> 3 gave recall@5 +0.035 on
the sample vault, +0.02 on the help vault, +0 on the held-out sets (a how-to note's third chunk is often the
one with the steps); no cap at all did no better than 3 (session 7: 4 or none gave the help vault one more
question, the sample vault MRR -0.002; the issue asks for the spread, so 3 it is). Session 10: the cap is soft. A
note's fourth chunk or later still comes first when it leads the other notes' chunks by spread_margin (0.1): a
question naming a long note ("What did Wilson ask Congress in December 1917?") is answered by that note's
fourth-best passage, not by other speeches. On two held-out sets of State of the Union addresses (32 and 30
speeches, ~40 chunks each), recall@5 / MRR@10 / nDCG@10 0.867 / 0.741 / 0.773 -> 0.911 / 0.758 / 0.807 and
0.950 / 0.854 / 0.879 -> 0.975 / 0.860 / 0.890; the six other sets within 0.003 (Python-Markdown: one
out-of-scope question fewer answered; Factbook: key fact 0.75 -> 0.72, two answers taking other sentences from
hits of the same ranks). A margin of 0.2: 0.911 / 0.757 and 0.950 / 0.858; a hard cap of 5: 0.933 / 0.755 and
0.975 / 0.860, the other sets as with the margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest import lexical
from ingest.errors import IndexDamaged
from ingest.manifest import Manifest
from ingest.types import Chunk, Filters, Hit

from . import common_words, pointers
from .citations import pieces, plain
from .refusal import Evidence, evidence

MIN_SHARE = 0.05  # a filter keeping this share of the chunks or more is applied after the vector search
MAX_DEEP = 4000  # ... which then reads at most this many nearest ids


@dataclass(frozen=True)
class RetrievalConfig:
    depth: int = 50  # candidates the dense side contributes to the fusion
    lexical_depth: int = 200  # ... and the lexical side
    dense_weight: float = 1.0  # times the cosine
    lexical_weight: float = 0.5  # times BM25 over the best BM25 of the query: 1 for the best lexical match
    per_note: int = 3  # chunks of one note in the top k before other notes get their turn
    rescore: int = 7  # the first fused candidates an answer's retrieval re-reads sentence by sentence (0: off)
    sentence_weight: float = 0.5  # times the query's cosine with a candidate's best sentence, added to its score
    pointer_words: int = 20  # a re-read passage this short that links to a candidate's note yields to it (0: off)
    spread_margin: float = 0.1  # a note's chunk past per_note still comes first when it leads by this much (0: never)


class Retriever:
    """Holds the lexical generation it last loaded; the caller hands it the current manifest."""

    def __init__(self, store, embedder, index_dir: Path, config: RetrievalConfig | None = None):
        self.store = store
        self.embedder = embedder
        self.index_dir = Path(index_dir)
        self.config = config or RetrievalConfig()
        self._analyzer: lexical.Analyzer | None = None
        self._gen: tuple[str, lexical.Generation] | None = None

    @property
    def analyzer(self) -> lexical.Analyzer:
        if self._analyzer is None:
            self._analyzer = lexical.Analyzer()
        return self._analyzer

    def generation(self, m: Manifest) -> lexical.Generation | None:
        if not m.lexical:
            return None
        if self._gen is None or self._gen[0] != m.lexical:
            try:
                loaded = lexical.load(self.index_dir, m.lexical)
            except FileNotFoundError:
                raise  # a swap under this reader: the facade reads the manifest again and retries
            except (OSError, ValueError, KeyError, TypeError, IndexError) as e:  # garbage in a generation's files
                where = self.index_dir / lexical.DIR / m.lexical
                raise IndexDamaged(str(where), f"is unreadable ({type(e).__name__}: {' '.join(str(e).split())})"
                                   ) from None
            self._gen = (m.lexical, loaded)
        return self._gen[1]

    def terms(self, query: str) -> list[str]:
        return self.analyzer(query)

    def evidence(self, query: str, hits: list[Hit], depth: int) -> Evidence:
        """What the hits show for the query, for the refusal decision (refusal.py): weighed against the
        lexical generation the hits were retrieved from, so the manifest is not read again."""
        gen = self._gen[1] if self._gen is not None else None
        terms = self.terms(query)
        weights = {t: gen.idf(t) if gen is not None else 1.0 for t in terms}
        return evidence(terms, weights, hits, self.analyzer,
                        lambda t: gen is None or gen.df(t) > 0, depth, common_words.rarity, query)

    def retrieve(self, m: Manifest, query: str, k: int, filters: Filters | None = None, rescore: bool = False
                 ) -> list[Hit]:
        """The k best chunks; with rescore (the answer path) the first candidates are re-read by sentence."""
        cfg = self.config
        qvec = self.embedder.embed([query])[0]
        gen = self.generation(m)
        depth = max(cfg.depth, 4 * k)
        dense = self._dense(m, qvec, depth, filters, gen) if cfg.dense_weight else []
        lex = (gen.search(self.terms(query), max(cfg.lexical_depth, 4 * k), filters)
               if gen is not None and cfg.lexical_weight else [])
        chunks: dict[str, Chunk] = {c.id: c for c, _ in dense}
        cosine = {c.id: s for c, s in dense}
        best = max((score for _, score, _ in lex), default=0.0) or 1.0
        bm25 = {cid: score for cid, score, _ in lex}

        def fuse(i: str) -> float:
            return cfg.dense_weight * cosine[i] + cfg.lexical_weight * bm25.get(i, 0.0) / best

        lexical_only = [cid for cid, _, _ in lex if cid not in cosine]
        self._read(m, lexical_only[:depth], chunks, cosine, qvec)
        deeper = lexical_only[depth:]
        if deeper and not rescore and cfg.spread_margin > 0 and len(dense) == depth:
            # a plain search (~10 ms) reads a deeper one's vector (~0.1 ms each) only when it can still place: a chunk
            # the dense side did not return is no closer than its last one, so its best possible score is that
            # ceiling plus its BM25 share, against the k-th candidate's less the margin spread() may take off it;
            # and at most as many again, where BM25 is flat and every one could. An answer's search reads them all:
            # its re-reading and pointers can lift a candidate from anywhere, and ~15 ms is little beside its ~150
            known = sorted((fuse(i) for i in chunks), reverse=True)
            bar = known[min(k, len(known)) - 1] - cfg.spread_margin
            ceiling = cfg.dense_weight * dense[-1][1]
            deeper = [i for i in deeper if ceiling + cfg.lexical_weight * bm25[i] / best > bar][:depth]
        self._read(m, deeper, chunks, cosine, qvec)
        fused = {i: fuse(i) for i in chunks}
        order = sorted(fused, key=lambda i: -fused[i])
        if rescore and cfg.rescore and cfg.sentence_weight:
            order = self._rescore(m, qvec, order, chunks, fused, cosine)
        picked = spread(order, k, lambda i: chunks[i].source, cfg.per_note, fused.get, cfg.spread_margin)
        # texts only for the chunks kept: ~100 candidates are read, each text ~25 µs to read back and unpack
        kept = self.store.with_texts(m.collection, [chunks[i] for i in picked])
        return [Hit(chunk=c, rank=r, score=cosine[c.id], lexical=bm25.get(c.id, 0.0), fused=fused[c.id])
                for r, c in enumerate(kept, start=1)]

    def _rescore(self, m: Manifest, qvec, order: list[str], chunks: dict[str, Chunk], fused: dict[str, float],
                 cosine: dict[str, float]) -> list[str]:
        """The first candidates reordered by their fused score plus the query's cosine with their best sentence:
        a chunk's one vector averages every sentence in it, and a question usually asks about one of them. Costs
        ~100 ms on 2 cores at any vault size (~50 sentences embedded), so only the first few are re-read."""
        head = self.store.with_texts(m.collection, [chunks[i] for i in order[:self.config.rescore]])
        sentences, owner = [], []
        for c in head:
            for p in pieces(c):
                # read as the offline answerer reads a sentence (the same text: its vector is reused); a heading,
                # code, a table row or a label says little on its own
                view = plain(p)
                if p.kind not in ("heading", "code", "table") and len(view.split()) >= 3:
                    sentences.append(view)
                    owner.append(c.id)
        sent: dict[str, float] = {}
        if sentences:
            for i, sim in zip(owner, (np.asarray(self.embedder.embed(sentences)) @ np.asarray(qvec)).tolist(),
                              strict=True):
                sent[i] = max(sent.get(i, -1.0), sim)
        # a chunk counts as a sentence too: one with no sentence to read (a table, a list of names, code after a
        # short lead-in), and one whose value means little without its heading ("331,918 (July 2015 est.)" under
        # "Iceland > Population", which its own vector reads with it)
        best = {c.id: max(sent.get(c.id, -1.0), cosine[c.id]) for c in head}
        for i, sim in best.items():
            fused[i] += self.config.sentence_weight * max(0.0, sim)
        order = sorted(best, key=lambda i: -fused[i]) + order[self.config.rescore:]
        if self.config.pointer_words and pointers.follow(head, order, chunks, fused, self.config.pointer_words):
            order.sort(key=lambda i: -fused[i])
        return order

    def _dense(self, m: Manifest, qvec, depth: int, filters: Filters | None,
               gen: lexical.Generation | None) -> list[tuple[Chunk, float]]:
        """The depth nearest chunks within the filters. Chroma filters before it searches, which costs ~100 ms
        at 100k chunks; a filter that keeps a fair share of the vault is cheaper applied to a deeper unfiltered
        search (ids only), the allowed ids known from the lexical generation. A narrow one, or too few found that
        way, goes to Chroma's filter."""
        if not filters or gen is None or not gen.ids:
            return self.store.query(m.collection, qvec, depth, filters, m.files, texts=False)
        allowed = gen.allowed(filters)
        share = len(allowed) / len(gen.ids)
        if share >= MIN_SHARE:
            n = min(len(gen.ids), MAX_DEEP, int(depth / share * 2) + 1)
            kept = [(i, c) for i, c in self.store.nearest_ids(m.collection, qvec, n) if i in allowed][:depth]
            if len(kept) >= min(depth, len(allowed)):
                got = self.store.get(m.collection, [i for i, _ in kept], m.files, texts=False)
                return [(got[i], c) for i, c in kept if i in got]
        return self.store.query(m.collection, qvec, depth, filters, m.files, texts=False)

    def _read(self, m: Manifest, ids: list[str], chunks: dict, cosine: dict, qvec) -> None:
        """Chunks found by BM25 alone: read them, with their vectors for their cosine."""
        extra = [i for i in ids if i not in chunks]
        for i, (chunk, vec) in self.store.get_with_vectors(m.collection, extra, m.files, texts=False).items():
            chunks[i], cosine[i] = chunk, float(np.dot(vec, qvec))


def spread(order: list[str], k: int, source_of, per_note: int, score_of=None, margin: float = 0.0) -> list[str]:
    """The first k of the fused order, at most per_note chunks of one note while other notes remain; with a
    margin, a chunk past its note's share is held back only behind chunks of other notes scoring within margin."""
    if margin and score_of is not None:
        count: dict[str, int] = {}
        keyed = []
        for n, i in enumerate(order):
            s = source_of(i)
            count[s] = count.get(s, 0) + 1
            keyed.append((score_of(i) - (margin if count[s] > per_note else 0.0), -n, i))
        return [i for _, _, i in sorted(keyed, reverse=True)[:k]]
    out: list[str] = []
    held: list[str] = []
    count = {}
    for i in order:
        s = source_of(i)
        if count.get(s, 0) < per_note:
            out.append(i)
            count[s] = count.get(s, 0) + 1
        else:
            held.append(i)
        if len(out) == k:
            return out
    return out + held[:k - len(out)]
