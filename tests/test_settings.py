"""One settings object: .env.example documents every setting, and bad values name the variable to fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.errors import ConfigError
from ingest.settings import ENV_NAMES, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def env_name(field: str) -> str:
    return ENV_NAMES.get(field, f"REREAD_{field.upper()}")


def test_env_example_lists_every_setting_with_its_default():
    lines = [ln for ln in EXAMPLE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    listed = dict(ln.split("=", 1) for ln in lines)
    assert set(listed) == {env_name(f) for f in Settings.model_fields}
    defaults = Settings()
    for field in Settings.model_fields:
        value = getattr(defaults, field)
        if isinstance(value, float):
            assert float(listed[env_name(field)]) == value, field
        elif value is not None:
            assert listed[env_name(field)] == str(value), field


def test_the_example_as_a_dotenv_gives_the_defaults(tmp_path):
    """Copying .env.example to .env changes nothing: blank keys and hosts mean unset."""
    shutil.copy(EXAMPLE, tmp_path / ".env")
    s = load_settings()
    assert s == Settings(_env_file=None)
    assert s.api_key in (None, "") and s.openai_base_url is None and s.store_mode == "embedded"


@pytest.mark.parametrize(("var", "value"), [("REREAD_BACKEND", "gpt"), ("REREAD_TOP_K", "0"),
                                            ("REREAD_CHUNK_SIZE", "big"), ("REREAD_CHROMA_PORT", "70000")])
def test_a_bad_value_names_its_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=var):
        load_settings()


def test_a_bad_value_in_dotenv_is_a_config_error(tmp_path):
    (tmp_path / ".env").write_text("REREAD_BACKEND=sometimes\n")
    with pytest.raises(ConfigError, match="REREAD_BACKEND='sometimes'.*fix it"):
        load_settings()
