"""The chat in a real browser: Debian's chromium driven by Playwright against `reread ui` on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
NO_CHROMIUM = "needs Debian's chromium: apt-get install chromium"
pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=NO_CHROMIUM)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served_ui(tmp_path, settings, assistant):
    assistant.index()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
    env.update(REREAD_NOTES_DIR=str(settings.notes_dir), REREAD_INDEX_DIR=str(settings.index_dir),
               REREAD_BACKEND="extractive", HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "reread"), "ui", "--port", str(port)], env=env,
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
        yield url
    finally:  # `reread ui` execs Streamlit, so this pid is the server: stopping it leaves nothing behind
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def test_ask_in_the_browser_and_open_the_highlighted_source(served_ui, vault, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        page = browser.new_page()
        page.goto(served_ui)
        expect(page.get_by_text("5 files", exact=False)).to_be_visible(timeout=60_000)
        box = page.get_by_placeholder("Ask your notes")
        box.fill("What is tokenization?")
        box.press("Enter")
        source = page.locator("[data-testid='stExpander']").first
        expect(source).to_be_visible(timeout=90_000)
        expect(page.get_by_text("extractive answer", exact=False)).to_be_visible()
        source.locator("summary").click()
        mark = source.locator("mark").first
        expect(mark).to_be_visible(timeout=10_000)
        quote = mark.inner_text()
        assert "token" in quote.lower()
        notes = [p.read_text(encoding="utf-8") for p in (vault / "notes").glob("*.md")]
        assert any(quote in n for n in notes)  # the highlighted span is the note's own text
        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
        browser.close()
