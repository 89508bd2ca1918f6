"""`--filter KEY=VALUE` as a Filters value: tag, folder, kind (note|pdf), source; repeatable, all must hold."""

from __future__ import annotations

from ingest.types import Filters

KEYS = {"tag": "tags", "folder": "folders", "kind": "kinds", "source": "sources"}


def parse_filters(items: list[str] | None) -> Filters:
    """Raises ValueError with a one-line message for an unknown key or a malformed item."""
    found: dict[str, list[str]] = {v: [] for v in KEYS.values()}
    for item in items or []:
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise ValueError(f"{item!r} is not KEY=VALUE (keys: {', '.join(KEYS)}), e.g. --filter tag=llm")
        if key not in KEYS:
            raise ValueError(f"unknown filter key {key!r} in {item!r}; use one of {', '.join(KEYS)}")
        if key == "kind" and value not in ("note", "pdf"):
            raise ValueError(f"kind must be note or pdf, not {value!r}")
        if key == "tag":
            value = value.lstrip("#")
        if key in ("folder", "source"):
            value = value.replace("\\", "/").strip("/")
        found[KEYS[key]].append(value)
    return Filters(**{k: tuple(v) for k, v in found.items()})
