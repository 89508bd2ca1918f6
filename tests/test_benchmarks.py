"""The re-index benchmark still runs and prints the figures others read (tiny vault: a smoke test, not a measure)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

KEYS = {"notes", "seed", "vault_mb", "chunks", "full_s", "full_report_s", "no_change_s", "no_change_report_s",
        "no_change_cli_s", "no_change_cli_report_s", "ratio_no_change_full", "ratio_no_change_cli_full",
        "edit_notes", "edit_s", "edit_report_s", "edit_new_chunks", "delete_s", "delete_report_s", "rename_s",
        "rename_report_s", "final_no_change_s", "no_change_embedder_loaded", "reports"}


def test_reindex_benchmark_prints_json():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "reindex.py"), "--notes", "5", "--repeat", "1"],
                       env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, "stdout is one JSON object; progress goes to stderr"
    out = json.loads(lines[0])
    assert KEYS <= set(out)
    assert out["notes"] == 5 and out["chunks"] > 0 and out["edit_notes"] == 3
    r = out["reports"]
    assert r["full"]["added"] == 5 and r["no_change"]["unchanged"] == r["no_change_inprocess"]["unchanged"] == 5
    assert out["no_change_embedder_loaded"] is False
    assert (r["edit"]["updated"], r["delete"]["removed"], r["rename"]["renamed"]) == (3, 1, 1)
    assert r["final_no_change"] == {"added": 0, "updated": 0, "removed": 0, "renamed": 0, "unchanged": 4,
                                    "chunks": r["rename"]["chunks"], "failed": 0}


def _load_beir():
    spec = importlib.util.spec_from_file_location("beir_bench", ROOT / "benchmarks" / "beir.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOPICS = ["volcano lava eruption", "penguin antarctic colony", "bread yeast fermentation", "chess opening gambit",
          "glacier ice retreat", "violin string bow", "coffee roasting beans", "comet tail orbit",
          "honey bee pollination", "submarine sonar depth", "tulip bulb planting", "marathon running training",
          "lighthouse keeper coast", "origami paper folding", "saturn rings moons", "cheese aging cave",
          "kite wind flying", "desert cactus water", "telescope mirror lens", "tea leaf oxidation"]


def _beir_folder(root: Path) -> Path:
    """20 one-topic abstracts, five queries with graded qrels (BEIR's files and header)."""
    (root / "qrels").mkdir(parents=True)
    docs = [{"_id": f"d{i}", "title": t.title(), "text": f"This abstract is about {t}. " * 3}
            for i, t in enumerate(TOPICS)]
    docs[7]["_id"] = "odd/id 7"  # an id that is no safe file name still maps back
    queries = [{"_id": f"q{i}", "text": f"What is known about {TOPICS[i]}?"} for i in (0, 3, 7, 12, 19)]
    qrels = ["query-id\tcorpus-id\tscore"]
    qrels += [f"q{i}\t{'odd/id 7' if i == 7 else f'd{i}'}\t2" for i in (0, 3, 7, 12, 19)]
    qrels.append("q0\td4\t1")  # a second, less relevant document (glaciers) for the volcano query
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return root


def test_beir_metrics_match_a_hand_computed_example():
    beir = _load_beir()
    qrel = {"a": 2, "b": 1, "z": 0}
    ranked = ["c", "a", "b"]
    # DCG = 0 + 2/log2(3) + 1/log2(4) = 1.76186; ideal = 2/log2(2) + 1/log2(3) = 2.63093
    assert beir.ndcg(ranked, qrel, 10) == pytest.approx(0.66967, abs=1e-5)
    assert beir.ndcg(["a", "b"], qrel, 10) == pytest.approx(1.0)
    assert beir.ndcg(ranked, qrel, 1) == 0.0
    assert beir.recall(ranked, qrel, 2) == 0.5 and beir.recall(ranked, qrel, 10) == 1.0
    assert beir.mrr(ranked, qrel, 10) == 0.5 and beir.mrr(ranked, qrel, 1) == 0.0
    # chunks of one document count once, at their best rank
    assert beir.doc_ranking(["x.md", "a.md", "x.md", "b.md", "gone.md"], {"x.md": "x", "a.md": "a", "b.md": "b"}) \
        == ["x", "a", "b"]
    assert beir.note_name("12345") == "12345.md"
    assert beir.note_name("odd/id 7") != beir.note_name("odd_id_7") and "/" not in beir.note_name("odd/id 7")


def test_beir_benchmark_runs_on_a_generated_set(tmp_path):
    data = _beir_folder(tmp_path / "beir")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "beir.py"), "--data", str(data),
                        "--vault-dir", str(tmp_path / "vault"), "--index-dir", str(tmp_path / "index")],
                       env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, "stdout is one JSON object; progress goes to stderr"
    out = json.loads(lines[0])
    assert (out["docs"], out["queries"], out["failed"]) == (20, 5, 0)
    assert len(list((tmp_path / "vault").glob("*.md"))) == 20
    assert (tmp_path / "vault" / "d3.md").read_text(encoding="utf-8").startswith("# Chess Opening Gambit\n\n")
    # each query names its topic: the right abstract comes first, the glacier one is found for q0 too
    assert out["MRR@10"] == 1.0 and out["recall@10"] == 1.0 and out["recall@100"] == 1.0
    assert 0.9 < out["nDCG@10"] <= 1.0
    assert out["index_seconds"] > 0 and out["search_seconds"] > 0


def test_qa_sets_benchmark_prints_the_readme_table_as_json(tmp_path):
    """One set end to end (the sample vault's held-out questions): indexed, evaluated, one JSON object out."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "qa_sets.py"), "--sets", "seed_holdout",
                        "--index-root", str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    row = out["sets"]["seed_holdout"]
    assert out["k"] == 5 and row["chunks"] > 0 and row["citation_faults"] == 0
    assert row["recall@k"] >= 0.9 and row["refused_in_scope"].endswith("/30")
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "qa_sets.py"), "--sets", "nope"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown set(s) nope" in bad.stderr


def test_misses_lists_a_studied_sets_shortfalls_and_refuses_a_blind_one(tmp_path):
    """One JSON object per shortfall of the sample vault's held-out questions; a blind set's are not shown."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "misses.py"), "--set", "seed_holdout",
                        "--index-root", str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert rows and {r["kind"] for r in rows} <= {"passage", "refused", "answered", "key_fact"}
    for r in rows:
        if r["kind"] == "passage":  # the right passage is not first: what came before it is shown
            assert r["above"] and r["above"][0]["rank"] == 1 and (r["rank"] is None or r["rank"] > 1)
    blind = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "misses.py"), "--set", "pymdown"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert blind.returncode == 2 and "read blind" in blind.stderr
