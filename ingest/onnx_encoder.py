"""The torch-free encoder: an ONNX export of the embedding model, run by onnxruntime with the Rust tokenizer."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

MODEL = "model.onnx"
TOKENIZER = "tokenizer.json"
META = "meta.json"  # written last by the export: {"encoder": "onnx-int8", "window": 256, ...}


def read_meta(root: Path) -> dict:
    return json.loads((Path(root) / META).read_text(encoding="utf-8"))


class OnnxEmbedder:
    """Same vectors as SentenceTransformerEmbedder (mean pooling over the mask, L2-normalised), without torch.

    `model_root` is an export folder (ingest/onnx_export.py): model.onnx, the model's own tokenizer.json, and
    meta.json. The session loads on first embed, so building one is free.

    Speed, measured on 2 shared cores: one intra-op thread per run is the most work per CPU-second (two threads
    on one batch spent 10-40% more CPU for the same chunks), so batches run side by side on `workers` threads
    instead; small batches of similar length pad least (8: ~72 chunks per CPU-second, 32: ~56).

    One text per run by default: the int8 model quantizes its activations with one scale per run, so a text's
    vector depended on the texts beside it in its batch (cosine down to 0.982 against the same text alone), and
    a chunk re-embedded after a repair or an edit came out different. Alone, a text always gets the vector its
    query would get, and it is no slower (help vault texts: 97 chunks per CPU-second alone, 93 in eights)."""

    def __init__(self, name: str, model_root: Path, batch_size: int = 1, workers: int | None = None):
        self.name = name
        self.root = Path(model_root)
        self.batch_size = batch_size
        self.workers = workers or min(4, os.cpu_count() or 1)
        meta = read_meta(self.root)
        self.encoder: str = meta["encoder"]  # in the index fingerprint: vectors of two encoders never mix
        self.window: int = int(meta["window"])
        self._model = None
        self._tok = None
        self._inputs: set[str] = set()

    def _load(self):
        if self._model is None:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.root / TOKENIZER))
            # the bundled tokenizer.json truncates and pads at 128: set the model's window (256) ourselves;
            # padding is done per batch below, to the batch's longest text, not to a fixed width
            tok.enable_truncation(max_length=self.window)
            tok.no_padding()
            opts = ort.SessionOptions()
            opts.log_severity_level = 3  # errors only: no "initializer unused" chatter on stderr
            opts.intra_op_num_threads = 1  # parallel across batches instead (see the class docstring)
            session = ort.InferenceSession(str(self.root / MODEL), opts, providers=["CPUExecutionProvider"])
            self._inputs = {i.name for i in session.get_inputs()}
            self._tok, self._model = tok, session
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        session = self._load()
        encodings = self._tok.encode_batch(list(texts))
        # shortest first, like sentence-transformers: a batch pads to its longest, so similar lengths waste little
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if len(batches) == 1 or self.workers == 1:
            results = [self._run(session, [encodings[i] for i in b]) for b in batches]
        else:  # onnxruntime runs concurrently on one session and releases the GIL while it does
            with ThreadPoolExecutor(min(self.workers, len(batches))) as pool:
                results = list(pool.map(lambda b: self._run(session, [encodings[i] for i in b]), batches))
        out = np.empty((len(texts), results[0].shape[1]), dtype=np.float32)
        for b, vectors in zip(batches, results, strict=True):
            out[b] = vectors
        return out.tolist()

    def _run(self, session, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)  # padding is masked out: its id does not matter
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
