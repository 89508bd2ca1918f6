"""Every shipped QA set, end to end: the README's table of retrieval, refusal and answer figures in one run.

    .venv/bin/python benchmarks/qa_sets.py [--sets seed,pymdown] [--index-root DIR] [-k 5]

Indexes each set's vault (into DIR/<vault>, kept between runs so that a second run re-indexes nothing; a temporary
folder by default) and runs `reread eval`'s evaluation on its QA file through the facade, offline (extractive).
Prints one JSON object: per set, recall@k, MRR@10, nDCG@10, key fact, both refusal errors and citation faults.
Nothing is tuned here; a change is kept when it holds on the sets it was not tuned on (README, "QA sets").
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
EVAL = ROOT / "data" / "eval"

# name: (QA file, vault); the sample vault's two sets share one index
SETS = {
    "seed": ("seed_qa.jsonl", ROOT / "data"),
    "seed_holdout": ("seed_holdout.jsonl", ROOT / "data"),
    "turing_way": ("heldout_qa.jsonl", EVAL / "vaults" / "turing-way"),
    "python_markdown": ("python_markdown_qa.jsonl", EVAL / "vaults" / "python-markdown"),
    "factbook": ("factbook_qa.jsonl", EVAL / "vaults" / "factbook-europe"),
    "sotu": ("sotu_qa.jsonl", EVAL / "vaults" / "sotu"),
    "sotu2": ("sotu2_qa.jsonl", EVAL / "vaults" / "sotu2"),
    "pdf": ("pdf_qa.jsonl", EVAL / "vaults" / "book-pdfs"),
    "pdf2": ("pdf_qa2.jsonl", EVAL / "vaults" / "book-pdfs"),
    "pymdown": ("pymdown_qa.jsonl", EVAL / "vaults" / "pymdown"),
    "lex": ("notes_by_lex_qa.jsonl", EVAL / "vaults" / "notes-by-lex"),
}


def figures(summary: dict, k: int) -> dict:
    return {"recall@k": summary[f"recall@{k}"], "mrr@10": summary["mrr@10"], "ndcg@10": summary["ndcg@10"],
            "key_fact": summary["answer_contains"],
            "answered_out_of_scope": f"{len(summary['answered_out_of_scope'])}/{summary['out_of_scope']}",
            "refused_in_scope": f"{len(summary['refused_in_scope'])}/{summary['answerable']}",
            "citation_faults": summary["citation_faults"], "seconds": summary["seconds"]}


def main() -> None:
    from assistant.evaluate import evaluate
    from assistant.facade import Assistant
    from ingest.auto_embedder import AutoEmbedder
    from ingest.settings import Settings

    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated names: " + ", ".join(SETS))
    ap.add_argument("--index-root", type=Path, help="keep each vault's index here (default: a temporary folder)")
    ap.add_argument("-k", type=int, default=5)
    args = ap.parse_args()
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        ap.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    embedder = AutoEmbedder("all-MiniLM-L6-v2")  # one encoder for every vault, as `reread` would load
    out: dict = {"k": args.k, "sets": {}}
    with tempfile.TemporaryDirectory(prefix="reread-qa-sets-") as tmp:
        root = args.index_root or Path(tmp)
        for name in names:
            qa, vault = SETS[name]
            settings = Settings(notes_dir=vault, index_dir=root / vault.name, backend="extractive")
            assistant = Assistant(settings, embedder=embedder)
            t = perf_counter()
            report = assistant.index(vault)
            indexed = round(perf_counter() - t, 1)
            out["sets"][name] = {"qa": qa, "vault": str(vault.relative_to(ROOT)), "chunks": report.chunks,
                                 "index_seconds": indexed, **figures(evaluate(assistant, EVAL / qa, args.k), args.k)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
