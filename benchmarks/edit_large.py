"""One edited note in a large index: what `reread index` costs (CPU-seconds, wall, peak RSS), and a no-change run.

    PYTHONPATH=.:benchmarks HF_HUB_OFFLINE=1 .venv/bin/python -P benchmarks/edit_large.py [--notes 18000] [--keep DIR]

The vault is reindex.py's generator (~6 chunks a note: 18,000 notes make ~100k chunks). The large index is built
in process with a fast hashed-words embedder that names itself as the ONNX encoder (the vectors do not matter
for the cost of an edit, and a real full index of 100k chunks takes ~25 minutes here); then one note is edited
and a fresh `reread index --json` process re-indexes it with the real encoder, the way a user runs it. Prints
one JSON object; progress on stderr. With --keep DIR the vault and index stay in DIR and are reused.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

import numpy as np
from reindex import REREAD, cli_env, generate, large_vault_args, log


class HashedWords:
    """Texts sharing words get near vectors; no model. Named as the real encoder so the fingerprint matches."""

    name, encoder = "all-MiniLM-L6-v2", "onnx-int8"

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in re.findall(r"\w+", text.lower()):
                out[i, hash(w) % 384] += 1.0
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)).tolist()


def child_run(env: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = perf_counter()
    p = subprocess.run([REREAD, "index", "--json"], env=env, capture_output=True, text=True)
    wall = perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 2):
        sys.exit(f"reread index failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    report = json.loads(p.stdout)
    return {"cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
            "wall_s": round(wall, 2), "peak_rss_mb": round(after.ru_maxrss / 1024),
            "updated": report["updated"], "added": report["added"], "chunks": report["chunks"],
            "report_s": report.get("seconds")}


def main() -> None:
    args = large_vault_args(__doc__, 18000, "keep (and reuse) the vault and index in this folder")
    work = args.keep or Path(tempfile.mkdtemp(prefix="reread-edit-"))
    vault, index_dir = work / "vault", work / "index"
    env = cli_env(vault, index_dir)
    os.environ.update(HF_HUB_OFFLINE="1")
    try:
        from assistant.facade import Assistant
        from ingest.settings import load_settings

        paths = sorted(vault.rglob("*.md")) if vault.is_dir() else []
        if len(paths) != args.notes:
            shutil.rmtree(work / "vault", ignore_errors=True)
            shutil.rmtree(index_dir, ignore_errors=True)
            paths = generate(vault, args.notes, args.seed)
        app = Assistant(load_settings(notes_dir=vault, index_dir=index_dir), embedder=HashedWords())
        built = {}
        if app.status()["chunks"] == 0:
            log(f"building the large index of {len(paths)} notes with hashed-words vectors...")
            t0 = perf_counter()
            report = app.index()
            built = {"build_s": round(perf_counter() - t0, 1), "build_peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
            log(f"built: {report.chunks} chunks in {built['build_s']} s")
        chunks = app.status()["chunks"]
        disk = sum(f.stat().st_size for f in index_dir.rglob("*") if f.is_file())
        log("no-change run...")
        no_change = child_run(env)
        target = paths[len(paths) // 2]
        text = target.read_text(encoding="utf-8")
        target.write_text(text.replace("## Summary\n", "## Summary\n\nAn edit made while studying, "
                                       f"number {int(perf_counter())}.\n", 1), encoding="utf-8")
        log(f"edited {target.relative_to(vault)}; re-index...")
        edit = child_run(env)
        print(json.dumps({"notes": len(paths), "chunks": chunks, "index_bytes_per_chunk": round(disk / max(chunks, 1)),
                          **built, "no_change": no_change, "one_edit": edit}))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
