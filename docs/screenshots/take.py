"""Retake the README's screenshots: `reread ui` over the sample vault (data/), driven by Playwright and chromium.

    .venv/bin/python docs/screenshots/take.py      # indexes data/ into a temporary index first

Writes docs/screenshots/cited-answer.png and docs/screenshots/pdf-page.png.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(page, question: str):
    answers = page.locator("[data-testid='stChatMessage']:has([data-testid='stDownloadButton'])")
    before = answers.count()
    page.get_by_placeholder("Ask your notes").fill(question)
    page.get_by_placeholder("Ask your notes").press("Enter")
    expect(answers).to_have_count(before + 1, timeout=120_000)
    return answers.nth(before)


def shoot(element, path: Path) -> None:
    element.evaluate("e => e.scrollIntoView({block: 'start'})")
    element.page.wait_for_timeout(800)  # images and fonts settle
    element.screenshot(path=str(path))
    print(path)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_"))}
        env.update(REREAD_NOTES_DIR=str(ROOT / "data"), REREAD_INDEX_DIR=str(Path(tmp) / "index"),
                   REREAD_BACKEND="extractive", HF_HUB_OFFLINE="1")
        subprocess.run([str(BIN / "reread"), "index"], env=env, check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        server = subprocess.Popen([str(BIN / "reread"), "ui", "--port", str(port)], env=env, cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.3)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM,
                                            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                page = browser.new_page(viewport={"width": 1200, "height": 2000})
                page.goto(url)
                expect(page.get_by_text("files,", exact=False)).to_be_visible(timeout=60_000)
                answer = ask(page, "What is tokenization?")
                answer.locator("[data-testid='stExpander'] summary").first.click()
                shoot(answer, OUT / "cited-answer.png")
                answer = ask(page, "How is GPT pretrained?")
                card = answer.locator("[data-testid='stExpander']", has_text="p. ").first
                card.locator("summary").click()
                expect(card.locator("[data-testid='stImage'] img")).to_be_visible(timeout=60_000)
                shoot(card, OUT / "pdf-page.png")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
