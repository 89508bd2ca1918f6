"""Warm hybrid search at scale: latency, the HNSW side's recall against exact search, and bytes on disk per chunk.

    .venv/bin/python benchmarks/search.py [--chunks 100000] [--queries 200] [--seed 1] [--keep DIR]

Fills a real Chroma store and a real lexical generation with generated chunks (five per note, ~90 words each,
tags on every tenth note) and clustered unit vectors (no encoder: this measures search, not embedding), then
runs the Retriever as `reread search` does, warm: a query's vector and words come from one stored chunk, noised.
Prints one JSON object: index build seconds, search p50/p95 (ms) with and without a filter, the same for an
answer's search (`ask`, `chat`: the first candidates re-read sentence by sentence with the real encoder), HNSW
recall@10 against exact numpy search over every stored vector, and the index directory's bytes per chunk.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from pathlib import Path
from time import perf_counter

import numpy as np

WORDS = ("attention model token vector index note chapter reading memory search answer question source "
         "quote page book author idea summary claim evidence method result data train test learn").split()


class Vectors:
    """The 'embedder': each query text maps to the vector prepared for it; any other text (the sentences of the
    candidates re-read after fusion) goes to the real encoder, which costs what it costs in `reread search`."""

    def __init__(self, encoder):
        self.table: dict[str, list[float]] = {}
        self.encoder = encoder

    def embed(self, texts: list[str]) -> list[list[float]]:
        if all(t in self.table for t in texts):
            return [self.table[t] for t in texts]
        return self.encoder.embed(texts)


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    from assistant.retrieval import Retriever
    from ingest import lexical
    from ingest import manifest as mf
    from ingest.store import ChromaStore
    from ingest.types import Chunk, Filters

    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="build the index here and leave it (default: a temporary folder)")
    args = ap.parse_args()
    rng, nrng = random.Random(args.seed), np.random.default_rng(args.seed)
    n = args.chunks
    centres = unit(nrng.normal(size=(max(8, n // 500), 384)))
    noise = 0.35 * unit(nrng.normal(size=(n, 384)))
    vecs = unit(centres[nrng.integers(len(centres), size=n)] + noise).astype(np.float32)
    chunks, pos = [], 0
    for i in range(n):
        note = i // 5
        text = " ".join(rng.choice(WORDS) + str(rng.randrange(3000)) for _ in range(90))
        tags = ["ml"] if note % 10 == 0 else []
        chunks.append(Chunk(id=f"c{i}", source=f"folder{note % 50}/note{note}.md", kind="note", title=f"Note {note}",
                            heading=f"Part {i % 5}", page=None, start=pos, end=pos + len(text), text=text,
                            metadata={"tags": tags}))
    with tempfile.TemporaryDirectory(prefix="reread-search-") as tmp:
        index_dir = args.keep or Path(tmp)
        store = ChromaStore(index_dir)
        name = store.new_name("bench")
        t0 = perf_counter()
        for i in range(0, n, 5000):
            store.add(name, chunks[i:i + 5000], vecs[i:i + 5000].tolist())
        store.compact()  # as `reread index` does after writing
        dense_seconds = perf_counter() - t0
        t0 = perf_counter()
        files = {c.source: ("note", c.metadata["tags"]) for c in chunks}
        docs = [lexical.doc_of(c) for c in chunks]
        lexical.save(index_dir, "g1", lexical.build(None, [c.id for c in chunks], docs, lexical.Analyzer(), files))
        lexical_seconds = perf_counter() - t0
        m = mf.Manifest({}, str(index_dir), name)
        m.lexical = "g1"

        from ingest.auto_embedder import AutoEmbedder

        embedder = Vectors(AutoEmbedder("all-MiniLM-L6-v2"))
        queries = []
        for _ in range(args.queries):
            i = rng.randrange(n)
            q = unit(vecs[i:i + 1] + 0.25 * unit(nrng.normal(size=(1, 384))))[0].astype(np.float32)
            words = " ".join(rng.sample(chunks[i].text.split(), 4))
            embedder.table[words] = q.tolist()
            queries.append((words, q))
        store.reopen()
        retriever = Retriever(ChromaStore(index_dir), embedder, index_dir)
        retriever.retrieve(m, queries[0][0], 5)  # warm: the collection and the generation are loaded once

        def timed(filters, rescore=False):
            out = []
            for words, _ in queries:
                t = perf_counter()
                retriever.retrieve(m, words, 5, filters, rescore)
                out.append(1000 * (perf_counter() - t))
            return out

        plain, filtered = timed(None), timed(Filters(tags=("ml",)))
        # an answer's search also re-reads the first candidates sentence by sentence with the real encoder
        answer_plain, answer_filtered = timed(None, True), timed(Filters(tags=("ml",)), True)
        recall = []
        for _, q in queries:
            exact = set(np.argsort(-(vecs @ q))[:10].tolist())
            got = {int(c.id[1:]) for c, _ in retriever.store.query(name, q.tolist(), 10)}
            recall.append(len(exact & got) / 10)
        size = du(index_dir)
        print(json.dumps({
            "chunks": n, "queries": len(queries),
            "build_seconds": {"chroma": round(dense_seconds, 1), "lexical": round(lexical_seconds, 1)},
            "search_ms": {"p50": round(statistics.median(plain), 1), "p95": round(np.percentile(plain, 95), 1)},
            "search_ms_tag_filter": {"p50": round(statistics.median(filtered), 1),
                                     "p95": round(np.percentile(filtered, 95), 1)},
            "answer_search_ms": {"p50": round(statistics.median(answer_plain), 1),
                                 "p95": round(np.percentile(answer_plain, 95), 1),
                                 "tag_filter_p95": round(np.percentile(answer_filtered, 95), 1)},
            "hnsw_recall_at_10": round(float(np.mean(recall)), 4),
            "bytes_per_chunk": round(size / n), "index_bytes": size,
        }))


if __name__ == "__main__":
    main()
