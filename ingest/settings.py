"""The one configuration object, read from the environment and .env; built once and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REREAD_", env_file=".env", extra="ignore",
                                      populate_by_name=True)

    notes_dir: Path = Field(Path("data"), description="The vault root (notes/ and books/ inside).")
    index_dir: Path = Field(Path("data/index"), description="Everything reread writes for an index.")
    embed_model: str = Field(DEFAULT_EMBED_MODEL,
                             description="all-MiniLM-L6-v2 (bundled) or a local sentence-transformers folder.")
    embed_backend: Literal["onnx", "torch"] = Field(
        "onnx", description="onnx: an int8 ONNX export of the model, made once at `reread index`, no torch to "
                            "search or ask; torch: sentence-transformers. Changing it rebuilds the index.")
    backend: Literal["auto", "openai", "extractive"] = "auto"
    openai_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = Field(60.0, gt=0)
    llm_context_tokens: int = Field(6000, ge=500, description="The prompt's budget: sources, history, question.")
    chroma_host: str | None = None
    chroma_port: int = Field(8000, gt=0, lt=65536)
    top_k: int = Field(5, ge=1, le=100)
    chunk_size: int = Field(256, ge=32, le=256, description="Most word pieces a chunk embeds, header included.")
    chunk_overlap: int = Field(40, ge=0, le=128, description="Word pieces of whole sentences repeated.")
    max_file_mb: float = Field(100.0, gt=0, description="Books run large; bigger files are named in `failed`.")
    export_folder: str = Field("reread-answers", description="Where exported answers go, inside the vault.")
    index_exports: bool = Field(False, description="Index exported answers too (off: answers never cite themselves).")
    lock_timeout: float = Field(10.0, ge=0, description="Seconds a second writer waits for the lock.")

    @field_validator("openai_api_key", "openai_base_url", "chroma_host", mode="before")
    @classmethod
    def _blank_is_none(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("embed_model", mode="before")
    @classmethod
    def _model_exists(cls, v):
        """A typo or a missing folder fails here, in one line, before `reread index` touches the index: the model
        itself loads only once there is text to embed, long after a rebuild has started."""
        name = v.strip() if isinstance(v, str) else v
        if not isinstance(name, str) or name in (DEFAULT_EMBED_MODEL, f"sentence-transformers/{DEFAULT_EMBED_MODEL}"):
            return name
        if not name:
            raise ValueError(f"it is empty; unset it for the bundled {DEFAULT_EMBED_MODEL} or name a model folder")
        path = Path(name).expanduser()
        if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
            raise ValueError(f"it is neither the bundled {DEFAULT_EMBED_MODEL} nor a sentence-transformers folder "
                             "on disk (nothing is downloaded)")
        return name

    @property
    def api_key(self) -> str | None:
        return self.openai_api_key.get_secret_value() if self.openai_api_key else None

    @property
    def store_mode(self) -> str:
        return "server" if self.chroma_host else "embedded"


ENV_NAMES = {"openai_api_key": "OPENAI_API_KEY", "openai_base_url": "OPENAI_BASE_URL"}


def load_settings(**overrides) -> Settings:
    """Build Settings, turning a validation error into one line that names the variable to fix."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        name = ENV_NAMES.get(field, f"REREAD_{field.upper()}")
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}={err.get('input')!r} is not valid ({msg}); "
                          f"fix it in the environment or .env (see .env.example)") from None
