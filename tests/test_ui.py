"""The Streamlit chat run headless with Streamlit's AppTest (fast: the word-hash embedder, a small vault):
ask, read the cards, follow up, export, re-index, filter; plus the passage renderer and card grouping."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest.settings import Settings
from tests.conftest import SAMPLE_NOTES, WordHashEmbedder, write_vault
from tests.fake_openai import FakeOpenAI
from tests.make_pdfs import text_pdf

APP = str(Path(__file__).resolve().parent.parent / "ui" / "app.py")
UNSAFE = ('# Prompt injection\n\nPrompt injection hides instructions inside a document the model reads. '
          'A payload: <script>window.pwned = 1</script> and <iframe srcdoc="<script>parent.pwned=2</script>">'
          '</iframe> and <img src=x onerror="window.pwned=3"> all stay text.\n')
BOOK = ["Pretraining\nBERT is pretrained as an encoder.",
        "Masked language modeling\nBERT is pretrained with masked language modeling: it predicts\n"
        "tokens hidden in its input from the words on both sides."]


def write_ui_vault(root: Path, notes: tuple[str, ...] = ("the-rise-of-ai-engineering.md",
                                                          "ai-engineering-glossary.md")) -> Path:
    """A small vault: sample notes, a two-page book on BERT, and a note that holds HTML."""
    files: dict[str, str | bytes] = {f"notes/{n}": (SAMPLE_NOTES / n).read_bytes() for n in notes}
    files["notes/prompt-injection.md"] = UNSAFE
    files["books/pretraining.pdf"] = text_pdf(BOOK, title="Pretraining Transformers", author="Reread Tests")
    return write_vault(root, files)


@pytest.fixture
def ui_assistant(tmp_path, monkeypatch):
    import streamlit as st

    import ui.session
    from assistant import Assistant

    vault = write_ui_vault(tmp_path / "vault")
    settings = Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive", lock_timeout=0)
    assistant = Assistant(settings, embedder=WordHashEmbedder())
    assistant.index()
    monkeypatch.setattr(ui.session, "build_assistant", lambda: assistant)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield assistant
    st.cache_resource.clear()


@pytest.fixture
def app(ui_assistant) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def downloads(monkeypatch) -> list[tuple[bytes, str]]:
    """What each download button would hand the browser (AppTest keeps no media after a run)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    seen: list[tuple[bytes, str]] = []
    real = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if filename:
            seen.append((path_or_data, filename))
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def text(elements) -> str:
    return " ".join(str(e.value) for e in elements).replace("\\", "")


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def test_ask_read_the_cards_follow_up_export_and_clear(app, downloads):
    ask(app, "What is tokenization?")
    assert "[1]" in text(app.markdown)
    card = app.expander[0]
    assert card.label.replace("\\", "").startswith("[1] ")
    marked = [h.value for h in app.get("html") if "<mark>" in h.value]
    assert marked and "tokenization" in re.search(r"<mark>(.*?)</mark>", marked[0], re.S).group(1)
    assert "obsidian://open?vault=vault&file=notes%2F" in text(card.markdown) + " ".join(m.value for m in card.markdown)
    assert "extractive answer" in text(app.caption)

    ask(app, "And how many words are 100 of them?")  # a follow-up: searched with its subject
    assert "searched for:" in text(app.caption) and "tokeniz" in text(app.caption).lower()
    exports = {name: data for data, name in downloads}
    one = next(data for name, data in exports.items() if "what-is-tokenization" in name).decode()
    assert re.search(r"^\d{4}-\d\d-\d\d-what-is-tokenization\.md$", next(n for n in exports if "tokeniz" in n))
    markers = set(re.findall(r"\[\^(\d+)\](?!:)", one))
    definitions = re.findall(r"^\[\^(\d+)\]:", one, re.M)
    assert markers and sorted(markers) == sorted(definitions)
    whole = downloads[-1][0].decode()  # the conversation, drawn last
    assert "What is tokenization?" in whole and "And how many words are 100 of them?" in whole
    assert "[[notes/" in whole

    app.radio(key="links").set_value("relative").run()  # for other editors, from the vault's export folder
    assert "](../notes/" in downloads[-1][0].decode() and "[[notes/" not in downloads[-1][0].decode()

    next(b for b in app.button if b.label == "Clear conversation").click().run()
    assert not app.chat_message and not app.get("download_button")


def test_reindex_shows_the_new_counts_at_once(app, ui_assistant):
    assert "4 files" in text(app.sidebar.markdown)  # two sample notes, the HTML note, the book
    vault = Path(ui_assistant.status()["vault"])
    (vault / "notes" / "new.md").write_text("# New\n\nA freshly written note about embeddings.\n", encoding="utf-8")
    next(b for b in app.sidebar.button if b.label == "Re-index").click().run()
    assert not app.exception
    assert "1 added" in text(app.sidebar.success)
    assert "5 files" in text(app.sidebar.markdown)


def test_an_unexpected_error_is_one_line_not_a_traceback(app, ui_assistant, monkeypatch, capsys):
    """A bug (here a KeyError, as a reader once raised mid re-index) is named in one line in the page; the
    traceback goes to the terminal. Asking and re-indexing alike."""
    def broken(*args, **kwargs):
        raise KeyError("source")

    monkeypatch.setattr(type(ui_assistant), "chat", broken)
    monkeypatch.setattr(type(ui_assistant), "index", broken)
    ask(app, "What is tokenization?")
    shown = text(app.error)
    assert "Something went wrong (KeyError: 'source')" in shown and "reread ui" in shown and "Traceback" not in shown
    next(b for b in app.sidebar.button if b.label == "Re-index").click().run()
    assert not app.exception and "KeyError" in text(app.sidebar.error)
    assert "Traceback" in capsys.readouterr().err


def test_filters_are_offered_from_the_index_and_limit_the_answer(app):
    by_label = {m.label: m for m in app.multiselect}
    assert {"lookup", "question"} <= set(by_label["Tags (all must hold)"].options)
    assert set(by_label["Folders (any of them)"].options) == {"books", "notes"}
    assert set(by_label["Kind"].options) == {"notes", "books (PDF)"}  # shown by label
    by_label["Kind"].select("pdf").run()
    assert "Answers only from: kind=pdf" in text(app.sidebar.caption)
    ask(app, "How is BERT pretrained?")
    labels = [e.label.replace("\\", "") for e in app.expander if e.label.startswith("\\[")]
    assert labels and all("Pretraining Transformers, p. " in label for label in labels)
    images = app.get("image")
    assert images and "cited span marked" in str(images[0].proto)


def test_a_refusal_lists_the_nearest_passages(app):
    ask(app, "What is the recipe for a sourdough starter with rye flour?")
    assert "don't seem to answer" in text(app.markdown)
    assert "The closest passages in your notes:" in text(app.caption)
    assert any(not e.label.startswith("\\[") and e.label != "Filters" for e in app.expander)


def test_an_llm_answer_streams_with_the_chosen_model(ui_assistant, monkeypatch):
    import ui.session
    from assistant import Assistant

    with FakeOpenAI() as server:
        server.reply("Tokenization breaks text into tokens [1].")
        settings = ui_assistant.settings.model_copy(update={"openai_base_url": server.base_url, "backend": "auto"})
        monkeypatch.setattr(ui.session, "build_assistant", lambda: Assistant(settings, embedder=WordHashEmbedder()))
        at = AppTest.from_file(APP, default_timeout=60).run()
        assert at.radio(key="backend").options == ["extractive", "openai"] and at.radio(key="backend").value == "openai"
        at.text_input(key="model").set_value("my-local-model").run()
        ask(at, "What is tokenization?")
    assert server.chat_requests[-1].body["model"] == "my-local-model"
    assert "Tokenization breaks text into tokens [1]" in text(at.markdown)
    assert "my-local-model" in text(at.caption)


def test_the_ui_imports_only_what_assistant_exports():
    """ui -> assistant: no module of the UI reaches past the facade into ingest or assistant's internals."""
    ui = Path(APP).parent
    for path in ui.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"\s*(?:from|import)\s+([\w.]+)", line)
            if m and m.group(1).split(".")[0] in ("assistant", "ingest"):
                assert m.group(1) == "assistant", f"{path.name}: {line.strip()}"
    import assistant

    missing = [n for n in assistant.__all__ if getattr(assistant, n, None) is None]
    assert not missing


# the passage renderer: escape first, then a safe subset of markdown; spans in <mark>

def rendered(text: str, spans=()) -> str:
    from ui.passage import render

    return render(text, spans).split("</style>", 1)[1]


class Nesting(HTMLParser):
    """Fails on a closing tag that does not close the innermost open one."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        self.tags.add(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"</{tag}> closes {self.stack}"


def parsed(html_text: str) -> Nesting:
    p = Nesting()
    p.feed(html_text)
    assert not p.stack
    return p


def test_note_html_stays_inert_text():
    out = rendered(UNSAFE, [(0, 20, "[1]")])
    assert parsed(out).tags <= {"div", "strong", "em", "s", "span", "code", "mark", "sup"}
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in out
    assert "&lt;iframe srcdoc=&quot;&lt;script&gt;" in out and "onerror=&quot;" in out


def test_markdown_reads_as_text_and_the_span_is_marked():
    note = ("## Tokens\n* ==The process of breaking text into tokens is called **tokenization==**.\n"
            "See [[Glossary#Token|the glossary]], ![[chart.svg#icon]] and [a site](http://x.example).\n"
            "> [!Note] Why _tokens_?\n---\n```\n**kept**\n```")
    s = note.index("The process")
    out = rendered(note, [(s, note.index(".\nSee"), "[1]")])
    parsed(out)
    assert "<strong>Tokens</strong>" in out and "• " in out
    assert "<sup class=\"reread-n\">[1]</sup><mark>" in out and "tokenization</span></strong></mark>" in out
    assert '<span class="reread-link">the glossary</span>' in out and "http://x.example" not in out
    assert '<span class="reread-embed">embed: chart.svg#icon</span>' in out
    assert '<strong><span class="reread-quote">Note: </span></strong>' in out and "<code>**kept**</code>" in out
    assert "**" not in out.replace("<code>**kept**</code>", "") and "==" not in out and "[[" not in out


def test_a_span_crossing_styles_and_lines_nests():
    note = "a **bold\nstill** _it_ x_y 2 * 3 \\*kept\\*"
    out = rendered(note, [(4, 12, "[2]"), (6, 16, "[3]")])  # overlapping: one mark, both labels
    parsed(out)
    assert out.count("<mark>") == 1 and "[2] [3]" in out
    assert "x_y 2 * 3 *kept*" in out  # snake_case, arithmetic and escaped stars are not emphasis


def test_citations_into_one_passage_share_a_card():
    from assistant import Citation
    from ui.grouping import card_passage, group

    def cite(n, chunk, start, end, source="notes/a.md"):
        return Citation(n, source, "A", "H", None, chunk, start, end, TEXT[start:end])

    TEXT = "Line one.\nTokens are pieces. Tokenization makes them.\nOther line.\n"
    cs = [cite(1, "c1", 10, 29), cite(2, "c1", 30, 52), cite(3, "c9", 20, 40), cite(4, "c2", 0, 9, "notes/b.md")]
    cards = group(cs)
    assert [[c.n for c in card.citations] for card in cards] == [[1, 2, 3], [4]]

    def read(c, context):
        s, e = c.start, c.end
        lead, tail = ("…" if s > context else ""), ("…" if e + context < len(TEXT) else "")
        return lead + TEXT[max(0, s - context):s], TEXT[s:e], TEXT[e:e + context] + tail

    p = card_passage(read, cards[0], context=5)
    assert [p.text[s:e] for s, e, _ in p.spans] == [c.quote for c in cards[0].citations]
    assert p.text.startswith("…\n") and not p.note  # the cut first line is dropped, whole lines remain


def test_links_and_labels():
    from ui.present import file_url, obsidian_url, plain_markdown

    assert obsidian_url("/home/me/My Vault", "notes/a b&c.md") == \
        "obsidian://open?vault=My%20Vault&file=notes%2Fa%20b%26c.md"
    assert file_url("/v", "notes/a (1).md") == "file:///v/notes/a%20%281%29.md"
    shown = plain_markdown("Owls ![t](http://evil.example/t.png) <img src=x> :red[x] \\[12\\] [1]")
    assert "![" not in shown and "](" not in shown and "\\<img" in shown and "\\:red" in shown
    assert "\\[12\\]" in shown and "\\[1\\]" in shown


def test_facets_come_from_what_is_indexed(tmp_path):
    from assistant import Assistant

    vault = write_ui_vault(tmp_path / "v", notes=("ai-engineering-glossary.md",))
    (vault / "notes" / "deep").mkdir()
    shutil.copy(SAMPLE_NOTES / "ai-engineering-book-notes.md", vault / "notes" / "deep" / "b.md")
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i", lock_timeout=0), embedder=WordHashEmbedder())
    assert not a.facets().sources
    a.index()
    f = a.facets()
    assert f.folders == ("books", "notes", "notes/deep") and f.kinds == ("note", "pdf")
    assert "non-fiction" in f.tags and "lookup" in f.tags
    assert "books/pretraining.pdf" in f.sources


def rendered_tags(md: str) -> list[str]:
    """The links and images a markdown body would render as (CommonMark, which Streamlit's markdown extends)."""
    from markdown_it import MarkdownIt

    return re.findall(r"<(?:a|img)\b[^>]*>", MarkdownIt("commonmark").render(md))


def test_file_and_folder_names_in_reindex_messages_stay_text(tmp_path, monkeypatch):
    """Re-index messages name files and folders, and st.warning, st.info and st.error render markdown: a note
    named [x](http://e.com).md, a vault folder named [v](https:e.com), show as written, never as links."""
    import streamlit as st

    import ui.session
    from assistant import Assistant

    first = write_ui_vault(tmp_path / "first")
    vault = write_ui_vault(tmp_path / "[v](https:e.com)")
    write_vault(vault, {"[x](http://e.com).md": b"\x00\x01 not a note \xff"})  # folder "[x](http:", "e.com).md"
    assistant = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive", lock_timeout=0),
                          embedder=WordHashEmbedder())
    assistant.index(vault=first)
    monkeypatch.setattr(ui.session, "build_assistant", lambda: assistant)
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()

    next(b for b in at.sidebar.button if b.label == "Re-index").click().run()  # a new vault: rebuilt
    assert not at.exception
    shown = [e.value for e in [*at.sidebar.info, *at.sidebar.warning]]
    assert any("[v](https:e.com)" in s.replace("\\", "") for s in shown)  # the rebuild notice
    assert any("[x](http:/e.com).md" in s.replace("\\", "") for s in shown)  # the file that failed
    assert [s for s in shown if rendered_tags(s)] == []

    vault.rename(tmp_path / "gone")
    next(b for b in at.sidebar.button if b.label == "Re-index").click().run()  # the vault is not there: an error
    errors = [e.value for e in at.sidebar.error]
    assert errors and "[v](https:e.com)" in errors[0].replace("\\", "")
    assert rendered_tags(errors[0]) == []
    st.cache_resource.clear()
