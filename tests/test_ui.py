"""The Streamlit chat, run headless with Streamlit's AppTest: ask, see the answer and its sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "ui" / "app.py")


@pytest.fixture
def app(monkeypatch, settings, assistant):
    assistant.index()
    monkeypatch.setenv("REREAD_NOTES_DIR", str(settings.notes_dir))
    monkeypatch.setenv("REREAD_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("REREAD_BACKEND", "extractive")
    import streamlit as st

    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    yield at
    st.cache_resource.clear()


def test_chat_answers_with_highlighted_sources(app):
    app.run()
    assert not app.exception
    assert "5 files" in " ".join(m.value for m in app.sidebar.markdown)
    app.chat_input[0].set_value("What is tokenization?").run()
    assert not app.exception
    assert "[1]" in " ".join(m.value for m in app.markdown).replace("\\", "")
    assert any("<mark>" in h.value for h in app.html)
    assert any("extractive" in c.value for c in app.caption)
    assert app.expander and app.expander[0].label.replace("\\", "").startswith("[1]")


def test_note_text_is_escaped_in_the_highlighted_passage():
    """A note holding HTML shows as text: only reread's own <mark> and <div> are markup."""
    from ui.present import highlighted

    out = highlighted("<script>alert(1)</script> before ", "the <b>quote</b> & more", " <img src=x onerror=y>")
    assert "<script>" not in out and "<img" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "<mark>the &lt;b&gt;quote&lt;/b&gt; &amp; more</mark>" in out


def test_note_text_in_answers_and_labels_is_not_markdown():
    """An image or link written in a note (or by an LLM) shows as text; nothing is fetched by the browser."""
    from ui.present import plain_markdown

    shown = plain_markdown("Owls ![t](http://evil.example/t.png) <img src=x> [a](http://x) \\[12\\] [1]")
    assert "![" not in shown and "](" not in shown and "\\<img" in shown
    assert "\\[12\\]" in shown and "\\[1\\]" in shown  # literal brackets, shown as [12] and [1]
