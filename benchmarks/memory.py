"""Peak memory of a full `reread index` of a large generated vault (the issue's bar: 20,000 notes under 2 GB).

    PYTHONPATH=.:benchmarks HF_HUB_OFFLINE=1 .venv/bin/python -P benchmarks/memory.py [--notes 20000] [--keep DIR]

The vault is reindex.py's generator (~5.5 chunks a note). The index runs as a fresh `reread index --json` process
with the real encoder; its peak RSS comes from wait4 (ru_maxrss of the child), with CPU-seconds and wall time.
Takes ~25 CPU-minutes at 20,000 notes on this machine. Prints one JSON object; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from child import run
from reindex import REREAD, generate, log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="keep the vault and index in this folder")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="reread-memory-"))
    vault, index_dir = work / "vault", work / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
    env.update(HF_HUB_OFFLINE="1", REREAD_NOTES_DIR=str(vault), REREAD_INDEX_DIR=str(index_dir))
    try:
        shutil.rmtree(work / "vault", ignore_errors=True)
        shutil.rmtree(index_dir, ignore_errors=True)
        paths = generate(vault, args.notes, args.seed)
        log(f"generated {len(paths)} notes; full index...")
        out = run([REREAD, "index", "--json"], env)
        if out.returncode not in (0, 2):
            raise SystemExit(f"reread index failed ({out.returncode}): {out.stderr[-2000:]}")
        report = json.loads(out.stdout)
        disk = sum(f.stat().st_size for f in index_dir.rglob("*") if f.is_file())
        print(json.dumps({"notes": len(paths), "chunks": report["chunks"], "failed": len(report["failed"]),
                          "peak_rss_mb": round(out.max_rss_mb), "cpu_s": round(out.cpu_s, 1),
                          "wall_s": round(out.wall_s, 1),
                          "chunks_per_cpu_s": round(report["chunks"] / max(out.cpu_s, 1e-9), 1),
                          "index_bytes_per_chunk": round(disk / max(report["chunks"], 1))}))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
