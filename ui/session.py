"""What one browser session holds: the shared Assistant, its conversation, and the choices made in the sidebar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import streamlit as st

from assistant import Answer, Assistant, Filters, load_settings


def build_assistant() -> Assistant:
    """The real parts from the settings in the environment and .env."""
    return Assistant(load_settings())


@st.cache_resource(show_spinner="Loading the index…")
def get_assistant() -> Assistant:
    """One Assistant per server process: the embedding model and the store are loaded once."""
    return build_assistant()


@dataclass
class Turn:
    question: str
    answer: Answer
    asked_at: dt.datetime


@dataclass
class Options:
    """How the next question is answered and exported, as chosen in the sidebar."""

    k: int = 5
    filters: Filters = field(default_factory=Filters)
    backend: str = "extractive"
    model: str = ""
    links: str = "wikilink"
    export_folder: str = "reread-answers"  # inside the vault: where a download is meant to be saved


def turns() -> list[Turn]:
    return st.session_state.setdefault("turns", [])


def clear() -> None:
    st.session_state.turns = []
