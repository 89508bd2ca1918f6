"""Re-index figures on a generated vault: full index, no-change re-index, an edit of 10 notes, a delete, a rename.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/reindex.py [--notes 1000] [--seed 1] [--keep]

Prints one JSON object on stdout (progress on stderr). The full index and every re-index after it run as a
fresh `reread index --json` process, the way a user runs them; the no-change re-index is also timed in
process (a new Assistant per run, as a fresh process would have). Times are wall seconds (perf_counter);
`*_report_s` is the run's own "seconds". The issue's bar: a no-change re-index reports under 1.0 s and takes
at most 5% of the full index's wall time (`ratio_no_change_cli_full`, `ratio_no_change_full`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

REREAD = str(Path(sys.executable).parent / "reread")

TOPICS = ["attention", "memory", "habit", "evaluation", "retrieval", "tokenization", "scaling", "feedback",
          "deliberate practice", "note-taking", "spaced repetition", "latency", "embeddings", "prompting",
          "incentives", "systems thinking", "writing", "sleep", "focus", "fine-tuning", "agents", "design"]
VERBS = ["shapes", "limits", "explains", "predicts", "improves", "undermines", "depends on", "reframes",
         "connects to", "contradicts", "amplifies", "simplifies"]
QUALIFIERS = ["in practice", "over the long run", "for beginners", "at scale", "in most teams", "surprisingly",
              "according to the author", "with a few caveats", "when measured carefully", "in the second chapter"]
OPENERS = ["The author argues that", "A key point is that", "I noticed that", "It seems that", "The chapter shows",
           "One example suggests", "Counter-intuitively,", "In short,", "The evidence says", "My takeaway:"]
AUTHORS = ["Ada Byron", "Chip Huyen", "Cal Newport", "Daniel Kahneman", "Barbara Oakley", "James Clear",
           "Donella Meadows", "Annie Duke", "Ted Chiang", "Ursula Franklin"]


def sentence(rng: random.Random) -> str:
    a, b = rng.sample(TOPICS, 2)
    return f"{rng.choice(OPENERS)} {a} {rng.choice(VERBS)} {b} {rng.choice(QUALIFIERS)}."


def paragraph(rng: random.Random, lo: int = 2, hi: int = 5) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(lo, hi)))


def note(i: int, rng: random.Random) -> str:
    """A reading note: front matter, a title, headings, lists, a quote, a few paragraphs, Obsidian links."""
    topic = rng.choice(TOPICS)
    title = f"{topic.title()} notes {i}"
    tags = rng.sample(["book", "article", "ai", "learning", "psychology", "craft", "to-review"], 2)
    parts = [f"---\ntitle: {title}\nauthor: {rng.choice(AUTHORS)}\ntags: [{', '.join(tags)}]\n"
             f"created: 2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}\ntype: {tags[0]}\n---\n",
             f"# {title}\n", "## Summary\n", paragraph(rng, 3, 7) + "\n",
             "## Key ideas\n", "\n".join(f"- {sentence(rng)}" for _ in range(rng.randint(3, 8))) + "\n"]
    for c in range(rng.randint(1, 4)):
        parts.append(f"### Chapter {c + 1}\n")
        parts += [paragraph(rng, 2, 6) + "\n" for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.5:
            parts.append("\n".join(f"- {sentence(rng)}\n  - {sentence(rng)}" for _ in range(2)) + "\n")
    if rng.random() < 0.6:
        parts += ["## Quotes\n", f"> {sentence(rng)}\n"]
    parts.append(f"See also [[{rng.choice(TOPICS).title()} notes {rng.randint(0, i + 1)}]] #{tags[1]}\n")
    return "\n".join(parts)


def generate(vault: Path, n: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for i in range(n):
        path = vault / "notes" / rng.choice(["books", "articles", "courses", "inbox"]) / f"note-{i:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(note(i, rng), encoding="utf-8", newline="")
        paths.append(path)
    return paths


def cli_env(vault: Path, index_dir: Path) -> dict[str, str]:
    """A `reread` child's environment: this one's without REREAD_/OPENAI_ settings, pointed at vault and index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
    env.update(HF_HUB_OFFLINE="1", REREAD_NOTES_DIR=str(vault), REREAD_INDEX_DIR=str(index_dir))
    return env


def large_vault_args(doc: str, notes: int, keep_help: str) -> argparse.Namespace:
    """--notes, --seed and --keep DIR, as the large-vault benchmarks take them."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--notes", type=int, default=notes)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help=keep_help)
    return ap.parse_args()


def cli_index(env: dict[str, str]) -> tuple[float, dict]:
    t0 = perf_counter()
    p = subprocess.run([REREAD, "index", "--json"], env=env, capture_output=True, text=True)
    wall = perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"reread index failed ({p.returncode}): {p.stderr.strip()}")
    return wall, json.loads(p.stdout)


def inprocess_index(vault: Path, index_dir: Path) -> tuple[float, dict]:
    from assistant.facade import Assistant
    from ingest.settings import load_settings

    t0 = perf_counter()
    app = Assistant(load_settings(notes_dir=vault, index_dir=index_dir))
    report = app.index()
    wall = perf_counter() - t0
    return wall, report.to_json() | {"embedder_loaded": app.embedder._model is not None}


def chunk_ids(index_dir: Path) -> set[str]:
    data = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    return {i for entry in data["files"].values() for i in entry["chunk_ids"]}


def counts(report: dict) -> dict:
    return {k: report[k] for k in ("added", "updated", "removed", "renamed", "unchanged", "chunks")} | {
        "failed": len(report["failed"])}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=1000, help="how many notes to generate (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="no-change runs to take the median of")
    ap.add_argument("--keep", action="store_true", help="keep the generated vault and index")
    args = ap.parse_args()
    if args.notes < 3:
        ap.error("--notes must be at least 3 (edit, delete and rename need separate notes)")

    work = Path(tempfile.mkdtemp(prefix="reread-bench-"))
    vault, index_dir = work / "vault", work / "index"
    os.chdir(work)  # no project .env leaks into the in-process runs
    env = cli_env(vault, index_dir)
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        paths = generate(vault, args.notes, args.seed)
        size = sum(p.stat().st_size for p in paths)
        log(f"generated {args.notes} notes ({size / 1e6:.2f} MB) in {vault}; full index...")
        full_s, full = cli_index(env)
        log(f"full index: {full_s:.1f}s, {full['chunks']} chunks; no-change re-index...")

        inproc = [inprocess_index(vault, index_dir) for _ in range(args.repeat)]
        cli = [cli_index(env) for _ in range(args.repeat)]
        no_change_s = statistics.median(w for w, _ in inproc)
        no_change_cli_s = statistics.median(w for w, _ in cli)

        rng = random.Random(args.seed + 1)
        order = rng.sample(paths, len(paths))
        n_edit = min(10, len(paths) - 2)
        edited, deleted, renamed = order[:n_edit], order[n_edit], order[n_edit + 1]
        before = chunk_ids(index_dir)
        for p in edited:
            text = p.read_text(encoding="utf-8")
            p.write_text(text.replace("## Summary\n", f"## Summary\n\n{paragraph(rng, 1, 2)}\n", 1),
                         encoding="utf-8", newline="")
        log(f"edit of {n_edit} notes...")
        edit_s, edit = cli_index(env)
        edit_new_chunks = len(chunk_ids(index_dir) - before)

        deleted.unlink()
        delete_s, delete = cli_index(env)
        target = vault / "archive" / "2025" / renamed.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(renamed, target)
        rename_s, rename = cli_index(env)
        final_s, final = cli_index(env)
        log("done")

        result = {
            "notes": args.notes, "seed": args.seed, "vault_mb": round(size / 1e6, 3), "chunks": full["chunks"],
            "full_s": round(full_s, 3), "full_report_s": full["seconds"],
            "no_change_s": round(no_change_s, 4),
            "no_change_report_s": statistics.median(r["seconds"] for _, r in inproc),
            "no_change_cli_s": round(no_change_cli_s, 3),
            "no_change_cli_report_s": statistics.median(r["seconds"] for _, r in cli),
            "ratio_no_change_full": round(no_change_s / full_s, 5),
            "ratio_no_change_cli_full": round(no_change_cli_s / full_s, 5),
            "edit_notes": n_edit, "edit_s": round(edit_s, 3), "edit_report_s": edit["seconds"],
            "edit_new_chunks": edit_new_chunks,
            "delete_s": round(delete_s, 3), "delete_report_s": delete["seconds"],
            "rename_s": round(rename_s, 3), "rename_report_s": rename["seconds"],
            "final_no_change_s": round(final_s, 3),
            "no_change_embedder_loaded": any(r["embedder_loaded"] for _, r in inproc),
            "reports": {"full": counts(full), "no_change_inprocess": counts(inproc[0][1]),
                        "no_change": counts(cli[-1][1]), "edit": counts(edit), "delete": counts(delete),
                        "rename": counts(rename), "final_no_change": counts(final)},
        }
        if args.keep:
            result["workdir"] = str(work)
        print(json.dumps(result), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
