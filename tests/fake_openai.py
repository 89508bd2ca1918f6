"""A real OpenAI-compatible HTTP server on loopback, for tests: scripted replies, every request recorded.

    with FakeOpenAI() as server:
        server.reply("Tokens are pieces of text [1].")
        settings = settings.model_copy(update={"openai_base_url": server.base_url})
        ...
        assert server.requests[-1].body["messages"][0]["role"] == "system"

It serves POST /v1/chat/completions, non-streaming (one chat.completion JSON) and streaming
(`"stream": true` -> text/event-stream `data: {chat.completion.chunk}` events, then `data: [DONE]`).
Failures on demand: `server.reply(status=429, headers={"Retry-After": "2"})`, a queue of replies with
`server.script(Reply(status=500), Reply("ok"))`, a key it insists on (`server.key = "sk-..."` -> 401
for any other), error bodies that echo the caller's key back (`echo_key=True`), slow replies (`delay`) and streams
that hang halfway (`stall_after`).
Nothing is mocked: the real `openai` client talks HTTP to it.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the server answers: the assistant's text, or an HTTP error status with an OpenAI-style error body."""

    text: str = "NOT_FOUND"
    status: int = 200
    chunk_chars: int = 6  # a streamed reply is cut into deltas of this many characters
    delay: float = 0.0  # seconds to wait before answering (a slow or hung server)
    raw: str | None = None  # answer this body verbatim instead (a server that is not an OpenAI API)
    content_type: str = "text/html"  # the Content-Type of `raw`
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers, e.g. Retry-After
    error: str | None = None  # the error body's message (default "scripted failure <status>")
    code: str | None = None  # the error body's code, e.g. "insufficient_quota"
    echo_key: bool = False  # put the caller's bearer token into the error message, as careless servers do
    stall_after: int | None = None  # streaming: after this many characters, go silent for `delay` seconds


@dataclass
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the decoded JSON body, or None
    at: float = 0.0  # time.monotonic() when it arrived, to measure backoff between retries

    @property
    def messages(self) -> list[dict[str, str]]:
        return (self.body or {}).get("messages", [])

    def content(self, role: str) -> str:
        """The content of the first message with this role ("" if none)."""
        return next((m.get("content") or "" for m in self.messages if m.get("role") == role), "")


@dataclass
class FakeOpenAI:
    """Start with `with FakeOpenAI() as server:`; `server.base_url` ends in /v1 like OPENAI_BASE_URL."""

    host: str = "127.0.0.1"
    key: str | None = None  # when set, a request without "Bearer <key>" gets a 401 naming the key it sent
    requests: list[Request] = field(default_factory=list)
    _reply: Reply = field(default_factory=Reply)
    _queue: list[Reply] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, text: str = "NOT_FOUND", status: int = 200, **more) -> None:
        """Answer every following request with this text (or this HTTP error status); see Reply for `more`."""
        self._reply = Reply(text, status, **more)
        self._queue.clear()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies in order, then with the last one for ever."""
        self._queue[:] = replies[:-1]
        self._reply = replies[-1]

    def _next(self) -> Reply:
        with self._lock:
            return self._queue.pop(0) if self._queue else self._reply

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def __enter__(self) -> FakeOpenAI:
        self._httpd = _Server((self.host, 0), _handler(self))
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that hung up (a timeout, a closed test) is not worth a traceback on stderr."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


def closed_port_url(host: str = "127.0.0.1") -> str:
    """A base URL where nothing listens (a port just bound and released)."""
    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    return f"http://{host}:{port}/v1"


def _handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args) -> None:  # keep pytest output clean
            pass

        def _record(self) -> Request:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                          time.monotonic())
            server.requests.append(req)
            return req

        def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._record()
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

        def do_POST(self) -> None:
            req = self._record()
            if not req.path.rstrip("/").endswith("/chat/completions"):
                return self._json(404, {"error": {"message": f"no route {req.path}", "type": "invalid_request_error"}})
            sent_key = req.headers.get("authorization", "").removeprefix("Bearer ")
            if server.key is not None and sent_key != server.key:  # OpenAI's wording, but the whole key echoed
                return self._json(401, {"error": {"message": f"Incorrect API key provided: {sent_key}.",
                                                  "type": "invalid_request_error", "code": "invalid_api_key"}})
            reply = server._next()
            time.sleep(reply.delay if reply.stall_after is None else 0)
            if reply.raw is not None:
                data = reply.raw.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if reply.status != 200:
                message = reply.error or f"scripted failure {reply.status}"
                if reply.echo_key:
                    message += f" (request from key {sent_key}, header 'Authorization: Bearer {sent_key}')"
                return self._json(reply.status, {"error": {"message": message, "type": "server_error",
                                                           "code": reply.code}}, reply.headers)
            model = (req.body or {}).get("model", "fake-model")
            if (req.body or {}).get("stream"):
                return self._stream(reply, model)
            self._json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": reply.text}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })

        def _stream(self, reply: Reply, model: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

            def chunk(delta: dict, finish: str | None = None) -> bytes:
                obj = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                       "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                return b"data: " + json.dumps(obj).encode() + b"\n\n"

            self.wfile.write(chunk({"role": "assistant", "content": ""}))
            n = max(1, reply.chunk_chars)
            for i in range(0, len(reply.text), n):
                if i == reply.stall_after:
                    time.sleep(reply.delay)  # a worker that hangs mid-answer
                self.wfile.write(chunk({"content": reply.text[i:i + n]}))
                self.wfile.flush()
            self.wfile.write(chunk({}, "stop"))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler
