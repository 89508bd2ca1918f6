"""Cold start: what a fresh `reread status`, `search` and `ask` (extractive) cost, per embedding backend.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/coldstart.py [--vault DIR] [--repeat 3] [--backends onnx,torch]

Copies the vault (default: the sample vault, data/notes and data/books) into a temporary folder, indexes it
once, then runs each command `--repeat` times as a fresh process. CPU-seconds (user + system of the child, from
wait4) are the stable figure; wall times swing with the machine's load. `heavy` lists what the process imported
of torch, sentence_transformers, transformers, sklearn and pandas (the onnx backend should import none). The
ONNX export is looked up in the user's cache (made by the index step if missing). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from child import run

ROOT = Path(__file__).resolve().parent.parent
REREAD = str(Path(sys.executable).parent / "reread")
COMMANDS = {"status": ["status", "--json"],
            "search": ["search", "What is tokenization?", "--json"],
            "ask": ["ask", "What is tokenization?", "--backend", "extractive", "--json"]}


def copy_vault(src: Path | None, dst: Path) -> Path:
    if src is not None:
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("index", ".*"))
    else:  # the sample vault without its index and QA files
        for part in ("notes", "books"):
            shutil.copytree(ROOT / "data" / part, dst / part)
    return dst


def measure(env: dict[str, str], cwd: Path, repeat: int) -> dict:
    out = {}
    for name, args in COMMANDS.items():
        runs = [run([REREAD, *args], env, cwd) for _ in range(repeat)]
        bad = [r for r in runs if r.returncode != 0]
        if bad:
            sys.exit(f"reread {name} failed ({bad[0].returncode}): {bad[0].stderr.strip()[-500:]}")
        out[name] = {"cpu_s": round(statistics.median(r.cpu_s for r in runs), 3),
                     "wall_s": round(statistics.median(r.wall_s for r in runs), 3),
                     "max_rss_mb": round(max(r.max_rss_mb for r in runs)),
                     "cpu_s_runs": [round(r.cpu_s, 3) for r in runs],
                     "heavy": sorted({m for r in runs for m in r.heavy})}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vault", type=Path, help="a vault to copy (default: the sample vault)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--backends", default="onnx,torch", help="comma-separated REREAD_EMBED_BACKEND values")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="reread-coldstart-") as tmp:
        work = Path(tmp)
        vault = copy_vault(args.vault, work / "vault")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
        base.update(REREAD_NOTES_DIR=str(vault), REREAD_INDEX_DIR=str(work / "index"), HF_HUB_OFFLINE="1",
                    REREAD_BACKEND="extractive")
        result: dict = {"vault": str(args.vault or "sample vault (data/notes, data/books)"), "repeat": args.repeat,
                        "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()]}
        for backend in args.backends.split(","):
            env = {**base, "REREAD_EMBED_BACKEND": backend}
            index = run([REREAD, "index", "--json"], env, work)  # (re)builds for this backend: not measured
            if index.returncode not in (0, 2):
                sys.exit(f"reread index failed ({index.returncode}): {index.stderr.strip()[-500:]}")
            report = json.loads(index.stdout)
            status = json.loads(run([REREAD, "status", "--json"], env, work).stdout)
            result[backend] = {"chunks": report["chunks"], "embed_model": status["embed_model"],
                               "encoder": status.get("encoder"),
                               "index_cpu_s": round(index.cpu_s, 2), **measure(env, work, args.repeat)}
        result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
