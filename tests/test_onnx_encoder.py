"""The torch-free encoder: the ONNX export gives sentence-transformers' vectors, reads import no torch, and an
index never mixes vectors of the two encoders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.auto_embedder import AutoEmbedder
from ingest.embedder import SentenceTransformerEmbedder
from ingest.onnx_encoder import META, OnnxEmbedder
from ingest.onnx_export import ensure_export, find_export
from tests.conftest import ROOT, SAMPLE_NOTES, default_chunker, write_vault

MODEL = "all-MiniLM-L6-v2"
REREAD = str(Path(sys.executable).parent / "reread")
HEAVY = {"torch", "sentence_transformers", "transformers", "sklearn", "pandas",
         "scipy", "bm25s"}  # the BM25 files are bm25s's format, read and written with numpy


@pytest.fixture(scope="session")
def xdg(tmp_path_factory) -> Path:
    """A private folder holding a fresh export (the slow part: once per session)."""
    home = tmp_path_factory.mktemp("xdg")
    ensure_export(MODEL, home / "reread" / "onnx")
    return home


@pytest.fixture(scope="session")
def export(xdg) -> Path:
    found = find_export(MODEL, xdg / "reread" / "onnx")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def torch_embedder() -> SentenceTransformerEmbedder:
    """sentence-transformers itself (torch fp32): what the ONNX export must agree with."""
    return SentenceTransformerEmbedder(MODEL)


@pytest.fixture(scope="session")
def onnx(export) -> OnnxEmbedder:
    return OnnxEmbedder(MODEL, export)


def sample_texts() -> list[str]:
    """What reread embeds: chunks of the sample notes (header included) and questions from the QA files."""
    from ingest.sources import parse_source

    chunks = [c.embed_text for p in sorted(SAMPLE_NOTES.glob("*.md"))
              for c in default_chunker().chunk(parse_source(p.name, p, 10**8))]
    questions = [json.loads(line)["question"] for line in (ROOT / "data/eval/seed_qa.jsonl").read_text().splitlines()
                 if line.strip()]
    return chunks[::2] + questions[::2]


def two_notes() -> dict[str, bytes]:
    return {f"notes/{p.name}": p.read_bytes() for p in sorted(SAMPLE_NOTES.glob("*.md"))[:2]}


def cosines(a, b) -> np.ndarray:
    return (np.asarray(a) * np.asarray(b)).sum(axis=1)


# --- the story ------------------------------------------------------------------------------------------


def test_onnx_vectors_match_sentence_transformers(onnx, torch_embedder):
    texts = sample_texts()
    assert len(texts) > 80
    cos = cosines(onnx.embed(texts), torch_embedder.embed(texts))
    assert cos.mean() >= 0.99 and cos.min() >= 0.98, (cos.mean(), cos.min())
    assert np.allclose(np.linalg.norm(onnx.embed(texts[:3]), axis=1), 1.0, atol=1e-5)


def test_a_text_past_128_word_pieces_is_not_cut_at_128(onnx, torch_embedder):
    """The bundled tokenizer.json stops at 128 pieces; the model reads 256, and so must the ONNX path."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(onnx.root / "tokenizer.json"))
    tok.no_truncation()
    long = " ".join((SAMPLE_NOTES / "the-rise-of-ai-engineering.md").read_text().split()[:180])
    enc = tok.encode(long, add_special_tokens=False)
    assert 140 < len(enc.ids) < 250
    cut = long[:enc.offsets[125][1]]  # what a 128-piece window would read
    full_ref, cut_ref = torch_embedder.embed([long, cut])
    vec = onnx.embed([long])[0]
    assert cosines([vec], [full_ref])[0] >= 0.98
    assert cosines([vec], [full_ref])[0] > cosines([vec], [cut_ref])[0] + 0.005


def test_fresh_search_and_ask_import_no_torch(tmp_path, xdg):
    """With the export in place (made at install, or by the first index into its models/ folder), index, search
    and ask run in fresh processes without torch and friends."""
    vault = write_vault(tmp_path / "vault", two_notes())
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(
        "import atexit, os, sys\n"
        "atexit.register(lambda: open(os.environ['REREAD_TEST_MODULES'], 'w').write("
        "'\\n'.join(sorted({m.split('.')[0] for m in sys.modules}))))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
    env.update(PYTHONPATH=str(guard), REREAD_NOTES_DIR=str(vault),
               REREAD_INDEX_DIR=str(tmp_path / "index"), REREAD_BACKEND="extractive", HF_HUB_OFFLINE="1")
    for args in (["index"], ["search", "tokenization"], ["ask", "What is tokenization?"]):
        modules = tmp_path / f"{args[0]}.modules"
        p = subprocess.run([REREAD, *args, "--json"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                           env=env | {"REREAD_TEST_MODULES": str(modules)})
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        loaded = set(modules.read_text().split())
        assert "onnxruntime" in loaded, args[0]
        assert not loaded & HEAVY, (args[0], sorted(loaded & HEAVY))
    assert out["found"] and out["citations"]
    status = json.loads(subprocess.run([REREAD, "status", "--json"], capture_output=True, text=True, env=env,
                                       cwd=tmp_path, timeout=120).stdout)
    assert status["embed_model"] == MODEL


def test_an_index_built_with_one_encoder_is_rebuilt_by_the_other(tmp_path, settings, torch_embedder, export):
    """torch -> onnx -> torch: each switch re-embeds every chunk into a new collection, said out loud."""
    from assistant.facade import Assistant

    embedder = torch_embedder
    vault = write_vault(tmp_path / "small", two_notes())
    torch_settings = settings.model_copy(update={"notes_dir": vault, "embed_backend": "torch"})
    first = Assistant(torch_settings, embedder=Counting(embedder))
    first.index()
    built = first.manifest()
    assert built.fingerprint["encoder"] == "torch"

    onnx_embedder = Counting(AutoEmbedder(MODEL, "onnx", cache=export.parent))
    second = Assistant(torch_settings.model_copy(update={"embed_backend": "onnx"}), embedder=onnx_embedder,
                       store=first.store)
    report = second.index()
    assert any("encoder torch -> onnx-int8" in m and "rebuild" in m for m in report.messages), report.messages
    rebuilt = second.manifest()
    assert rebuilt.fingerprint["encoder"] == "onnx-int8" and rebuilt.collection != built.collection
    assert onnx_embedder.count == rebuilt.chunks == report.chunks, "every chunk re-embedded, none reused"
    assert second.search("tokenization", k=1)[0].chunk.source.startswith("notes/")

    back = Assistant(torch_settings, embedder=Counting(embedder), store=first.store).index()
    assert any("encoder onnx-int8 -> torch" in m for m in back.messages), back.messages


class Counting:
    """Counts what an embedder is asked to embed; passes its encoder through for the fingerprint."""

    def __init__(self, inner):
        self.inner, self.name, self.count = inner, inner.name, 0

    @property
    def encoder(self) -> str:
        return self.inner.encoder

    def prepare(self, log) -> None:
        getattr(self.inner, "prepare", lambda log: None)(log)

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.count += len(texts)
        return self.inner.embed(texts)


# --- the export and the choice of encoder ---------------------------------------------------------------


def test_the_export_is_made_once_and_found_by_readers(xdg, export):
    meta = json.loads((export / META).read_text())
    assert meta["encoder"] == "onnx-int8" and meta["window"] == 256
    assert meta["cos_min"] >= 0.98 and meta["cos_mean"] >= 0.99
    before = (export / "model.onnx").stat().st_mtime_ns
    assert ensure_export(MODEL, xdg / "reread" / "onnx") == export  # found, not rebuilt
    assert (export / "model.onnx").stat().st_mtime_ns == before
    assert not [p for p in export.parent.iterdir() if p.name.startswith(".")], "no temporary folder left"
    assert (export / "model.onnx").stat().st_size < 30e6, "int8 weights, a quarter of fp32's 90 MB"


def test_a_concurrent_export_that_finishes_first_wins(tmp_path, monkeypatch):
    """Two exporters build in their own temporary folders; the second rename loses and its copy is dropped.
    A killed export's leftover folder is swept."""
    from ingest import onnx_export

    root = tmp_path / "cache"

    def build(name, out):
        final = root / onnx_export.model_key(onnx_export.model_dir(name), root)
        final.mkdir()  # the other process renamed its finished export into place meanwhile
        (final / META).write_text(json.dumps({"encoder": "onnx-int8", "window": 256}))
        (out / "model.onnx").write_bytes(b"ours")
        return {"encoder": "onnx-int8", "cos_min": 1.0, "cos_mean": 1.0, "texts": 0}

    monkeypatch.setattr(onnx_export, "_build", build)
    key = onnx_export.model_key(onnx_export.model_dir(MODEL), root)
    killed = root / f".{key}.killed"  # what an export killed two hours ago left
    killed.mkdir(parents=True)
    os.utime(killed, (killed.stat().st_atime - 7200, killed.stat().st_mtime - 7200))
    path = ensure_export(MODEL, root)
    assert path.parent == root and not (path / "model.onnx").exists(), "the winner's folder, untouched"
    assert sorted(p.name for p in root.iterdir()) == sorted([path.name, "keys"])


def test_readers_without_an_export_take_the_torch_path_quietly(tmp_path):
    empty = tmp_path / "no-cache"
    auto = AutoEmbedder(MODEL, "onnx", cache=empty, shared=tmp_path / "no-install-export")
    assert isinstance(auto._pick(), SentenceTransformerEmbedder) and auto.encoder == "torch"
    assert auto._model is None, "nothing loaded yet: building and naming the encoder is free"
    assert not empty.exists() or not any(p.name != "keys" for p in empty.iterdir()), "a reader never exports"


def test_the_torch_setting_uses_sentence_transformers(export):
    auto = AutoEmbedder(MODEL, "torch", cache=export.parent)
    auto.prepare()
    assert isinstance(auto._pick(), SentenceTransformerEmbedder)
    assert AutoEmbedder(MODEL, "onnx", cache=export.parent).encoder == "onnx-int8"


def test_a_texts_vector_does_not_depend_on_the_texts_beside_it(onnx):
    """int8 activations are scaled per run: texts embedded together used to move each other's vectors (cosine
    0.98), so a chunk re-embedded in another batch after an edit or a repair changed. Each text runs alone."""
    text = "Quantization lowers the numeric precision of a model's weights to save memory."
    others = ["A", "Obsidian stores notes as plain markdown files in a folder you choose. " * 6,
              "Retrieval-augmented generation fetches passages before the model answers."]
    alone = np.array(onnx.embed([text])[0])
    for batch in ([text, *others], [*others, text], [others[1], text]):
        got = np.array(onnx.embed(batch)[batch.index(text)])
        assert np.array_equal(got, alone)
