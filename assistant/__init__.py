"""Retrieval, answers with citations, LLM backends, export, the CLI, and the Assistant facade.

What the UI (or any other front end) needs is exported here, so it imports nothing past this package.
The names load on first use: `reread status` and a no-change `reread index` import assistant.cli without
paying for the facade.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "Assistant": "assistant.facade",
    "BACKENDS": "assistant.facade",
    "Facets": "assistant.facets",
    "location": "assistant.citations",
    "BACKEND_NOTE": "assistant.render",
    "report_text": "assistant.render",
    "answer_markdown": "assistant.export",
    "conversation_markdown": "assistant.export",
    "write_export": "assistant.export",
    "slug": "assistant.export",
    "LINK_STYLES": "assistant.export",
    "PageImage": "assistant.page_image",
    "render_page": "assistant.page_image",
    "Settings": "ingest.settings",
    "load_settings": "ingest.settings",
    "RereadError": "ingest.errors",
    "CallbackProgress": "ingest.progress",
    "Answer": "ingest.types",
    "Citation": "ingest.types",
    "Hit": "ingest.types",
    "Chunk": "ingest.types",
    "Filters": "ingest.types",
    "IndexReport": "ingest.types",
}

__all__ = [
    "Answer",
    "answer_markdown",
    "Assistant",
    "BACKEND_NOTE",
    "BACKENDS",
    "CallbackProgress",
    "Chunk",
    "Citation",
    "conversation_markdown",
    "Facets",
    "Filters",
    "Hit",
    "IndexReport",
    "LINK_STYLES",
    "load_settings",
    "location",
    "PageImage",
    "render_page",
    "report_text",
    "RereadError",
    "Settings",
    "slug",
    "write_export",
]

if TYPE_CHECKING:
    from ingest.errors import RereadError
    from ingest.progress import CallbackProgress
    from ingest.settings import Settings, load_settings
    from ingest.types import Answer, Chunk, Citation, Filters, Hit, IndexReport

    from .citations import location
    from .export import LINK_STYLES, answer_markdown, conversation_markdown, slug, write_export
    from .facade import BACKENDS, Assistant
    from .facets import Facets
    from .page_image import PageImage, render_page
    from .render import BACKEND_NOTE, report_text


def __getattr__(name: str) -> Any:
    """PEP 562: import the module that holds the name on first use."""
    if name not in _WHERE:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
