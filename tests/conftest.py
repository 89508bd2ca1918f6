"""Fixtures: small vaults in tmp_path, real settings, the real MiniLM loaded once per session."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from ingest.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_NOTES = ROOT / "data" / "notes"
TEST_DATA = Path(__file__).resolve().parent / "data"
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No .env, REREAD_* or OPENAI_* of the developer's leaks into a test."""
    for key in list(os.environ):
        if key.startswith(("REREAD_", "OPENAI_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@functools.cache
def default_chunker():
    """The chunker with the bundled model's tokenizer and default settings (no torch needed)."""
    from ingest.chunker import Chunker, ChunkerConfig
    from ingest.models import WINDOW, model_dir
    from ingest.tokens import TokenCounter

    return Chunker(TokenCounter(model_dir("all-MiniLM-L6-v2") / "tokenizer.json", WINDOW), ChunkerConfig())


def write_file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_vault(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    return root


def study_session(vault: Path, rng, label: str, edited: int, gone: int, line, added: dict[str, str]) -> None:
    """A study session's changes to a vault: `edited` notes get line(rng) appended, `gone` notes go (half
    deleted, half renamed with `label` in the new name), and `added` notes are written."""
    files = sorted(vault.rglob("*.md"))
    for p in rng.sample(files, edited):
        p.write_text(p.read_text(encoding="utf-8") + line(rng), encoding="utf-8", newline="")
    leaving = rng.sample(files, gone)
    for p in leaving[:gone // 2]:
        p.unlink(missing_ok=True)
    for p in leaving[gone // 2:]:
        if p.exists():
            os.rename(p, p.with_name(f"moved-{label}-{p.name}"))
    write_vault(vault, added)


@pytest.fixture
def vault(tmp_path) -> Path:
    """A copy of the sample vault's five seed notes."""
    notes = {f"notes/{p.name}": p.read_bytes() for p in sorted(SAMPLE_NOTES.glob("*.md"))}
    return write_vault(tmp_path / "vault", notes)


@pytest.fixture
def settings(tmp_path, vault) -> Settings:
    return Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive", lock_timeout=0)


@pytest.fixture(scope="session")
def embedder():
    """The real bundled all-MiniLM-L6-v2, loaded once, through the encoder a default Assistant uses (the int8 ONNX
    export made at install; sentence-transformers without one), so a test's index and a fresh process agree."""
    from ingest.auto_embedder import AutoEmbedder

    e = AutoEmbedder("all-MiniLM-L6-v2", "onnx")
    e.embed(["warm up"])
    return e


@pytest.fixture
def assistant(settings, embedder):
    from assistant.facade import Assistant

    return Assistant(settings, embedder=embedder)


class WordHashEmbedder:
    """A fast honest fake: hashed word counts, normalised, so texts sharing words are near (no torch)."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, dim: int = 384):
        self.dim = dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        import hashlib
        import re

        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in re.findall(r"\w+", text.lower()):
                out[i, int.from_bytes(hashlib.md5(w.encode()).digest()[:4], "little") % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms == 0, 1, norms)).tolist()


@pytest.fixture
def fake_embedder():
    return WordHashEmbedder()
