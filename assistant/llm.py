"""The OpenAI backend: any OpenAI-compatible server (OpenAI, Ollama, llama.cpp, vLLM, LM Studio)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ingest.errors import BackendUnreachable, MissingKey, RereadError
from ingest.types import Answer, Hit

from .citations import MARKER, MARKER_GROUP, citation, escape_markers, lexical_best
from .extractive import NOT_FOUND


class OpenAIChat:
    """Thin: `complete(messages)` and `stream(messages)`; errors become messages that say the fix."""

    name = "openai"

    def __init__(self, model: str, api_key: str | None, base_url: str | None, timeout: float = 60.0):
        if not api_key and not base_url:
            raise MissingKey("No API key: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server) in .env, "
                             "or use --backend extractive")
        self.model, self.base_url = model, base_url
        from openai import OpenAI

        self._client = OpenAI(api_key=api_key or "not-needed", base_url=base_url, timeout=timeout, max_retries=1)

    def _fail(self, e: Exception) -> RereadError:
        import openai

        where = self.base_url or "api.openai.com"
        if isinstance(e, openai.AuthenticationError):
            return MissingKey(f"the LLM server at {where} refused the key; check OPENAI_API_KEY in .env")
        if isinstance(e, openai.NotFoundError):
            return BackendUnreachable(f"the LLM server at {where} has no model {self.model!r}; "
                                      "set REREAD_LLM_MODEL in .env")
        if isinstance(e, openai.APIConnectionError | openai.APITimeoutError):
            return BackendUnreachable(f"cannot reach the LLM server at {where} ({e}); check OPENAI_BASE_URL "
                                      "or use --backend extractive")
        return BackendUnreachable(f"the LLM server at {where} failed ({type(e).__name__}: {e}); "
                                  "try again or use --backend extractive")

    def _not_an_api(self) -> RereadError:
        where = self.base_url or "api.openai.com"
        return BackendUnreachable(f"the server at {where} did not answer like an OpenAI-compatible chat API; "
                                  "check OPENAI_BASE_URL (it usually ends in /v1) or use --backend extractive")

    def complete(self, messages: list[dict[str, str]]) -> str:
        import openai

        try:
            resp = self._client.chat.completions.create(model=self.model, messages=messages, temperature=0)
        except openai.OpenAIError as e:
            raise self._fail(e) from None
        try:
            return resp.choices[0].message.content or ""
        except (AttributeError, IndexError, KeyError, TypeError):  # HTML, {"detail": ...}, {"choices": []}
            raise self._not_an_api() from None

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        import openai

        events = 0
        try:
            for event in self._client.chat.completions.create(model=self.model, messages=messages,
                                                              temperature=0, stream=True):
                events += 1
                if event.choices and event.choices[0].delta.content:
                    yield event.choices[0].delta.content
        except openai.OpenAIError as e:
            raise self._fail(e) from None
        except (AttributeError, TypeError):
            raise self._not_an_api() from None
        if not events:  # a chat stream always sends at least one chunk before [DONE]; a web page sends none
            raise self._not_an_api()


def resolve(question: str, text: str, hits: list[Hit], backend: str) -> Answer:
    """Keep only markers that name a given source, renumber them 1..n, and quote each source's best sentence."""
    text = text.strip()
    if not text or text.startswith("NOT_FOUND") or text == NOT_FOUND:
        return Answer(question, NOT_FOUND, [], backend, False)
    text = MARKER_GROUP.sub(lambda m: "".join(f"[{x.strip()}]" for x in m.group(1).split(",")), text)
    numbers: dict[int, int] = {}
    for m in MARKER.finditer(text):
        k = int(m.group(1))
        if 1 <= k <= len(hits) and k not in numbers:
            numbers[k] = len(numbers) + 1

    claims: dict[int, str] = {}
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        for m in MARKER.finditer(sentence):
            claims.setdefault(int(m.group(1)), MARKER.sub("", sentence))

    def swap(m: re.Match) -> str:
        k = int(m.group(1))
        return f"[{numbers[k]}]" if k in numbers else escape_markers(m.group(0))

    answer = MARKER.sub(swap, text)
    cits = [citation(n, hits[k - 1].chunk, lexical_best(hits[k - 1].chunk, claims.get(k, question)))
            for k, n in sorted(numbers.items(), key=lambda kv: kv[1])]
    return Answer(question, answer, cits, backend, bool(cits))
