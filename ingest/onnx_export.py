"""The ONNX export of the embedding model: made once, locally, from the weights on disk.

Where: <root>/<key>/, the key being a hash of the model folder's content and of this recipe. The install (make)
runs `python -m ingest.onnx_export`, which makes it under the environment's share/reread/onnx/, so every index
uses it; without one, `reread index` makes it in the index directory's models/ (reread writes nowhere else,
DESIGN). Two processes exporting at once each build in their own temporary folder and rename it into place; the
loser drops its copy. Only the install and `reread index` export (they load torch anyway); readers only look.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from .errors import RereadError
from .models import model_dir, window
from .onnx_encoder import META, MODEL, TOKENIZER, OnnxEmbedder

# A change to the recipe that changes the numbers must also rename the encoders below ("onnx-int8-2"): the name
# is in the index fingerprint, so indexes rebuild rather than mix vectors of the old and the new export.
RECIPE = "minilm-onnx-1: opset 17, eager attention, dynamic int8 per-channel weights (QInt8)"
ENCODERS = ("onnx-int8", "onnx-fp32")
OPSET = 17
MIN_COS, MEAN_COS = 0.98, 0.99  # int8 must hold these against sentence-transformers, or the fp32 export is used
FP32_MIN_COS = 0.999
INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# Checked at export against sentence-transformers: prose, questions, code, lists, other scripts, and a text
# past 128 word pieces (the bundled tokenizer.json's own limit) and past the 256-piece window.
_PARA = ("Retrieval-augmented generation grounds a language model's answer in passages fetched from an index. "
         "The passages are chosen by embedding similarity, optionally fused with a lexical score such as BM25, "
         "and the model is asked to answer only from them, citing each claim. ")
SAMPLES = [
    "What is tokenization?", "How long may the first line of a commit message be?",
    "Why does the chapter warn against evaluating on the training set?",
    "What did I note about prompt caching and its cost?", "Which book recommends deliberate practice over talent?",
    "Temperature 0 makes the model pick the most likely token every time.",
    "A higher temperature makes the model's output more creative and less predictable.",
    "Model as a service: the provider hosts the weights and bills per token; you trade control for speed.",
    "My takeaway: write the summary before re-reading the highlights, then compare.",
    "Sleep consolidates what was learned during the day, according to the chapter.",
    "Chapter 3 > Evaluation: use exact match and F1 on held-out questions; report the variance across seeds.",
    "def embed(texts: list[str]) -> list[list[float]]:\n    return model.encode(texts).tolist()",
    "- spaced repetition\n- deliberate practice\n- note-taking at the end of each chapter",
    "Key ideas\n- Feedback loops need short cycles.\n- Measure before you optimise.",
    "> The best way to predict the future is to invent it.", "Kahneman: System 1 is fast; System 2 is slow.",
    "La mémoire de travail est limitée à quelques éléments à la fois.", "Die Aufmerksamkeit ist ein knappes Gut.",
    "注意力是稀缺资源。", "#book #to-review [[Scaling laws notes 12]]", "spaced repetition",
    "The author argues that incentives shape behaviour.", _PARA * 2, _PARA * 5,
]


class ExportFailed(RereadError):
    """The export could not be made or did not match sentence-transformers: the torch encoder is used instead."""


def _recipe() -> bytes:
    """Everything that decides what the export holds, for its cache key: a change here makes a new export."""
    return json.dumps([RECIPE, OPSET, MIN_COS, MEAN_COS, FP32_MIN_COS, SAMPLES]).encode()


def cache_root() -> Path:
    """The export made at install: beside the environment reread runs in."""
    return Path(sys.prefix) / "share" / "reread" / "onnx"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def model_key(folder: Path, root: Path | None = None) -> str:
    """A hash of the model folder's content and the recipe. Hashing 90 MB of weights costs ~0.1 CPU-s, so the
    result is remembered under a stamp of the files' paths, sizes and mtimes: a fresh reader pays a stat."""
    folder = Path(folder).resolve()
    root = root or cache_root()
    files = _files(folder)
    stamp = hashlib.sha256(_recipe())
    for p in files:
        st = p.stat()
        stamp.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    memo = root / "keys" / stamp.hexdigest()[:32]
    try:
        return memo.read_text(encoding="utf-8").strip()
    except OSError:
        pass
    h = hashlib.sha256(_recipe())
    for p in files:
        digest = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        h.update(f"{p.relative_to(folder).as_posix()}\0{digest.hexdigest()}\n".encode())
    key = h.hexdigest()[:32]
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
        tmp.write_text(key, encoding="utf-8")
        os.replace(tmp, memo)
    except OSError:
        pass  # a read-only cache: the next reader hashes again, nothing worse
    return key


def find_export(name: str, root: Path | None = None) -> Path | None:
    """The finished export for this model, or None; never builds one."""
    root = root or cache_root()
    path = root / model_key(model_dir(name), root)
    return path if (path / META).is_file() else None


def ensure_export(name: str, root: Path | None = None, log: Callable[[str], None] = lambda m: None) -> Path:
    """The export for this model, made now if missing (torch and onnx are imported only then)."""
    import importlib.util

    root = root or cache_root()
    found = find_export(name, root)
    if found is not None:
        return found
    final = root / model_key(model_dir(name), root)
    failed = final.with_name(final.name + ".failed")
    if failed.is_file():  # tried and failed with this model and recipe: every `reread index` would pay it again
        raise ExportFailed(failed.read_text(encoding="utf-8").strip() + f" (delete {failed} to try again)")
    if importlib.util.find_spec("onnx") is None:
        raise ExportFailed("the ONNX export needs the onnx package (pip install onnx)")
    log(f"exporting the embedding model {name} to ONNX, once, into {final}")
    for stale in root.glob(f".{final.name}.*"):  # a killed export's folder: an export takes a minute, not an hour
        if stale.is_dir() and time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
        tmp.chmod(0o755)  # mkdtemp makes it private; the finished export is as readable as the cache around it
    except OSError as e:
        raise ExportFailed(f"cannot write the ONNX export under {root} ({e}); make the index directory "
                           "writable, or set REREAD_EMBED_BACKEND=torch") from None
    try:
        meta = _build(name, tmp)
        try:
            os.rename(tmp, final)  # atomic: readers see no folder or a finished one
        except OSError:
            if not (final / META).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished first; its copy is as good
    except Exception as e:
        shutil.rmtree(tmp, ignore_errors=True)
        err = e if isinstance(e, ExportFailed) else ExportFailed(f"the ONNX export failed ({type(e).__name__}: {e})")
        try:
            failed.write_text(str(err), encoding="utf-8")
        except OSError:
            pass
        raise err from e
    log(f"ONNX export ready: {meta['encoder']}, cosine to sentence-transformers min {meta['cos_min']:.4f} "
        f"mean {meta['cos_mean']:.4f} on {meta['texts']} texts")
    return final


def _build(name: str, out: Path) -> dict:
    """Export fp32, quantize per channel to int8, keep int8 if it holds the cosine bars, else fp32."""
    import numpy as np

    from .embedder import SentenceTransformerEmbedder

    ref = SentenceTransformerEmbedder(name)
    st = ref._load()
    kinds = [type(m).__name__ for m in st]
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
        raise ExportFailed(f"the model's modules are {kinds}; the ONNX path covers Transformer, Pooling, Normalize")
    expected = np.asarray(ref.embed(SAMPLES), dtype=np.float32)
    shutil.copyfile(model_dir(name) / TOKENIZER, out / TOKENIZER)
    fp32, int8 = out / "fp32.onnx", out / "int8.onnx"
    _export(st[0].auto_model, fp32)
    _quantize(fp32, int8)
    meta = {"model": name, "recipe": RECIPE, "window": window(name), "texts": len(SAMPLES)}
    candidates = ((int8, ENCODERS[0], MIN_COS, MEAN_COS), (fp32, ENCODERS[1], FP32_MIN_COS, 0))
    for path, encoder, lo, mean_lo in candidates:
        os.replace(path, out / MODEL)
        (out / META).write_text(json.dumps({**meta, "encoder": encoder}), encoding="utf-8")
        cos = (np.asarray(OnnxEmbedder(name, out).embed(SAMPLES), dtype=np.float32) * expected).sum(axis=1)
        if cos.min() >= lo and cos.mean() >= mean_lo:
            meta |= {"encoder": encoder, "cos_min": float(cos.min()), "cos_mean": float(cos.mean())}
            (out / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
            fp32.unlink(missing_ok=True)
            return meta
        (out / META).unlink()
        meta[f"{encoder}_cos"] = [float(cos.min()), float(cos.mean())]
    raise ExportFailed(f"the ONNX export does not match sentence-transformers (min, mean cosine: {meta})")


def _export(model, path: Path) -> None:
    import torch

    class Hidden(torch.nn.Module):
        """The transformer's last hidden state: pooling and normalising happen in numpy, over the mask."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    # eager attention exports to plain ops; sdpa's mask code exports with a fragile index and is no faster
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    else:
        model.config._attn_implementation = "eager"
    model.eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {n: {0: "batch", 1: "sequence"} for n in (*INPUTS, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Hidden(model), (ids, ids, torch.zeros_like(ids)), str(path), dynamo=False,
                          input_names=list(INPUTS), output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True)


def _quantize(src: Path, dst: Path) -> None:
    root = logging.getLogger()
    quiet = logging.NullHandler()  # the quantizer warns through the root logger, which would then print forever
    level = root.level
    root.addHandler(quiet)
    root.setLevel(logging.ERROR)
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8)
    finally:
        root.removeHandler(quiet)
        root.setLevel(level)


if __name__ == "__main__":  # the install step: `python -m ingest.onnx_export [MODEL]`
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        print(ensure_export(sys.argv[1] if len(sys.argv) > 1 else "all-MiniLM-L6-v2", cache_root(), print))
    except ExportFailed as e:  # reread still works, on torch: say so, do not fail the install
        print(f"no ONNX export ({e}); reread will embed with sentence-transformers (torch)")
