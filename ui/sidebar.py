"""The sidebar: vault and index status, re-index, filters, backend and model, passages per question."""

from __future__ import annotations

import streamlit as st

from assistant import LINK_STYLES, Assistant, CallbackProgress, Facets, Filters, report_text
from ui.present import failure, plain_markdown
from ui.session import Options

KIND_LABELS = {"note": "notes", "pdf": "books (PDF)"}


def sidebar(assistant: Assistant) -> tuple[Options, dict]:
    """The choices for the next question, and the index status (read after a re-index, so it is the new one)."""
    with st.sidebar:
        st.header("reread")
        box = st.container()  # drawn above the button, filled after it
        if st.button("Re-index", help="Index what changed in the vault since the last run"):
            reindex(assistant)
        status = assistant.status()
        with box:
            show_status(status)
        return choices(assistant, status), status


def show_status(s: dict) -> None:
    st.markdown(f"**Vault:** {plain_markdown(s['vault'])}")
    failed = f", {s['failed']} failed" if s.get("failed") else ""
    st.markdown(f"**Indexed:** {s['notes']} files, {s['chunks']} chunks{failed}")
    st.caption(plain_markdown(f"model {s['embed_model']} · last indexed {s['last_indexed'] or 'never'}"))
    if not s["last_indexed"]:
        st.info("Nothing is indexed yet: press Re-index.")


def reindex(assistant: Assistant) -> None:
    bar = st.progress(0.0, text="indexing…")
    progress = CallbackProgress(lambda done, total, label: bar.progress(
        min(1.0, done / total) if total else 1.0, text=plain_markdown(f"{label} {done}/{total}")))
    try:
        report = assistant.index(progress=progress)
    except Exception as e:  # ours in one line; anything else too, not as a traceback in the page
        bar.empty()
        st.error(plain_markdown(failure(e)))  # messages name files and folders: text, never markdown
        return
    bar.empty()
    for message in report.messages:  # e.g. a rebuild because the model changed
        st.info(plain_markdown(message))
    summary, *problems = report_text(report).split("\n")
    st.success(summary)
    for line in problems:
        st.warning(plain_markdown(line))


@st.cache_data(max_entries=8, show_spinner=False)
def _facets(_assistant: Assistant, index_dir: str, last_indexed: str | None) -> Facets:
    return _assistant.facets()


def choices(assistant: Assistant, status: dict) -> Options:
    s = assistant.settings
    f = _facets(assistant, status["index_dir"], status["last_indexed"])
    with st.expander("Filters", expanded=False):
        tags = st.multiselect("Tags (all must hold)", f.tags, key="f_tags", placeholder="any tag")
        kinds = st.multiselect("Kind", f.kinds, key="f_kinds", format_func=lambda k: KIND_LABELS.get(k, k),
                               placeholder="notes and books")
        folder = st.multiselect("Folders (any of them)", f.folders, key="f_folder", placeholder="any folder")
        source = st.multiselect("Notes and books (any of them)", f.sources, key="f_source",
                                placeholder="all of them")
    filters = Filters(tags=tuple(tags), kinds=tuple(kinds), folders=tuple(folder), sources=tuple(source))
    if filters:
        st.caption(plain_markdown("Answers only from: " + described(filters)))
    default = assistant.backend()
    backends = ["extractive"] + (["openai"] if "openai" in (default, assistant.backend("auto")) else [])
    backend = st.radio("Answers by", backends, index=backends.index(default), key="backend", horizontal=True,
                       help="openai: any OpenAI-compatible server set in OPENAI_API_KEY / OPENAI_BASE_URL")
    model = st.text_input("Model", s.llm_model, key="model") if backend == "openai" else ""
    k = st.slider("Passages per question", 1, 20, min(20, s.top_k), key="top_k")
    links = st.radio("Links in exports", LINK_STYLES, key="links", horizontal=True,
                     help="wikilink: [[note#Heading]] for Obsidian; relative: [title](../notes/x.md) for other "
                          f"editors, relative to the vault's {s.export_folder}/ folder")
    return Options(k=k, filters=filters, backend=backend, model=model.strip(), links=links,
                   export_folder=s.export_folder)


def described(f: Filters) -> str:
    """"tag=a, kind=pdf": the filters as --filter would take them."""
    pairs = ([("tag", t) for t in f.tags] + [("folder", x) for x in f.folders] + [("kind", k) for k in f.kinds]
             + [("source", x) for x in f.sources])
    return ", ".join(f"{key}={value}" for key, value in pairs)
