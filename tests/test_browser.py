"""The chat in a real browser: Debian's chromium driven by Playwright against `reread ui` on loopback.
One server and one browser for the module; each test opens its own page (its own Streamlit session)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ingest.settings import Settings
from tests.test_ui import write_ui_vault

CHROMIUM = "/usr/bin/chromium"
NO_CHROMIUM = "needs Debian's chromium: apt-get install chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=NO_CHROMIUM)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_ui(tmp_path_factory, embedder):
    """`reread ui` over a small indexed vault: two sample notes, a two-page book, a note that holds HTML."""
    from assistant import Assistant

    root = tmp_path_factory.mktemp("browser")
    vault = write_ui_vault(root / "vault")
    Assistant(Settings(notes_dir=vault, index_dir=root / "index", lock_timeout=0), embedder=embedder).index()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
    env.update(REREAD_NOTES_DIR=str(vault), REREAD_INDEX_DIR=str(root / "index"), REREAD_BACKEND="extractive",
               HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "reread"), "ui", "--port", str(port)], env=env,
                            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.3)
        else:
            proc.kill()
            pytest.fail(f"reread ui did not start: {proc.communicate(timeout=30)[1].decode()[-500:]}")
        yield url, vault
    finally:  # `reread ui` execs Streamlit, so this pid is the server: stopping it leaves nothing behind
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, served_ui):
    from playwright.sync_api import expect

    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    pg.goto(served_ui[0])
    expect(pg.get_by_text("4 files", exact=False)).to_be_visible(timeout=60_000)
    yield pg
    context.close()


def ask(page, question: str):
    """Ask, wait for the answer (its download button is drawn last); the assistant's message."""
    from playwright.sync_api import expect

    answers = page.locator("[data-testid='stChatMessage']:has([data-testid='stDownloadButton'])")
    before = answers.count()
    box = page.get_by_placeholder("Ask your notes")
    box.fill(question)
    box.press("Enter")
    expect(answers).to_have_count(before + 1, timeout=90_000)
    return answers.nth(before)


def open_card(message, n: int = 1):
    card = message.locator("[data-testid='stExpander']", has_text=f"[{n}]").first
    card.locator("summary").click()
    return card


def plain(text: str) -> str:
    """Text without markdown syntax or extra spaces: what the reader sees of a quote."""
    return " ".join(re.sub(r"[*_=\[\]]", "", text).split())


def test_ask_open_the_marked_source_follow_up_and_download(page, served_ui):
    from playwright.sync_api import expect

    answer = ask(page, "What is tokenization?")
    expect(answer).to_contain_text("[1]")
    expect(answer).to_contain_text("extractive answer")
    mark = open_card(answer).locator("mark").first
    expect(mark).to_be_visible(timeout=10_000)

    with page.expect_download() as got:
        answer.get_by_role("button", name="Download as markdown").click()
    download = got.value
    assert re.fullmatch(r"\d{4}-\d\d-\d\d-what-is-tokenization\.md", download.suggested_filename)
    md = Path(download.path()).read_text(encoding="utf-8")
    markers = re.findall(r"\[\^(\d+)\](?!:)", md)
    definitions = re.findall(r"^\[\^(\d+)\]: (.*)\n\n((?:    >.*\n?)+)", md, re.M)
    assert markers and sorted(set(markers)) == sorted(n for n, _, _ in definitions)
    for _, link, quote in definitions:
        assert link.startswith("[[notes/")  # a wikilink back to the note
        assert plain(quote.replace("    > ", "").replace("    >", "")) in plain(md_of_vault(served_ui[1]))
    quoted = plain("\n".join(line[6:] for line in definitions[0][2].splitlines()))
    assert plain(mark.inner_text()) == quoted  # the highlighted span is the cited quote

    follow = ask(page, "And how many words are 100 of them?")
    expect(follow).to_contain_text("searched for:")
    expect(follow).to_contain_text("75 words")
    expect(follow).to_contain_text("[1]")


def md_of_vault(vault: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (vault / "notes").glob("*.md"))


def test_a_pdf_citation_shows_its_page_with_the_span_marked(page):
    from playwright.sync_api import expect

    answer = ask(page, "What does masked language modeling predict?")
    card = answer.locator("[data-testid='stExpander']", has_text="Pretraining Transformers, p. 2").first
    card.locator("summary").click()
    image = card.locator("[data-testid='stImage'] img").first
    expect(image).to_be_visible(timeout=20_000)
    assert image.evaluate("img => img.naturalWidth") > 300
    expect(card).to_contain_text("p. 2, cited span marked")
    expect(card.locator("mark").first).to_contain_text("masked language modeling")


def test_html_in_a_note_stays_inert_text(page):
    from playwright.sync_api import expect

    answer = ask(page, "What is prompt injection?")
    card = open_card(answer)
    passage = card.locator(".reread-passage")
    expect(passage).to_contain_text("<script>window.pwned = 1</script>")
    expect(passage).to_contain_text('<iframe srcdoc="<script>parent.pwned=2</script>"></iframe>')
    expect(passage).to_contain_text('<img src=x onerror="window.pwned=3">')
    assert passage.locator("script, iframe, img").count() == 0
    assert page.evaluate("window.pwned") is None
