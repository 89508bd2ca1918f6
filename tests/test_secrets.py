"""A canary API key, end to end through the CLI: whatever the server does with it (refuses it, echoes it in a 401,
403, 429 or 500 body, hangs, is not there, or answers), the key never reaches stdout, stderr or the openai
library's debug log, an export, the index folder or any other file reread writes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_NOTES, write_vault
from tests.fake_openai import FakeOpenAI, closed_port_url
from tests.test_openai_backend import cli_env, reread

QUESTION = "What is tokenization?"
CANARY = f"sk-canary-{uuid.uuid4().hex}"  # unique per run: finding it anywhere can only mean a leak
TRACES = [CANARY, CANARY.removeprefix("sk-canary-"), CANARY[-16:]]  # the key, its random part, its tail


def env_for(vault: Path, index: Path, **extra: str) -> dict[str, str]:
    # the openai library's own request log on stderr too
    return cli_env(vault, index, OPENAI_API_KEY=CANARY, OPENAI_LOG="debug", **extra)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leaks(text: str) -> list[str]:
    return [t for t in TRACES if t in text]


def files_holding_the_key(*roots: Path) -> list[str]:
    """Every file under the roots (index, exports, the working folder) read as bytes and searched for the key."""
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                if any(t.encode() in data for t in TRACES):
                    found.append(str(path))
    return found


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """The seed vault indexed by `reread index` with the canary key in the environment."""
    root = tmp_path_factory.mktemp("secrets")
    vault = write_vault(root / "vault", {f"notes/{p.name}": p.read_bytes() for p in sorted(SAMPLE_NOTES.glob("*.md"))})
    index = root / "index"
    run = reread("index", "--json", env=env_for(vault, index), cwd=root)
    status = reread("status", "--json", env=env_for(vault, index), cwd=root)
    assert run.returncode == 0 == status.returncode, run.stderr + status.stderr
    assert not leaks(run.stdout + run.stderr + status.stdout + status.stderr)
    return vault, index


# how the server behaves, and the REREAD_* settings that make the path quick
PATHS = {
    "refused key (401)": (lambda s: setattr(s, "key", "sk-the-right-key"), {}),
    "forbidden (403)": (lambda s: s.reply(status=403, echo_key=True), {}),
    "rate limited (429)": (lambda s: s.reply(status=429, echo_key=True, headers={"Retry-After": "0"}), {}),
    "server error (500)": (lambda s: s.reply(status=500, echo_key=True), {}),
    "timeout": (lambda s: s.reply("too late [1].", delay=4), {"REREAD_LLM_TIMEOUT": "1"}),
    "unreachable": (None, {}),
    "answered": (lambda s: s.reply("Tokenization breaks text into tokens [1]."), {}),
}
CASES = [(path, "json") for path in PATHS] + [(p, "stream") for p in ("refused key (401)", "server error (500)")]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "mode"), CASES, ids=[f"{p}-{m}" for p, m in CASES])
def test_the_key_never_leaks_on_any_path(indexed, tmp_path, path, mode):
    vault, index = indexed
    arrange, settings = PATHS[path]
    export = tmp_path / "exports" / "answer.md"
    before = tree(vault)
    with FakeOpenAI() as server:
        if arrange is not None:
            arrange(server)
        url = server.base_url if arrange is not None else closed_port_url()
        env = env_for(vault, index, OPENAI_BASE_URL=url, **settings)
        json_flag = ["--json"] if mode == "json" else []
        args = ["ask", QUESTION, "--backend", "openai", "--export", str(export), *json_flag]
        run = reread(*args, env=env, cwd=tmp_path)
    if arrange is not None:  # the key did go to the server, as a bearer token: that is where it belongs
        assert any(r.headers.get("authorization") == f"Bearer {CANARY}" for r in server.chat_requests)

    assert leaks(run.stdout) == [] and leaks(run.stderr) == []
    if path == "answered":
        assert run.returncode == 0, run.stderr
        assert export.exists() and "tokens" in export.read_text(encoding="utf-8")
        if mode == "json":
            assert json.loads(run.stdout)["backend"] == "openai"
    else:
        assert run.returncode == 1 and "Traceback" not in run.stderr
        error = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
        assert len(error) == 1, run.stderr  # one line naming what failed (the debug log may add its own lines)
    assert files_holding_the_key(index, tmp_path, vault) == []
    assert tree(vault) == before  # the vault is read-only to reread (this export goes outside it)


def test_a_chroma_server_is_sent_chunks_vectors_and_this_metadata_only():
    """What SECURITY.md says a Chroma server receives for each chunk: its id, its vector, and these fields (the
    text stays in the local text store)."""
    from ingest.rows import flat
    from ingest.types import Chunk

    chunk = Chunk(id="c1", source="books/a.md", kind="note", title="A", heading="H", page=None, start=0, end=5,
                  text="Hello", embed_text="A > H\nHello", metadata={"tags": ["t"], "author": "Ada",
                  "highlights": ["Hello"], "frontmatter": {"secret": "front matter stays home"}})
    assert set(flat(chunk)) == {"source", "heading", "span"}
    assert not {"front matter stays home", "Ada", "Hello"} & set(str(flat(chunk)).split("'"))
