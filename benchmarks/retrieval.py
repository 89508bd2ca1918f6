"""Retrieval quality by chunk size on a QA file (default: data/eval/seed_qa.jsonl over the sample vault).

    .venv/bin/python benchmarks/retrieval.py [--qa FILE] [--vault DIR] [--sizes 128,200,256] [-k 5]

Prints one JSON object: for each chunk size, the chunk count, hit@k, MRR, and index seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from time import perf_counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from assistant.evaluate import load_qa
    from assistant.facade import Assistant
    from ingest.auto_embedder import AutoEmbedder
    from ingest.settings import Settings

    ap = argparse.ArgumentParser()
    ap.add_argument("--qa", type=Path, default=ROOT / "data/eval/seed_qa.jsonl")
    ap.add_argument("--vault", type=Path, default=ROOT / "data")
    ap.add_argument("--sizes", default="96,128,160,200,256")
    ap.add_argument("--overlap", type=int, default=40)
    ap.add_argument("-k", type=int, default=5)
    args = ap.parse_args()
    rows = [r for r in load_qa(args.qa) if r.get("sources")]
    embedder = AutoEmbedder("all-MiniLM-L6-v2")  # the encoder reread uses by default
    out = {"qa": str(args.qa), "questions": len(rows), "k": args.k, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="reread-retrieval-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            s = Settings(notes_dir=args.vault, index_dir=Path(tmp) / f"index-{size}", chunk_size=size,
                         chunk_overlap=min(args.overlap, size // 4), backend="extractive")
            assistant = Assistant(s, embedder=embedder)
            t0 = perf_counter()
            report = assistant.index()
            seconds = perf_counter() - t0
            hit, rr = 0, 0.0
            for row in rows:
                evidence = [e.lower() for e in row.get("evidence") or []]
                ranks = [h.rank for h in assistant.search(row["question"], args.k)
                         if h.chunk.source in row["sources"]
                         and (not evidence or any(e in h.chunk.text.lower() for e in evidence))]
                hit += bool(ranks)
                rr += 1 / min(ranks) if ranks else 0.0
            out["sizes"][size] = {"chunks": report.chunks, f"hit@{args.k}": round(hit / len(rows), 3),
                                  "mrr": round(rr / len(rows), 3), "index_s": round(seconds, 2)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
