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
from tests.conftest import write_vault
from tests.fake_openai import FakeOpenAI
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


# a note whose links and markup try to run script when shown
LINKS = ("# Injection links\n\nPrompt injection can hide in links: [click me](javascript:window.pwned=21) and "
         '<a href="javascript:window.pwned=22">this one</a> and ![img](javascript:window.pwned=23) and '
         '<svg onload="window.pwned=24"></svg> and <details open ontoggle="window.pwned=25">x</details>.\n')
# what a hostile (or fooled) model answers: every way markdown or HTML could run script
LLM_PAYLOAD = ("Prompt injection hides instructions in a document [1]. <script>window.pwned=11;alert(11)</script> "
               '<img src=x onerror="window.pwned=12;alert(12)"> <iframe srcdoc="<script>parent.pwned=13</script>">'
               "</iframe> [click](javascript:window.pwned=14) <a href=\"javascript:window.pwned=15\">link</a> "
               '![i](javascript:window.pwned=16) <svg onload="window.pwned=17"></svg> '
               '<details open ontoggle="window.pwned=18">d</details> :red[red] Links too [2].')


@pytest.fixture(scope="module")
def llm_server():
    """An OpenAI-compatible server on loopback the UI may use (its sidebar offers "openai" beside extractive)."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def served_ui(tmp_path_factory, embedder, llm_server):
    """`reread ui` over a small indexed vault: two sample notes, a two-page book, notes that hold HTML and
    javascript: links; extractive answers by default, the loopback LLM server one click away."""
    from assistant import Assistant

    root = tmp_path_factory.mktemp("browser")
    vault = write_ui_vault(root / "vault")
    write_vault(vault, {"notes/injection-links.md": LINKS})
    Assistant(Settings(notes_dir=vault, index_dir=root / "index", lock_timeout=0), embedder=embedder).index()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
    env.update(REREAD_NOTES_DIR=str(vault), REREAD_INDEX_DIR=str(root / "index"), REREAD_BACKEND="extractive",
               HF_HUB_OFFLINE="1", OPENAI_BASE_URL=llm_server.base_url)
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
    expect(pg.get_by_text("5 files", exact=False)).to_be_visible(timeout=60_000)
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


# Anything that would run: script elements, frames, images, SVG, event-handler attributes, javascript: URLs.
ACTIVE = ("script, iframe, frame, object, embed, img, svg, [onerror], [onload], [ontoggle], [onclick], "
          "[href^='javascript:' i], [src^='javascript:' i]")
PWNED_IN_DOM = """() => [...document.querySelectorAll('script, iframe, [onerror], [onload], [ontoggle]')]
    .filter(e => (e.outerHTML || '').includes('pwned')).length"""


def use_llm(page) -> None:
    from playwright.sync_api import expect

    page.get_by_text("openai", exact=True).click()
    expect(page.get_by_label("Model")).to_be_visible(timeout=20_000)


def assert_inert(page, where, dialogs: list[str]) -> None:
    """Nothing ran (no dialog, no window.pwned) and nothing that could run is in `where` or anywhere on the page."""
    assert dialogs == []
    assert page.evaluate("window.pwned") is None
    assert where.locator(ACTIVE).count() == 0
    assert page.evaluate(PWNED_IN_DOM) == 0
    assert page.locator("[href^='javascript:' i], [src^='javascript:' i]").count() == 0


def test_llm_html_in_an_answer_and_its_cited_passages_stay_inert(page, llm_server):
    """A model answers with script, img onerror, iframe srcdoc, javascript: links, SVG and Streamlit directives:
    streamed or final, the answer shows them as text; its source cards (a note with HTML, a note with javascript:
    links) show theirs as text too. No dialog opens, nothing sets window.pwned."""
    from playwright.sync_api import expect

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    llm_server.reply(LLM_PAYLOAD, chunk_chars=7)
    use_llm(page)

    answer = ask(page, "What is prompt injection?")

    expect(answer).to_contain_text("<script>window.pwned=11;alert(11)</script>")
    expect(answer).to_contain_text('<img src=x onerror="window.pwned=12;alert(12)">')
    expect(answer).to_contain_text("[click](javascript:window.pwned=14)")
    expect(answer).to_contain_text("generated by the LLM")
    for n in (1, 2):
        card = open_card(answer, n)
        expect(card.locator(".reread-passage")).to_be_visible(timeout=10_000)
    page.wait_for_timeout(500)  # an onerror or onload would have fired by now
    assert_inert(page, answer, dialogs)
    passages = answer.locator(".reread-passage").all_inner_texts()
    assert any("<script>window.pwned = 1</script>" in p for p in passages)
    assert any("click me" in p and '<a href="javascript:window.pwned=22">' in p for p in passages)


def test_nearest_passages_of_a_refusal_stay_inert(page, llm_server):
    """The model says NOT_FOUND: the closest passages are shown instead, HTML and javascript: links as text."""
    from playwright.sync_api import expect

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    llm_server.reply("NOT_FOUND")
    use_llm(page)

    answer = ask(page, "How do injection links and payloads hide in notes?")

    expect(answer).to_contain_text("closest passages")
    for card in answer.locator("[data-testid='stExpander']").all():
        card.locator("summary").click()
    expect(answer.locator(".reread-passage").first).to_be_visible(timeout=10_000)
    page.wait_for_timeout(500)
    assert_inert(page, answer, dialogs)
    passages = " ".join(answer.locator(".reread-passage").all_inner_texts())
    assert '<svg onload="window.pwned=24"></svg>' in passages or "<script>window.pwned = 1</script>" in passages
