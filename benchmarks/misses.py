"""Where one studied QA set falls short, question by question: for choosing the next change, not for reporting.

    .venv/bin/python benchmarks/misses.py --set python_markdown [--index-root DIR] [-k 5]

Indexes the set's vault as qa_sets.py does (into DIR/<vault>) and prints one JSON object per line for each shortfall:
`passage` when the row's passage is not ranked first (its rank, null past 40, and what ranked above it), `refused` when
the notes answer and the assistant says they do not, `answered` when they do not and it answers, `key_fact` when the
answer lacks the row's key fact (the rank of the sentence holding it among the offline answerer's candidates, null
when no candidate holds it). A blind set is refused: read only its totals (qa_sets.py), or a change tuned on its
failures leaves nothing unseen to check it on (README, "QA sets").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa_sets import EVAL, SETS  # noqa: E402

BLIND = {"pymdown", "sotu2", "pdf2", "lex"}  # read as totals only
DEEP = 40  # how far down a missed passage is looked for


def _passage(hit) -> dict:
    c = hit.chunk
    return {"rank": hit.rank, "source": c.source, "page": c.page, "heading": c.heading, "cosine": round(hit.score, 3),
            "bm25": round(hit.lexical, 2), "fused": round(hit.fused, 3), "text": " ".join(c.text.split())[:160]}


def shortfalls(assistant, row: dict, k: int) -> list[dict]:
    """What went wrong for one QA row, each as a JSON-able dict; [] when nothing did."""
    from assistant.candidates import render
    from assistant.evaluate import relevant, row_filters
    from assistant.extractive import ExtractiveAnswerer

    question, filters, out = row["question"], row_filters(row), []
    answer = assistant.chat([], question, k=k, filters=filters)
    expected = row.get("found", True)
    if answer.found != expected:
        out.append({"kind": "refused" if expected else "answered", "answer": answer.answer[:300]})
    if not expected:
        return out
    hits = assistant.search(question, DEEP, filters, rescore=True)
    if row.get("sources"):
        first = next((h for h in hits if relevant(h, row)), None)
        if first is None or first.rank > 1:
            out.append({"kind": "passage", "rank": first and first.rank,
                        "above": [_passage(h) for h in hits[:min(3, (first.rank - 1) if first else 3)]],
                        "relevant": first and _passage(first)})
    key = next((t for t in row.get("answer_contains") or [] if t.lower() not in answer.answer.lower()), None)
    if answer.found and key:
        cands = ExtractiveAnswerer(assistant._query_embedder).ranked(question, hits[:k])
        rank = next((n for n, c in enumerate(cands, 1) if key.lower() in render(c).lower()), None)
        out.append({"kind": "key_fact", "key": key, "candidate_rank": rank, "answer": answer.answer[:300]})
    return out


def main() -> None:
    from assistant.evaluate import load_qa
    from assistant.facade import Assistant
    from ingest.auto_embedder import AutoEmbedder
    from ingest.settings import Settings

    ap = argparse.ArgumentParser()
    ap.add_argument("--set", required=True, help="a studied QA set: " + ", ".join(n for n in SETS if n not in BLIND))
    ap.add_argument("--index-root", type=Path, help="keep the vault's index here (default: a temporary folder)")
    ap.add_argument("-k", type=int, default=5)
    args = ap.parse_args()
    if args.set in BLIND:
        ap.error(f"{args.set} is read blind: its totals only (benchmarks/qa_sets.py --sets {args.set})")
    if args.set not in SETS:
        ap.error(f"unknown set {args.set}; choose from {', '.join(n for n in SETS if n not in BLIND)}")
    qa, vault = SETS[args.set]
    with tempfile.TemporaryDirectory(prefix="reread-misses-") as tmp:
        root = args.index_root or Path(tmp)
        settings = Settings(notes_dir=vault, index_dir=root / vault.name, backend="extractive")
        assistant = Assistant(settings, embedder=AutoEmbedder("all-MiniLM-L6-v2"))
        assistant.index(vault)
        for row in load_qa(EVAL / qa):
            if row.get("history"):
                continue  # a follow-up's answer depends on the turns before it: `reread eval` replays those
            for item in shortfalls(assistant, row, args.k):
                print(json.dumps({"question": row["question"], **item}), flush=True)


if __name__ == "__main__":
    main()
