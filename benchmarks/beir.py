"""reread's search scored on a BEIR-format data set (corpus.jsonl, queries.jsonl, qrels/test.tsv), e.g. SciFact.

    .venv/bin/python benchmarks/beir.py --data DIR [--limit-queries N] [--index-dir DIR] [--vault-dir DIR] [-k 10]

Each corpus document becomes one note, "# {title}\\n\\n{text}", named by its doc id; the vault is indexed with the
extractive backend and every test query goes through `Assistant.search(query, 100)`. Hits map back to doc ids
(a document's chunks count once, at their best rank). Prints one JSON object: docs, queries, index_seconds,
search_seconds, nDCG@k (trec_eval's linear gains on the graded qrels, as BEIR reports it), recall@k, recall@100
and MRR@k. Progress goes to stderr. Give --vault-dir and --index-dir to keep them: a re-run then only searches.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from time import perf_counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
DEEP = 100  # how far each query is searched, for recall@100

Qrels = dict[str, dict[str, int]]


def read_jsonl(path: Path) -> Iterable[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def load_corpus(path: Path) -> dict[str, tuple[str, str]]:
    """doc id -> (title, text)."""
    return {str(d["_id"]): (d.get("title") or "", d.get("text") or "") for d in read_jsonl(path)}


def load_queries(path: Path) -> dict[str, str]:
    return {str(q["_id"]): q["text"] for q in read_jsonl(path)}


def load_qrels(path: Path) -> Qrels:
    """query id -> {doc id: grade}, in file order; BEIR's header line (query-id, corpus-id, score) is skipped."""
    qrels: Qrels = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def note_name(doc_id: str) -> str:
    """A file name for the doc id; ids that are not already safe get a hash so two never share a name."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", doc_id)
    if safe != doc_id or not safe:
        safe = f"{safe}-{hashlib.sha1(doc_id.encode()).hexdigest()[:10]}"
    return safe + ".md"


def write_vault(corpus: dict[str, tuple[str, str]], vault: Path) -> dict[str, str]:
    """One note per document; returns note source (relative path) -> doc id. Unchanged notes are not rewritten."""
    vault.mkdir(parents=True, exist_ok=True)
    sources: dict[str, str] = {}
    for doc_id, (title, text) in corpus.items():
        name = note_name(doc_id)
        body = f"# {title.strip()}\n\n{text.strip()}\n" if title.strip() else f"{text.strip()}\n"
        path = vault / name
        if not path.exists() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")  # rewriting would change mtimes and re-embed on a re-run
        sources[name] = doc_id
    return sources


def doc_ranking(sources_in_rank_order: Iterable[str], doc_of: dict[str, str]) -> list[str]:
    """Doc ids by their best-ranked chunk; chunks of unknown sources are dropped."""
    out: list[str] = []
    for source in sources_in_rank_order:
        doc = doc_of.get(source)
        if doc is not None and doc not in out:
            out.append(doc)
    return out


def ndcg(ranked: Sequence[str], qrel: dict[str, int], k: int) -> float:
    """trec_eval's ndcg_cut (what BEIR reports): gain = grade, discount log2(rank + 1), ideal from all qrels."""
    dcg = sum(max(qrel.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in qrel.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked: Sequence[str], qrel: dict[str, int], k: int) -> float:
    relevant = {d for d, g in qrel.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr(ranked: Sequence[str], qrel: dict[str, int], k: int) -> float:
    for i, d in enumerate(ranked[:k]):
        if qrel.get(d, 0) > 0:
            return 1 / (i + 1)
    return 0.0


def score(runs: dict[str, list[str]], qrels: Qrels, k: int) -> dict[str, float]:
    """Means over the queries run; a query with no hits scores 0."""
    n = len(runs) or 1
    metrics = {f"nDCG@{k}": ndcg, f"recall@{k}": recall, f"recall@{DEEP}": recall, f"MRR@{k}": mrr}
    out = {}
    for name, fn in metrics.items():
        cut = int(name.rsplit("@", 1)[1])
        out[name] = round(sum(fn(ranked, qrels[q], cut) for q, ranked in runs.items()) / n, 4)
    return out


def run(data: Path, vault: Path, index_dir: Path, k: int, limit: int | None) -> dict:
    from assistant.facade import Assistant
    from ingest.settings import Settings

    corpus = load_corpus(data / "corpus.jsonl")
    queries = load_queries(data / "queries.jsonl")
    qrels = load_qrels(data / "qrels" / "test.tsv")
    test = [q for q in qrels if q in queries][:limit]
    doc_of = write_vault(corpus, vault)
    assistant = Assistant(Settings(notes_dir=vault, index_dir=index_dir, backend="extractive"))
    print(f"indexing {len(corpus)} documents into {index_dir}", file=sys.stderr)
    t0 = perf_counter()
    report = assistant.index()
    index_seconds = perf_counter() - t0
    runs: dict[str, list[str]] = {}
    search_seconds = 0.0
    for i, q in enumerate(test, start=1):
        t0 = perf_counter()
        hits = assistant.search(queries[q], max(DEEP, k))
        search_seconds += perf_counter() - t0
        runs[q] = doc_ranking((h.chunk.source for h in hits), doc_of)
        if i % 50 == 0:
            print(f"searched {i}/{len(test)}", file=sys.stderr)
    return {"data": str(data), "docs": len(corpus), "chunks": report.chunks, "failed": len(report.failed),
            "queries": len(test), "index_seconds": round(index_seconds, 1), "search_seconds": round(search_seconds, 2),
            **score(runs, qrels, k),
            f"docs_per_query@{DEEP}": round(sum(map(len, runs.values())) / (len(runs) or 1), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/")
    ap.add_argument("--limit-queries", type=int, default=None, help="the first N test queries only")
    ap.add_argument("--index-dir", type=Path, default=None, help="keep the index here (default: a temp folder)")
    ap.add_argument("--vault-dir", type=Path, default=None, help="write the notes here (default: a temp folder)")
    ap.add_argument("-k", type=int, default=10, help="the cut for nDCG, recall and MRR")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="reread-beir-") as tmp:
        vault = args.vault_dir or Path(tmp) / "vault"
        index_dir = args.index_dir or Path(tmp) / "index"
        print(json.dumps(run(args.data, vault, index_dir, args.k, args.limit_queries)))


if __name__ == "__main__":
    main()
