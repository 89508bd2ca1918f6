"""The lexical side's update cost: one edited note in a large vault, without re-tokenizing the rest.

    .venv/bin/python benchmarks/lexical.py [--notes 5000] [--chunks-per-note 5] [--seed 1]

Builds a generation of generated chunks (no embedding: this measures BM25 alone), saves it, then times
what an incremental `reread index` does for one edited note: load the previous generation with its token
ids, drop the note's old chunks, tokenize its new ones, rebuild the BM25 matrix, save. Prints one JSON
object (seconds, chunks, the on-disk size).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path
from time import perf_counter

WORDS = ("attention model token vector index note chapter reading memory search answer question source "
         "quote page book author idea summary claim evidence method result data train test learn").split()


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(2000)) for _ in range(n))


def main() -> None:
    from ingest import lexical

    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=5000)
    ap.add_argument("--chunks-per-note", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    docs = [lexical.Doc(f"{n}-{c}", f"notes/{n}.md", "note", ["t"], text(rng, 120))
            for n in range(args.notes) for c in range(args.chunks_per_note)]
    files = {f"notes/{n}.md": ("note", ["t"]) for n in range(args.notes)}
    analyzer = lexical.Analyzer()
    with tempfile.TemporaryDirectory(prefix="reread-lexical-") as tmp:
        t0 = perf_counter()
        lexical.save(Path(tmp), "g1", lexical.build(None, [d.id for d in docs], docs, analyzer, files))
        full = perf_counter() - t0

        t0 = perf_counter()
        previous = lexical.load(Path(tmp), "g1", for_writer=True)
        loaded = perf_counter() - t0
        edited = [lexical.Doc(f"0-{c}-new", "notes/0.md", "note", ["t"], text(rng, 120))
                  for c in range(args.chunks_per_note)]
        keep = [d.id for d in docs if not d.id.startswith("0-")] + [d.id for d in edited]
        t1 = perf_counter()
        gen = lexical.build(previous, keep, edited, analyzer, files)
        built = perf_counter() - t1
        t1 = perf_counter()
        lexical.save(Path(tmp), "g2", gen)
        saved = perf_counter() - t1
        incremental = perf_counter() - t0
        t0 = perf_counter()
        reader = lexical.load(Path(tmp), "g2")
        reader_load = perf_counter() - t0
        t0 = perf_counter()
        for _ in range(20):
            reader.search(analyzer("attention12 model7 token99 reading"), 50)
        query_ms = (perf_counter() - t0) / 20 * 1000
        size = sum(p.stat().st_size for p in (Path(tmp) / lexical.DIR / "g2").rglob("*") if p.is_file())
    print(json.dumps({"notes": args.notes, "chunks": len(docs), "full_build_s": round(full, 3),
                      "one_note_update_s": round(incremental, 3), "of_which_load_s": round(loaded, 3),
                      "of_which_build_s": round(built, 3), "of_which_save_s": round(saved, 3),
                      "reader_load_s": round(reader_load, 3), "query_ms": round(query_ms, 2),
                      "disk_mb": round(size / 1e6, 1)}))


if __name__ == "__main__":
    main()
