"""The OpenAI backend: any OpenAI-compatible server (OpenAI, Ollama, llama.cpp, vLLM, LM Studio)."""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from ingest.errors import BackendUnreachable, MissingKey, RereadError
from ingest.types import Answer, Hit

from .citations import MARKER, MARKER_GROUP, citation, escape_markers, lexical_best
from .extractive import NOT_FOUND


class KeyRejected(MissingKey):
    """The server refused the key (HTTP 401/403)."""


class RateLimited(BackendUnreachable):
    """HTTP 429 after the retries, or an account out of quota."""


class ServerFailed(BackendUnreachable):
    """HTTP 5xx after the retries, or another status the server should not have sent."""


class TimedOut(BackendUnreachable):
    """No answer within REREAD_LLM_TIMEOUT."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up in one line: at most about half a minute of waiting in all."""

    rate_limit_attempts: int = 4  # tries on HTTP 429 (a busy shared server frees up within seconds)
    server_error_attempts: int = 3  # tries on HTTP 5xx (a restarting server, a model still loading)
    connect_attempts: int = 2  # tries when the connection is refused or dropped
    base_delay: float = 0.5  # seconds before the first retry; doubles each time
    max_delay: float = 8.0  # no single backoff waits longer
    max_retry_after: float = 10.0  # a server asking us to wait longer than this is not waited on

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential with jitter (50-100%), so clients that failed together do not retry together."""
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (0.5 + rng.random() / 2)


def redact(text: str, secret: str | None) -> str:
    """The key (whole, or any 8+ characters of it a server echoes) and anything like a bearer token become ***."""
    if secret:
        text = text.replace(secret, "***")
        if len(secret) >= 8:  # a masked echo ("sk-abc...wxyz") still leaks parts; drop any long run from the key
            out, i = [], 0
            while i < len(text):
                j = i + 8
                if j <= len(text) and text[i:j] in secret:
                    while j < len(text) and text[i:j + 1] in secret:
                        j += 1
                    out.append("***")
                    i = j
                else:
                    out.append(text[i])
                    i += 1
            text = "".join(out)
    text = re.sub(r"(?i)\b(bearer\s+|api[-_]?key\s*[:=]\s*)[^\s\"',;)]+", r"\1***", text)
    return re.sub(r"\bsk-[A-Za-z0-9_\-*.]{6,}", "sk-***", text)  # OpenAI-style keys, even not ours


def _retry_after(e: Exception, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: retry-after-ms, Retry-After in seconds, or an HTTP date."""
    headers = getattr(getattr(e, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers.get(name)) / scale)
        except (TypeError, ValueError):
            pass
    try:
        when = email.utils.parsedate_to_datetime(headers.get("retry-after"))
        return max(0.0, when.timestamp() - (now or time.time()))
    except (TypeError, ValueError, IndexError):
        return None


class OpenAIChat:
    """Thin: `complete(messages)` and `stream(messages)`; errors become one line that says the fix."""

    name = "openai"

    def __init__(self, model: str, api_key: str | None, base_url: str | None, timeout: float = 60.0, *,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None):
        if not api_key and not base_url:
            raise MissingKey("No API key: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server) in .env, "
                             "or use --backend extractive")
        self.model, self.base_url, self.timeout = model, base_url, timeout
        self.retry, self._sleep, self._rng = retry or RetryPolicy(), sleep, rng or random.Random()
        self._key = api_key
        from openai import OpenAI

        # retries are ours: 429 and 5xx need different budgets, and every message must be redacted
        self._client = OpenAI(api_key=api_key or "not-needed", base_url=base_url, timeout=timeout, max_retries=0)

    @property
    def where(self) -> str:
        """The server for messages: scheme, host and path, never user:password@ or a ?key= query."""
        if not self.base_url:
            return "api.openai.com"
        u = urlsplit(self.base_url)
        return redact(f"{u.scheme}://{u.hostname or ''}{f':{u.port}' if u.port else ''}{u.path}", self._key)

    def _detail(self, e: Exception) -> str:
        """The server's own words, short, on one line, with the key taken out."""
        body = getattr(e, "body", None)
        text = body.get("message") if isinstance(body, dict) else body
        text = str(text if isinstance(text, str) and text.strip() else getattr(e, "message", "") or e)[:2000]
        text = " ".join(redact(text, self._key).split())
        return text if len(text) <= 160 else text[:157] + "..."

    def _fail(self, e: Exception, tries: int = 1) -> RereadError:
        import openai

        where, after = self.where, f" after {tries} tries" if tries > 1 else ""
        status = getattr(e, "status_code", None)
        if isinstance(e, openai.APITimeoutError):
            return TimedOut(f"the LLM server at {where} did not answer within {self.timeout:g} s; check "
                            "OPENAI_BASE_URL and that the server is up, raise REREAD_LLM_TIMEOUT for a slow model, "
                            "or use --backend extractive")
        if isinstance(e, openai.APIConnectionError):
            return BackendUnreachable(f"cannot reach the LLM server at {where}{after} ({self._reason(e)}); "
                                      "check OPENAI_BASE_URL or use --backend extractive")
        if status in (401, 403):
            return KeyRejected(f"the LLM server at {where} refused the key (HTTP {status}: {self._detail(e)}); "
                               "check OPENAI_API_KEY in .env, or use --backend extractive")
        if status == 404:
            return BackendUnreachable(f"the LLM server at {where} has no model {self.model!r} (HTTP 404); "
                                      "set REREAD_LLM_MODEL in .env")
        if status == 429 and _out_of_quota(e):
            return RateLimited(f"the account behind OPENAI_API_KEY is out of quota at {where} (HTTP 429: "
                               f"{self._detail(e)}); check its plan and billing, or use --backend extractive")
        if status == 429:
            wait = _retry_after(e)
            hint = (f"it asks to wait {wait:.0f} s; try again then" if wait and wait > self.retry.max_retry_after
                    else "wait a minute and try again")
            return RateLimited(f"the LLM server at {where} is rate-limiting requests (HTTP 429{after}: "
                               f"{self._detail(e)}); {hint}, or use --backend extractive")
        if status == 400 and re.search(r"context|token|too long|length", self._detail(e), re.I):
            return ServerFailed(f"the LLM server at {where} rejected the prompt as too long (HTTP 400: "
                                f"{self._detail(e)}); lower REREAD_LLM_CONTEXT_TOKENS in .env")
        if status is not None:
            return ServerFailed(f"the LLM server at {where} failed with HTTP {status}{after} ({self._detail(e)}); "
                                "try again later or use --backend extractive")
        return ServerFailed(f"the LLM server at {where} failed ({type(e).__name__}: {self._detail(e)}); "
                            "try again or use --backend extractive")

    def _reason(self, e: BaseException) -> str:
        """The innermost cause of a connection error ("Connection refused"), not the client's generic text."""
        while (e.__cause__ or e.__context__) is not None and not isinstance(e, OSError):
            e = e.__cause__ or e.__context__
        text = " ".join(redact(str(e) or type(e).__name__, self._key).split())
        return text if len(text) <= 100 else text[:97] + "..."

    def _not_an_api(self) -> RereadError:
        return BackendUnreachable(f"the server at {self.where} did not answer like an OpenAI-compatible chat API; "
                                  "check OPENAI_BASE_URL (it usually ends in /v1) or use --backend extractive")

    def _send(self, **request):
        """One request, retried on 429 (honouring Retry-After), 5xx and dropped connections; then one line."""
        import openai

        tries: dict[str, int] = {}
        while True:
            try:
                return self._client.chat.completions.create(model=self.model, temperature=0, **request)
            except openai.OpenAIError as e:
                kind, limit = self._retryable(e)
                tries[kind] = tries.get(kind, 0) + 1
                wait = _retry_after(e) if kind == "429" else None
                if tries[kind] >= limit or (wait is not None and wait > self.retry.max_retry_after):
                    raise self._fail(e, tries[kind]) from None
                self._sleep(wait * (1 + self._rng.random() / 10) if wait is not None
                            else self.retry.backoff(tries[kind], self._rng))

    def _retryable(self, e: Exception) -> tuple[str, int]:
        import openai

        status, r = getattr(e, "status_code", None), self.retry
        if isinstance(e, openai.APITimeoutError):
            return "timeout", 1  # waiting REREAD_LLM_TIMEOUT twice helps nobody
        if isinstance(e, openai.APIConnectionError):
            return "connect", r.connect_attempts
        if status == 429 and not _out_of_quota(e):
            return "429", r.rate_limit_attempts
        if status is not None and status >= 500:
            return "5xx", r.server_error_attempts
        return "other", 1

    def complete(self, messages: list[dict[str, str]]) -> str:
        resp = self._send(messages=messages)
        try:
            return resp.choices[0].message.content or ""
        except (AttributeError, IndexError, KeyError, TypeError):  # HTML, {"detail": ...}, {"choices": []}
            raise self._not_an_api() from None

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        import openai

        events, said = 0, False
        response = self._send(messages=messages, stream=True)  # status errors arrive here, before any token
        try:
            for event in response:
                events += 1
                if event.choices and event.choices[0].delta.content:
                    said = True
                    yield event.choices[0].delta.content
        except openai.OpenAIError as e:
            if said and isinstance(e, openai.APITimeoutError):
                raise TimedOut(f"the LLM server at {self.where} stopped in the middle of its answer (nothing for "
                               f"{self.timeout:g} s); try again, raise REREAD_LLM_TIMEOUT, or use --backend "
                               "extractive") from None
            raise self._fail(e) from None
        except (AttributeError, TypeError):
            raise self._not_an_api() from None
        if not events:  # a chat stream always sends at least one chunk before [DONE]; a web page sends none
            raise self._not_an_api()


def _out_of_quota(e: Exception) -> bool:
    """OpenAI's 429 for an empty account: retrying cannot help."""
    body = getattr(e, "body", None)
    return isinstance(body, dict) and body.get("code") == "insufficient_quota"


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
        """A marker naming a given source is renumbered; one naming no source (the model's invention, or a source
        the budget left out) is dropped with the space before it, so the reader never sees a citation that is
        not; a longer number ("in [2024]") is the text's own and stays, escaped."""
        k = int(m.group(2))
        if k in numbers:
            return f"{m.group(1)}[{numbers[k]}]"
        return "" if len(m.group(2)) <= 3 else m.group(1) + escape_markers(m.group(0).lstrip(" \t"))

    answer = re.sub(r"([ \t]*)" + MARKER.pattern, swap, text)
    cits = [citation(n, hits[k - 1].chunk, lexical_best(hits[k - 1].chunk, claims.get(k, question)))
            for k, n in sorted(numbers.items(), key=lambda kv: kv[1])]
    return Answer(question, answer, cits, backend, bool(cits))
