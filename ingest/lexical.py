"""The lexical side of the index: stemmed BM25 (bm25s + PyStemmer) over chunks, kept beside the manifest.

Each run that changes the index writes a new generation folder under lexical/ and the manifest names it,
so a reader or a crash sees the old generation or the new one, never half of one (the manifest's own
protocol). Token ids of every chunk are kept, so an edit re-tokenizes only the chunks that changed and
the BM25 matrix is rebuilt from stored ids, not from text.
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
        words = [w for w in WORD.findall(text.lower()) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
        return self._stemmer.stemWords(words)


@dataclass
class Generation:
    """A loaded lexical generation: chunk ids, their token ids, the vocabulary and the BM25 model."""

    ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    files: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # source -> (kind, tags)
    tokens: list[np.ndarray] = field(default_factory=list)
    vocab: dict[str, int] = field(default_factory=dict)
    scores: Scores | None = None
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
    Searches read bm25s's saved files with numpy alone: importing bm25s pulls in scipy, ~0.3 s of every
    fresh `search` or `ask`. Scoring is bm25s's get_scores: a query's term columns summed per chunk."""

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
        """In bm25s's own format, by bm25s."""
        import bm25s

        model = bm25s.BM25(k1=K1, b=B)
        model.scores = {"data": self.data, "indices": self.indices, "indptr": self.indptr,
                        "num_docs": self.num_docs}
        model.vocab_dict = vocab
        model.unique_token_ids_set = set(vocab.values())
        model.nonoccurrence_array = None
        model.save(str(folder), show_progress=False)


K1, B = 1.5, 0.75  # bm25s's defaults (Lucene BM25)


def _fit(tokens: list[np.ndarray], vocab: dict[str, int], k1: float = K1, b: float = B) -> Scores:
    """The score matrix computed in a few numpy passes: bm25s's own builder loops in Python per document,
    2.5 s for 25,000 chunks; this takes a tenth of that."""
    import scipy.sparse as sp

    n, v = len(tokens), len(vocab)
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=n)
    flat = np.concatenate(tokens).astype(np.int64) if n else np.zeros(0, np.int64)
    pairs, tf = np.unique(np.repeat(np.arange(n, dtype=np.int64), lengths) * v + flat, return_counts=True)
    docs, terms = pairs // v, pairs % v
    df = np.bincount(terms, minlength=v)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    norm = k1 * ((1 - b) + b * lengths / max(lengths.mean(), 1e-9))
    scores = (idf[terms] * tf / (norm[docs] + tf)).astype(np.float32)
    m = sp.csc_matrix((scores, (docs, terms)), shape=(n, v))
    return Scores(m.data, m.indices, m.indptr, n)


def build(previous: Generation | None, keep: Iterable[str], added: list[Doc], analyzer: Analyzer,
          files: dict[str, tuple[str, list[str]]]) -> Generation:
    """A new generation: the previous one's chunks that are kept, plus the added ones tokenized now."""
    gen = Generation(vocab=dict(previous.vocab) if previous else {}, files=files)
    new_ids = {d.id for d in added}
    if previous is not None:
        keep_set = set(keep) - new_ids
        for i, cid in enumerate(previous.ids):
            if cid in keep_set:
                gen.ids.append(cid)
                gen.sources.append(previous.sources[i])
                gen.tokens.append(previous.tokens[i])
    for d in added:
        ids = [gen.vocab.setdefault(t, len(gen.vocab)) for t in analyzer(d.text)]
        gen.ids.append(d.id)
        gen.sources.append(d.source)
        gen.tokens.append(np.asarray(ids, dtype=np.int32))
    if gen.ids:
        gen.vocab.setdefault("", len(gen.vocab))  # bm25s wants an empty token to give empty chunks a row
        gen.scores = _fit(gen.tokens, gen.vocab)
    return gen


def save(index_dir: Path, name: str, gen: Generation) -> None:
    """Write a generation folder completely; only then may the manifest name it."""
    folder = Path(index_dir) / DIR / name
    tmp = folder.with_name(name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    lengths = np.fromiter((len(t) for t in gen.tokens), dtype=np.int64, count=len(gen.tokens))
    np.save(tmp / "tokens.npy", np.concatenate(gen.tokens) if gen.tokens else np.zeros(0, np.int32))
    np.save(tmp / "lengths.npy", lengths)
    meta = {"ids": gen.ids, "sources": gen.sources, "files": gen.files,
            "vocab": sorted(gen.vocab, key=gen.vocab.__getitem__)}
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    if gen.scores is not None:
        gen.scores.save(tmp / "bm25", gen.vocab)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def load(index_dir: Path, name: str, with_tokens: bool = False) -> Generation:
    """A saved generation; the token ids only when a writer needs them to build the next one."""
    folder = Path(index_dir) / DIR / name
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    gen = Generation(ids=meta["ids"], sources=meta["sources"],
                     files={s: (k, list(t)) for s, (k, t) in meta["files"].items()},
                     vocab={t: i for i, t in enumerate(meta["vocab"])})
    if with_tokens:
        flat, lengths = np.load(folder / "tokens.npy"), np.load(folder / "lengths.npy")
        gen.tokens = np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []
    if gen.ids:
        gen.scores = Scores.load(folder / "bm25")
    return gen


def prune(index_dir: Path, keep: str | None) -> None:
    """Drop every generation but the one the manifest names (an unfinished or replaced one)."""
    root = Path(index_dir) / DIR
    if root.is_dir():
        for p in root.iterdir():
            if p.name != keep:
                shutil.rmtree(p, ignore_errors=True)


def doc_of(chunk) -> Doc:
    from .chunker import embed_view

    where = " ".join(chunk.source.split("/")[:-1])
    return Doc(chunk.id, chunk.source, chunk.kind, list(chunk.metadata.get("tags") or []),
               f"{where}\n{chunk.title}\n{chunk.heading}\n{embed_view(chunk.text, chunk.kind)}")


def refresh(index_dir: Path, manifest, added: list, fetch, name: str) -> str:
    """Write the generation that matches the manifest: the previous one's kept chunks, the added chunks,
    and any chunk the manifest lists that the previous generation lacks (after a crash), read back with
    fetch(ids) -> {id: Chunk}. Returns the new generation's name for the manifest."""
    previous = None
    if manifest.lexical:
        try:
            previous = load(index_dir, manifest.lexical, with_tokens=True)
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
