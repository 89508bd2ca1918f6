"""Chunk sizes on a vault, chunked as the indexer chunks it (no embedding, no torch).

    .venv/bin/python benchmarks/chunks.py [--vault DIR] [--size 200] [--overlap 40]

Prints one JSON object: notes, chunks, median and percentile words per chunk, the share of chunks of
10 words or fewer (and how many of those come from sections that had more words, i.e. that the chunker
cut off), the largest embedded text in model word pieces, chunks ending in ':' (a lead-in, fine only where
its section ends there) and chunks that are one code block and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0


def _sources(vault: Path, suffixes: set[str]) -> list[Path]:
    """Notes and PDFs as the indexer finds them: hidden folders, the index and the eval folder left out."""
    return sorted(p for p in vault.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                  and not any(part.startswith(".") or part in ("index", "eval") for part in p.relative_to(vault).parts))


def measure(vault: Path, size: int, overlap: int) -> dict:
    from ingest.chunker import CHUNKER_VERSION, Chunker, ChunkerConfig
    from ingest.errors import UnreadableFile
    from ingest.models import WINDOW, model_dir
    from ingest.sources import NOTE_SUFFIXES, PDF_SUFFIXES, parse_source
    from ingest.spans import blocks
    from ingest.tokens import TokenCounter

    counter = TokenCounter(model_dir("all-MiniLM-L6-v2") / "tokenizer.json", WINDOW)
    chunker = Chunker(counter, ChunkerConfig(size, overlap))
    paths = _sources(vault, NOTE_SUFFIXES | PDF_SUFFIXES)
    words: list[int] = []
    pieces: list[int] = []
    lead_ins = code_alone = failed = avoidable = 0
    for path in paths:
        try:
            doc = parse_source(path.relative_to(vault).as_posix(), path, 50_000_000)
        except UnreadableFile:
            failed += 1
            continue
        for c in chunker.chunk(doc):
            words.append(len(c.text.split()))
            section = next(s for s in doc.sections if s.page == c.page and s.start <= c.start < s.end)  # where it opens
            avoidable += words[-1] <= 10 and len(doc.texts[c.page][section.start:section.end].split()) > 10
            pieces.append(counter.count(c.embed_text) + 2)  # [CLS] and [SEP], as the model reads it
            lead_ins += c.text.rstrip("*_ ").endswith(":")
            parts = blocks(c.text, 0, len(c.text))
            code_alone += len(parts) == 1 and parts[0][2]
    n = len(words)
    return {
        "vault": str(vault), "chunker": CHUNKER_VERSION, "chunk_size": size, "chunk_overlap": overlap,
        "notes": len(paths) - failed, "failed": failed, "chunks": n,
        "median_words": statistics.median(words) if words else 0,
        "p10_words": _percentile(words, 0.10), "p90_words": _percentile(words, 0.90),
        "share_le_10_words": round(sum(w <= 10 for w in words) / n, 3) if n else 0.0,
        "le_10_words_in_larger_sections": avoidable,  # fragments the chunker made: their section had more words
        "max_pieces": max(pieces, default=0), "over_window": sum(p > WINDOW for p in pieces),
        "ends_with_colon": lead_ins, "code_only_chunks": code_alone,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vault", type=Path, default=ROOT / "data")
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--overlap", type=int, default=40)
    args = ap.parse_args()
    print(json.dumps(measure(args.vault, args.size, args.overlap)))


if __name__ == "__main__":
    main()
