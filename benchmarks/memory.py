"""Peak memory of a full `reread index` of a large generated vault (the issue's bar: 20,000 notes under 2 GB).

    PYTHONPATH=.:benchmarks HF_HUB_OFFLINE=1 .venv/bin/python -P benchmarks/memory.py [--notes 20000] [--keep DIR]

The vault is reindex.py's generator (~5.5 chunks a note). The index runs as a fresh `reread index --json` process
with the real encoder; its peak RSS comes from wait4 (ru_maxrss of the child), with CPU-seconds and wall time.
Takes ~25 CPU-minutes at 20,000 notes on this machine. Prints one JSON object; progress on stderr.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from child import run
from reindex import REREAD, cli_env, generate, large_vault_args, log


def main() -> None:
    args = large_vault_args(__doc__, 20000, "keep the vault and index in this folder")
    work = args.keep or Path(tempfile.mkdtemp(prefix="reread-memory-"))
    vault, index_dir = work / "vault", work / "index"
    env = cli_env(vault, index_dir)
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
