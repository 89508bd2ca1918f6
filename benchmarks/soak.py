"""Soak: one long-lived Assistant (as the UI keeps) asking question after question, re-indexing every few.

    PYTHONPATH=. .venv/bin/python -P benchmarks/soak.py [--questions 500] [--every 5] [--notes 200] [--seed 1]

Generates a vault (the five sample notes and --notes generated reading notes), indexes it, then asks --questions
questions (extractive, the default encoder) through one Assistant; before every --every-th question a note gets a
small edit and the Assistant re-indexes in process, as the UI's Re-index button does, so each run writes. The
resident set size (VmRSS) is read every 50 questions. Prints one JSON object: the RSS series, the warm figure
(after --warmup questions), the growth after it, and whether memory stayed flat within 10%.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "notes"
QA = ROOT / "data" / "eval" / "seed_qa.jsonl"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def questions(rng: random.Random, n: int) -> list[str]:
    """The sample vault's QA questions and questions on the generated notes' topics, shuffled."""
    from benchmarks.reindex import TOPICS

    qa = [json.loads(line)["question"] for line in QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    made = [f"How does {a} relate to {b}?" for a in TOPICS for b in TOPICS if a != b]
    pool = qa + rng.sample(made, min(len(made), 200))
    return [rng.choice(pool) for _ in range(n)]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> None:
    from assistant.facade import Assistant
    from benchmarks.reindex import generate
    from ingest.settings import load_settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=500)
    ap.add_argument("--every", type=int, default=5, help="re-index before every N-th question (default 5)")
    ap.add_argument("--notes", type=int, default=200, help="generated notes beside the sample vault")
    ap.add_argument("--sample", type=int, default=50, help="read the RSS every N questions")
    ap.add_argument("--warmup", type=int, default=100, help="questions before the warm figure")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="reread-soak-"))
    try:
        vault = tmp / "vault"
        shutil.copytree(SAMPLE, vault / "notes" / "sample")
        notes = generate(vault, args.notes, args.seed)
        app = Assistant(load_settings(notes_dir=vault, index_dir=tmp / "index", backend="extractive"))
        t0 = perf_counter()
        first = app.index()
        log(f"indexed {first.chunks} chunks in {perf_counter() - t0:.1f}s")
        series: list[dict] = [{"questions": 0, "rss_mb": round(rss_mb(), 1)}]
        runs, found, t0 = 0, 0, perf_counter()
        for n, q in enumerate(questions(rng, args.questions), start=1):
            if n % args.every == 0:
                path = notes[runs % len(notes)]
                with open(path, "a", encoding="utf-8") as f:
                    f.write(f"\nA soak edit, number {runs}: {rng.choice(['habit', 'memory', 'focus'])} matters.\n")
                report = app.index()
                assert report.updated == 1, report
                runs += 1
            found += app.ask(q).found
            if n % args.sample == 0:
                gc.collect()
                series.append({"questions": n, "rss_mb": round(rss_mb(), 1)})
                log(f"{n} questions, {runs} re-indexes: {series[-1]['rss_mb']} MB")
        seconds = perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    warm = next((s["rss_mb"] for s in series if s["questions"] >= args.warmup), series[-1]["rss_mb"])
    after = [s["rss_mb"] for s in series if s["questions"] >= args.warmup]
    growth = (max(after) - warm) / warm if warm else 0.0
    print(json.dumps({
        "questions": args.questions, "reindex_every": args.every, "reindexes": runs, "chunks": first.chunks,
        "answered": found, "seconds": round(seconds, 1), "rss_mb": series, "warm_mb": warm,
        "final_mb": series[-1]["rss_mb"], "max_growth_after_warmup": round(growth, 3),
        "flat_within_10pct": growth <= 0.10,
    }, indent=1))


if __name__ == "__main__":
    main()
