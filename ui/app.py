"""reread's browser chat: ask, read the answer, open each source with the cited span highlighted."""

from __future__ import annotations

import streamlit as st

from assistant.citations import location
from assistant.facade import Assistant
from assistant.render import BACKEND_NOTE
from ingest.errors import RereadError
from ingest.progress import CallbackProgress
from ingest.settings import load_settings
from ingest.types import Answer
from ui.present import highlighted, plain_markdown


@st.cache_resource
def get_assistant() -> Assistant:
    """One Assistant per server process: the embedding model and the store are loaded once."""
    return Assistant(load_settings())


def show_sources(assistant: Assistant, answer: Answer) -> None:
    for c in answer.citations:
        with st.expander(plain_markdown(f"[{c.n}] {c.title} — {location(c)}")):
            try:
                before, quote, after = assistant.passage(c)
            except (OSError, RereadError, IndexError) as e:
                before, quote, after = "", c.quote, ""
                st.caption(f"the source could not be re-read ({e}); showing the quote as indexed")
            st.html(highlighted(before, quote, after))  # literal text: no markdown pass over the note


def show_nearest(answer: Answer) -> None:
    """A refusal still shows what came closest, so the reader can judge for themselves."""
    st.caption("The closest passages in your notes:")
    for h in answer.nearest:
        c = h.chunk
        where = c.source + (f", p. {c.page}" if c.page else "") + (f" > {c.heading}" if c.heading else "")
        with st.expander(plain_markdown(f"{c.title} — {where}")):
            st.html(highlighted("", "", c.text))


def show_answer(assistant: Assistant, answer: Answer) -> None:
    st.markdown(plain_markdown(answer.answer) if answer.found else f"_{plain_markdown(answer.answer)}_")
    if answer.standalone:
        st.caption(plain_markdown(f"searched for: {answer.standalone}"))
    st.caption(BACKEND_NOTE.get(answer.backend, answer.backend))
    show_sources(assistant, answer)
    if not answer.found and answer.nearest:
        show_nearest(answer)


def sidebar(assistant: Assistant) -> None:
    with st.sidebar:
        st.header("reread")
        status = assistant.status()
        st.write(f"**Vault:** `{status['vault']}`")
        st.write(f"**Indexed:** {status['notes']} files, {status['chunks']} chunks")
        st.caption(f"model {status['embed_model']} · last indexed {status['last_indexed'] or 'never'}")
        if st.button("Re-index", help="Index what changed in the vault since the last run"):
            bar = st.progress(0.0, text="indexing…")
            progress = CallbackProgress(lambda done, total, label: bar.progress(
                done / total if total else 1.0, text=f"{label} {done}/{total}"))
            try:
                report = assistant.index(progress=progress)
            except RereadError as e:
                st.error(str(e))
            else:
                bar.empty()
                for message in report.messages:  # e.g. a rebuild because the model changed
                    st.info(message)
                st.success(f"{report.added} added, {report.updated} updated, {report.renamed} renamed, "
                           f"{report.removed} removed, {report.unchanged} unchanged ({report.seconds:.1f}s)")
                for f in report.failed:
                    st.warning(f"{f['source']}: {f['error']}")
        st.session_state.top_k = st.slider("Passages per question", 1, 20, assistant.settings.top_k)


def main() -> None:
    st.set_page_config(page_title="reread", page_icon="📚")
    try:
        assistant = get_assistant()
    except RereadError as e:
        st.error(str(e))
        return
    sidebar(assistant)
    st.session_state.setdefault("history", [])
    for question, answer in st.session_state.history:
        with st.chat_message("user"):
            st.text(question)
        with st.chat_message("assistant"):
            show_answer(assistant, answer)  # history

    question = st.chat_input("Ask your notes")
    if not question:
        return
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        # earlier turns, so a follow-up ("and its cost?") is searched with its subject
        history = [(q, a.answer) for q, a in st.session_state.history]
        try:
            answer = None
            if assistant.backend() == "extractive":
                with st.spinner("Searching your notes…"):
                    answer = assistant.chat(history, question, st.session_state.top_k)
            else:
                placeholder = st.empty()
                streamed = ""
                for part in assistant.chat_stream(history, question, st.session_state.top_k):
                    if isinstance(part, Answer):
                        answer = part
                    else:
                        streamed += part
                        placeholder.text(streamed)
                placeholder.empty()
        except RereadError as e:
            st.error(str(e))
            return
        assert answer is not None
        show_answer(assistant, answer)
    st.session_state.history.append((question, answer))


main()
