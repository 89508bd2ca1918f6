"""Ingest speed: a full `reread index` in chunks per CPU-second, beside its own encoder's raw rate on the same
texts and sentence-transformers' `encode` (torch, fp32) on those texts, in one run.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ingest_rate.py [--notes 200 | --vault DIR] [--seed 1] [--torch-index]
        [--repeat 3]

The vault is generated like benchmarks/reindex.py's (reading notes with front matter, headings, lists) unless
--vault names one to copy. The full index runs as a fresh process (CPU-seconds from wait4: user + system, its
threads included, start-up and imports too); the encoders run in this process on the texts that index embedded
(title/heading header included), after one warm-up call, timed with getrusage. CPU-seconds are the stable
figure; wall times swing with the machine's load, and CPU-seconds by about ±1 s between identical runs on 2
shared cores (the encoder alone drifts by ~5% over minutes). So the index and the raw encoder take turns,
--repeat times: the ratio is the median of those back-to-back pairs (the best against the best is given too), and
sentence-transformers' rate is its best of --repeat runs. --torch-index also times a full index with
REREAD_EMBED_BACKEND=torch. Prints one JSON object; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from time import perf_counter

from child import run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REREAD = str(Path(sys.executable).parent / "reread")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cpu_now() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(embed, texts: list[str], repeat: int) -> dict:
    embed(["warm up: load the model or session"])
    runs = []
    for _ in range(repeat):
        c0, t0 = cpu_now(), perf_counter()
        embed(texts)
        cpu, wall = cpu_now() - c0, perf_counter() - t0
        runs.append({"cpu_s": round(cpu, 2), "wall_s": round(wall, 2), "chunks_per_cpu_s": round(len(texts) / cpu, 1),
                     "chunks_per_s": round(len(texts) / wall, 1)})
    return best(runs)


def best(runs: list[dict]) -> dict:
    """The run least disturbed by other load (the most chunks per CPU-second), with every run's rate beside it."""
    return max(runs, key=lambda r: r["chunks_per_cpu_s"]) | {"runs": [r["chunks_per_cpu_s"] for r in runs]}


def embed_texts(settings) -> list[str]:
    """What the index embedded: every file parsed and chunked as the indexer does, header included."""
    from ingest.discover import discover
    from ingest.indexer import Indexer
    from ingest.sources import parse_source

    indexer = Indexer(settings)
    vault = Path(settings.notes_dir)
    texts = []
    for f in discover(vault, exclude=[Path(settings.index_dir)]):
        try:
            doc = parse_source(f.source, f.path, int(settings.max_file_mb * 1e6))
        except Exception:  # failed in the index too: not embedded
            continue
        texts += [c.embed_text for c in indexer.chunker.chunk(doc)]
    return texts


def full_index(env: dict[str, str], cwd: Path) -> dict:
    child = run([REREAD, "index", "--json"], env, cwd)
    if child.returncode not in (0, 2):
        sys.exit(f"reread index failed ({child.returncode}): {child.stderr.strip()[-500:]}")
    report = json.loads(child.stdout)
    return {"chunks": report["chunks"], "files": report["added"], "failed": len(report["failed"]),
            "cpu_s": round(child.cpu_s, 2), "wall_s": round(child.wall_s, 2), "max_rss_mb": round(child.max_rss_mb),
            "chunks_per_cpu_s": round(report["chunks"] / child.cpu_s, 1),
            "chunks_per_s": round(report["chunks"] / child.wall_s, 1), "heavy": child.heavy}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=200, help="notes to generate (ignored with --vault)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vault", type=Path, help="a vault to copy instead of generating one")
    ap.add_argument("--torch-index", action="store_true", help="also time a full index with the torch backend")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each timing (a fresh index each time); the best "
                    "is reported for all three alike, the least disturbed by other load (±1 CPU-s between runs)")
    args = ap.parse_args()

    # the encoders here tokenize as `reread index` does, on one thread: the tokenizers' pool would cost them CPU
    # the index does not spend, and flatter the ratio
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from ingest.auto_embedder import AutoEmbedder
    from ingest.embedder import SentenceTransformerEmbedder
    from ingest.onnx_encoder import OnnxEmbedder
    from ingest.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="reread-ingest-") as tmp:
        work = Path(tmp)
        vault = work / "vault"
        if args.vault:
            shutil.copytree(args.vault, vault, ignore=shutil.ignore_patterns("index", ".*"))
        else:
            from reindex import generate

            generate(vault, args.notes, args.seed)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
        env.update(REREAD_NOTES_DIR=str(vault), REREAD_INDEX_DIR=str(work / "index"), HF_HUB_OFFLINE="1",
                   REREAD_EMBED_BACKEND="onnx")
        settings = load_settings(notes_dir=vault, index_dir=work / "index")
        auto = AutoEmbedder(settings.embed_model, "onnx")
        auto.prepare(log)  # the export, made now if missing, so the timed index does not pay for it
        if auto.encoder == "torch":
            sys.exit("no ONNX export could be made; see the message above")
        result: dict = {"vault": str(args.vault) if args.vault else f"generated: {args.notes} notes, seed {args.seed}",
                        "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()]}

        texts = embed_texts(settings)
        onnx = auto._pick()
        assert isinstance(onnx, OnnxEmbedder)
        result |= {"texts": len(texts), "encoder": onnx.encoder, "batch_size": onnx.batch_size,
                   "workers": onnx.workers}
        # the index and the raw encoder take turns: this machine's speed drifts by ~5% over minutes, and a pair
        # run back to back sees the same machine
        runs, raws = [], []
        for i in range(args.repeat):
            log(f"full index (onnx), run {i + 1} ...")
            runs.append(full_index(env | {"REREAD_INDEX_DIR": str(work / f"index-{i}")}, work))
            log(f"raw encoder on {len(texts)} texts, run {i + 1} ...")
            raws.append(timed(onnx.embed, texts, 1))
        result["index"], result["onnx_raw"] = best(runs), best(raws)
        pairs = [a["chunks_per_cpu_s"] / b["chunks_per_cpu_s"] for a, b in zip(runs, raws, strict=True)]
        result["ratio_pairs"] = [round(x, 3) for x in pairs]
        log("sentence-transformers encode ...")
        result["torch_st"] = timed(SentenceTransformerEmbedder(settings.embed_model).embed, texts, args.repeat)
        if args.torch_index:
            log("full index (torch) ...")
            result["index_torch"] = full_index({**env, "REREAD_EMBED_BACKEND": "torch",
                                                "REREAD_INDEX_DIR": str(work / "index-torch")}, work)
        rate = result["index"]["chunks_per_cpu_s"]
        result["ratio_index_vs_raw"] = round(statistics.median(pairs), 3)  # the median of the back-to-back pairs
        result["ratio_best_vs_best"] = round(rate / result["onnx_raw"]["chunks_per_cpu_s"], 3)
        result["ratio_index_vs_st"] = round(rate / result["torch_st"]["chunks_per_cpu_s"], 3)
        result["ratio_raw_vs_st"] = round(result["onnx_raw"]["chunks_per_cpu_s"]
                                          / result["torch_st"]["chunks_per_cpu_s"], 3)
        result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
