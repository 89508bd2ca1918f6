"""The lexical side of the index: stemmed BM25 (bm25s + PyStemmer) over chunks, kept beside the manifest.

Each run that changes the index writes a new generation folder under lexical/ and the manifest names it,
so a reader or a crash sees the old generation or the new one, never half of one (the manifest's own
protocol). Each chunk's term counts are kept beside the BM25 matrix, so an edit tokenizes only the chunks that
changed and the next matrix is the previous one with rows dropped and added, every score recomputed in a few
numpy passes (avgdl and idf move with each edit): ~0.3 CPU-s at 100k chunks where re-counting every chunk's
tokens took ~3.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from .markdown import LIGATURES
from .types import Filters

DIR = "lexical"
WORD = re.compile(r"[^\W_]+", re.UNICODE)
# English function words and question words: "How do I create a canvas?" should match on create + canvas
STOPWORDS = frozenset("""a an and are as at be been being but by can could did do does doing for from had has have
having he her here hers him his how i if in into is it its itself me my myself no nor of on or our ours so some such
than that the their theirs them then there these they this those to too very was we were what when where which while
who whom why will with would you your yours about should shall may might must also just am any each""".split())


@dataclass
class Doc:
    """One chunk as the lexical index sees it."""

    id: str
    source: str
    kind: str
    tags: list[str]
    text: str  # folder names, title, heading and the chunk's readable text: all of them count


class Analyzer:
    """Lower-case words, stop words out, Snowball English stems; the same for chunks and queries."""

    def __init__(self):
        import Stemmer

        self._stemmer = Stemmer.Stemmer("english")

    def __call__(self, text: str) -> list[str]:
        words = [w for w in WORD.findall(text.lower().translate(LIGATURES))
                 if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
        return self._stemmer.stemWords(words)


@dataclass
class Generation:
    """A loaded lexical generation: chunk ids, the vocabulary and the BM25 matrix (and for a writer, the counts
    the next one is computed from)."""

    ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    files: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # source -> (kind, tags)
    vocab: dict[str, int] = field(default_factory=dict)
    scores: Scores | None = None
    tf: np.ndarray | None = None  # writers: each matrix entry's term count, in the matrix's order
    lengths: np.ndarray | None = None  # writers: each chunk's number of terms
    _by_filters: dict = field(default_factory=dict, repr=False)  # Filters -> (mask, allowed ids), per generation
    _source_of: np.ndarray | None = field(default=None, repr=False)  # each chunk's index into _source_names
    _source_names: list[str] = field(default_factory=list, repr=False)

    def _filtered(self, filters: Filters) -> tuple[np.ndarray, set[str]]:
        """Worked out once per generation and filter: a loop over 100k chunks cost ~75 ms a search."""
        if filters not in self._by_filters:
            if self._source_of is None:
                names: dict[str, int] = {}
                self._source_of = np.fromiter((names.setdefault(s, len(names)) for s in self.sources),
                                              dtype=np.int64, count=len(self.sources))
                self._source_names = list(names)
            ok = np.fromiter((s in self.files and filters.matches(s, *self.files[s]) for s in self._source_names),
                             dtype=bool, count=len(self._source_names))
            keep = ok[self._source_of] if len(self.sources) else np.zeros(0, dtype=bool)
            if len(self._by_filters) >= 8:  # a long session trying many filters: bounded memory
                self._by_filters.clear()
            self._by_filters[filters] = (keep.astype(np.float32), {self.ids[i] for i in np.flatnonzero(keep)})
        return self._by_filters[filters]

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        return self._filtered(filters)[0] if filters else None

    def allowed(self, filters: Filters) -> set[str]:
        """The ids of the chunks within the filters."""
        return self._filtered(filters)[1] if filters else set(self.ids)

    def df(self, term: str) -> int:
        """How many chunks hold the term (the vocabulary may keep terms of chunks since removed)."""
        i = self.vocab.get(term)
        return 0 if i is None or self.scores is None else self.scores.df(i)

    def idf(self, term: str) -> float:
        """How rare a term is among the chunks (BM25's idf); a term no chunk holds is rarest of all."""
        n, df = len(self.ids), self.df(term)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, terms: list[str], k: int, filters: Filters | None = None) -> list[tuple[str, float, str]]:
        """(chunk id, BM25 score, source) of the k best chunks with a score above zero."""
        known = [self.vocab[t] for t in terms if t in self.vocab]
        if self.scores is None or not known or not self.ids:
            return []
        scores = self.scores.of(known)
        mask = self.mask(filters)
        if mask is not None:
            scores = scores * mask
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i]), self.sources[i]) for i in top if scores[i] > 0]


@dataclass
class Scores:
    """bm25s's eager score matrix (CSC: per term, the chunks holding it and their precomputed BM25 scores).
    Its files are read and written with numpy alone: importing bm25s pulls in scipy, ~0.3 s of every fresh
    `search`, `ask` or re-index. Scoring is bm25s's get_scores: a query's term columns summed per chunk."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    num_docs: int

    FILES = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy")

    @classmethod
    def load(cls, folder: Path) -> Scores:
        data, indices, indptr = (np.load(folder / name) for name in cls.FILES)
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        return cls(data, indices, indptr, int(params["num_docs"]))

    def df(self, term_id: int) -> int:
        return int(self.indptr[term_id + 1] - self.indptr[term_id])

    def of(self, term_ids: list[int]) -> np.ndarray:
        """Each chunk's BM25 score for these terms (a term given twice counts twice, as in bm25s)."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        for t in term_ids:
            a, b = self.indptr[t], self.indptr[t + 1]
            out[self.indices[a:b]] += self.data[a:b]  # a column names each chunk once
        return out

    def save(self, folder: Path, vocab: dict[str, int]) -> None:
        """In bm25s's own format (BM25.load reads it: a test checks), written with numpy as load() reads it:
        bm25s's own save would import bm25s and scipy, ~0.25 s of re-indexing one edited note."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in zip(self.FILES, (self.data, self.indices, self.indptr), strict=True):
            np.save(folder / name, array, allow_pickle=False)
        (folder / "vocab.index.json").write_bytes(orjson.dumps(vocab))
        params = {"k1": K1, "b": B, "delta": 0.5, "method": "lucene", "idf_method": "lucene", "dtype": "float32",
                  "int_dtype": "int32", "num_docs": self.num_docs, "version": BM25S_FORMAT, "backend": "numpy"}
        (folder / "params.index.json").write_text(json.dumps(params, indent=4), encoding="utf-8")


BM25S_FORMAT = "0.3.16"  # the bm25s release whose files these are
# k1 is bm25s's default; b (how much a long chunk's score is scaled down) is below its 0.75: whole small sections
# are chunks of their own, and at 0.75 a 5-word field whose one word matches ("Area") outscored the passage that
# answers. b 0.75 -> 0.5 (session 9), MRR@10: Factbook profiles 0.824 -> 0.864 (recall@5 0.887 -> 0.924), sample
# held out 0.922 -> 0.939, Turing Way 0.906 -> 0.907, sample tuning and Python-Markdown docs unchanged (0.901,
# 0.683 -> 0.682), help vault 0.631 -> 0.630 (recall@5 0.86 -> 0.84: one question at rank 6). b 0.3 gained more on
# the Factbook and lost more elsewhere; k1 0.9 or 1.2 did no better.
K1, B = 1.5, 0.5
Entries = tuple[np.ndarray, np.ndarray, np.ndarray]  # (term, chunk, count) per matrix entry


def _no_entries() -> Entries:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint16)


def _counts(tokens: list[np.ndarray], first: int, v: int) -> tuple[Entries, np.ndarray]:
    """Each (chunk, term) once with its count, chunks numbered from `first`; and each chunk's length."""
    n = len(tokens)
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=n)
    flat = np.concatenate(tokens).astype(np.int64) if n else np.zeros(0, np.int64)
    pairs, tf = np.unique(np.repeat(np.arange(n, dtype=np.int64), lengths) * v + flat, return_counts=True)
    return (pairs % v, pairs // v + first, np.minimum(tf, 65535).astype(np.uint16)), lengths


def _kept(previous: Generation, position: np.ndarray) -> Entries:
    """The previous matrix's entries of the chunks kept (position >= 0), renumbered; still term-major."""
    sc = previous.scores
    terms = np.repeat(np.arange(len(sc.indptr) - 1, dtype=np.int64), np.diff(sc.indptr))
    where = position[sc.indices] >= 0
    return terms[where], position[sc.indices[where]], previous.tf[where]


def _matrix(old: Entries, new: Entries, lengths: np.ndarray, v: int) -> tuple[Scores, np.ndarray]:
    """The BM25 matrix (bm25s's eager Lucene scores, CSC) of the kept entries (term-major) and the new ones
    (chunk-major, chunks numbered after the kept), without sorting the kept ones again: each entry's place is
    its column's start plus its rank in the column."""
    order = np.argsort(new[0], kind="stable")  # only the new entries need sorting, by term, chunks ascending
    new = (new[0][order], new[1][order], new[2][order])
    c_old, c_new = np.bincount(old[0], minlength=v), np.bincount(new[0], minlength=v)
    df = c_old + c_new
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    nnz = int(indptr[-1])
    indices, tf = np.empty(nnz, dtype=np.int32), np.empty(nnz, dtype=np.uint16)
    for (terms, chunks, counts), before, mine in ((old, np.zeros_like(c_old), c_old), (new, c_old, c_new)):
        starts = np.concatenate([[0], np.cumsum(mine)[:-1]])  # each term's first entry among these
        dest = indptr[terms] + before[terms] + np.arange(len(terms)) - starts[terms]
        indices[dest], tf[dest] = chunks, counts
    n = len(lengths)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    norm = K1 * ((1 - B) + B * lengths / max(float(lengths.mean()) if n else 0.0, 1e-9))
    term_of = np.repeat(np.arange(v), df)
    counts = tf.astype(np.float64)
    data = (idf[term_of] * counts / (norm[indices] + counts)).astype(np.float32)
    return Scores(data, indices, indptr, n), tf


def build(previous: Generation | None, keep: Iterable[str], added: list[Doc], analyzer: Analyzer,
          files: dict[str, tuple[str, list[str]]]) -> Generation:
    """A new generation: the previous one's chunks that are kept, plus the added ones tokenized now."""
    gen = Generation(vocab=dict(previous.vocab) if previous else {}, files=files)
    new_ids = {d.id for d in added}
    old_lengths = np.zeros(0, np.int64)
    position = None
    if previous is not None and previous.ids:
        keep_set = set(keep) - new_ids
        position = np.full(len(previous.ids), -1, dtype=np.int64)
        for i, cid in enumerate(previous.ids):
            if cid in keep_set:
                position[i] = len(gen.ids)
                gen.ids.append(cid)
                gen.sources.append(previous.sources[i])
        old_lengths = previous.lengths[position >= 0]
    tokens = []
    for d in added:
        tokens.append(np.asarray([gen.vocab.setdefault(t, len(gen.vocab)) for t in analyzer(d.text)], np.int32))
        gen.ids.append(d.id)
        gen.sources.append(d.source)
    if gen.ids:
        gen.vocab.setdefault("", len(gen.vocab))  # bm25s wants an empty token to give empty chunks a row
        v = len(gen.vocab)
        old = _kept(previous, position) if position is not None else _no_entries()
        new, new_lengths = _counts(tokens, len(old_lengths), v)
        gen.lengths = np.concatenate([old_lengths, new_lengths])
        gen.scores, gen.tf = _matrix(old, new, gen.lengths, v)
    return gen


def save(index_dir: Path, name: str, gen: Generation) -> None:
    """Write a generation folder completely; only then may the manifest name it."""
    folder = Path(index_dir) / DIR / name
    tmp = folder.with_name(name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "lengths.npy", gen.lengths if gen.lengths is not None else np.zeros(0, np.int64))
    np.save(tmp / "tf.npy", gen.tf if gen.tf is not None else np.zeros(0, np.uint16))
    meta = {"ids": gen.ids, "sources": gen.sources, "files": gen.files,
            "vocab": sorted(gen.vocab, key=gen.vocab.__getitem__)}
    (tmp / "meta.json").write_bytes(orjson.dumps(meta))
    if gen.scores is not None:
        gen.scores.save(tmp / "bm25", gen.vocab)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def load(index_dir: Path, name: str, for_writer: bool = False) -> Generation:
    """A saved generation; the term counts only when a writer needs them to build the next one."""
    folder = Path(index_dir) / DIR / name
    meta = orjson.loads((folder / "meta.json").read_bytes())
    gen = Generation(ids=meta["ids"], sources=meta["sources"],
                     files={s: (k, list(t)) for s, (k, t) in meta["files"].items()},
                     vocab={t: i for i, t in enumerate(meta["vocab"])})
    if gen.ids:
        gen.scores = Scores.load(folder / "bm25")
    if for_writer:
        gen.lengths = np.load(folder / "lengths.npy")
        if (folder / "tf.npy").exists():
            gen.tf = np.load(folder / "tf.npy")
        elif gen.ids:  # written before counts were kept: counted once from its token ids
            flat = np.load(folder / "tokens.npy")
            tokens = np.split(flat, np.cumsum(gen.lengths)[:-1])
            v = len(gen.vocab)
            gen.scores, gen.tf = _matrix(_no_entries(), _counts(tokens, 0, v)[0], gen.lengths, v)
        if gen.ids and len(gen.tf) != len(gen.scores.indices):
            raise ValueError(f"lexical generation {name}: counts and matrix differ in length")
    return gen


def weighed_as_now(index_dir: Path, name: str) -> bool:
    """Whether a generation's BM25 matrix was computed with today's k1 and b. One written by an older version is
    refreshed on the next index run: its term counts are kept, so that costs what one edited note costs."""
    try:
        params = json.loads((Path(index_dir) / DIR / name / "bm25" / "params.index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # none (an empty vault), or damaged: inspect() sees to that
    return params.get("k1") == K1 and params.get("b") == B


def prune(index_dir: Path, keep: str | None) -> None:
    """Drop every generation but the one the manifest names (an unfinished or replaced one)."""
    root = Path(index_dir) / DIR
    if root.is_dir():
        for p in root.iterdir():
            if p.name != keep:
                shutil.rmtree(p, ignore_errors=True)


def doc_of(chunk) -> Doc:
    from .chunker import embed_view, named

    where = " ".join(chunk.source.split("/")[:-1])
    title = named(chunk.title, chunk.metadata.get("aliases"))  # a note's other names count as its title
    return Doc(chunk.id, chunk.source, chunk.kind, list(chunk.metadata.get("tags") or []),
               f"{where}\n{title}\n{chunk.heading}\n{embed_view(chunk.text, chunk.kind)}")


def refresh(index_dir: Path, manifest, added: list, fetch, name: str) -> str:
    """Write the generation that matches the manifest: the previous one's kept chunks, the added chunks,
    and any chunk the manifest lists that the previous generation lacks (after a crash), read back with
    fetch(ids) -> {id: Chunk}. Returns the new generation's name for the manifest."""
    previous = None
    if manifest.lexical:
        try:
            previous = load(index_dir, manifest.lexical, for_writer=True)
        except (OSError, ValueError, KeyError):  # missing or damaged: rebuilt from the stored chunks below
            previous = None
    expected = [i for e in manifest.files.values() for i in e.chunk_ids]
    wanted = set(expected)
    new = {c.id: c for c in added if c.id in wanted}
    have = set(previous.ids) if previous else set()
    missing = [i for i in wanted if i not in have and i not in new]
    docs = [doc_of(c) for c in new.values()] + [doc_of(c) for c in fetch(missing).values()]
    files = {s: (e.kind, list(e.tags)) for s, e in manifest.files.items() if e.chunk_ids}
    gen = build(previous, expected, docs, Analyzer(), files)
    save(index_dir, name, gen)
    return name
