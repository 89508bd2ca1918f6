"""The conversation: earlier turns, the new question answered (streamed when an LLM writes it), downloads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from assistant import BACKEND_NOTE, Answer, Assistant, answer_markdown, conversation_markdown, slug
from ui.cards import show_nearest, show_sources
from ui.present import failure, plain_markdown
from ui.session import Options, Turn, clear, turns


def show_turn(assistant: Assistant, turn: Turn, i: int, opts: Options, vault: Path) -> None:
    with st.chat_message("user"):
        st.markdown(plain_markdown(turn.question))
    with st.chat_message("assistant"):
        show_answer(assistant, turn.answer, vault)
        export_button(turn, i, opts, vault)


def show_answer(assistant: Assistant, answer: Answer, vault: Path) -> None:
    text = plain_markdown(answer.answer)
    st.markdown(text if answer.found else f"_{text}_")
    if answer.standalone:
        st.caption(plain_markdown(f"searched for: {answer.standalone}"))
    note = BACKEND_NOTE.get(answer.backend, answer.backend)
    st.caption(plain_markdown(note + (f" · {answer.model}" if answer.model else "")))
    show_sources(assistant, answer.citations, vault)
    if not answer.found and answer.nearest:
        show_nearest(answer.nearest, vault)


def ask(assistant: Assistant, question: str, opts: Options, vault: Path) -> Turn | None:
    """Answer the question in the context of the conversation so far; None (and an error shown) if it fails."""
    asked_at = dt.datetime.now().astimezone().replace(microsecond=0)
    with st.chat_message("user"):
        st.markdown(plain_markdown(question))
    with st.chat_message("assistant"):
        # earlier turns, so a follow-up ("and its cost?") is searched with its subject
        history = [(t.question, t.answer.answer) for t in turns()]
        bot = assistant.using_model(opts.model) if opts.backend == "openai" else assistant
        try:
            if opts.backend == "extractive":
                with st.spinner("Searching your notes…"):
                    answer = bot.chat(history, question, opts.k, opts.backend, opts.filters)
            else:
                answer = streamed(bot.chat_stream(history, question, opts.k, opts.backend, opts.filters))
        except Exception as e:  # ours in one line; anything else too, not as a traceback in the page
            st.error(plain_markdown(failure(e)))
            return None
        turn = Turn(question, answer, asked_at)
        show_answer(assistant, answer, vault)
        export_button(turn, len(turns()), opts, vault)
    return turn


def streamed(parts) -> Answer:
    """Show the LLM's text as it arrives (as plain text: it may quote a note), then return the final Answer."""
    placeholder = st.empty()
    text, answer = "", None
    for part in parts:
        if isinstance(part, Answer):
            answer = part
        else:
            text += part
            placeholder.markdown(plain_markdown(text) + " ▌")
    placeholder.empty()
    assert answer is not None, "chat_stream ends with its Answer"
    return answer


def export_button(turn: Turn, i: int, opts: Options, vault: Path) -> None:
    data = answer_markdown(turn.answer, asked_at=turn.asked_at, links=opts.links, vault_root=vault,
                           export_dir=vault / opts.export_folder)
    st.download_button("Download as markdown", data, file_name=file_name(turn), mime="text/markdown",
                       key=f"export-{i}", on_click="ignore", icon=":material/download:")


def conversation_buttons(opts: Options, vault: Path) -> None:
    """Clear the conversation, or download it whole (named after its first question)."""
    # a callback: it runs before the next rerun draws the history, wherever the button sits
    st.button("Clear conversation", on_click=clear, disabled=not turns(), help="Start again: follow-ups forget it")
    if not turns():
        return
    first = turns()[0]
    data = conversation_markdown([t.answer for t in turns()], asked_at=first.asked_at, links=opts.links,
                                 vault_root=vault, export_dir=vault / opts.export_folder)
    st.download_button("Download the conversation", data, file_name=file_name(first), mime="text/markdown",
                       key="export-all", on_click="ignore", icon=":material/download:")


def file_name(turn: Turn) -> str:
    return f"{turn.asked_at:%Y-%m-%d}-{slug(turn.question)}.md"
