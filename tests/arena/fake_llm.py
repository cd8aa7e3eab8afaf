"""A real OpenAI-compatible chat server on loopback, for turn tests and benchmarks.

``FakeLLM`` is a ``ThreadingHTTPServer`` on ``127.0.0.1:<free port>`` serving
``POST /v1/chat/completions`` from a daemon thread, so the code under test talks to
it over a real socket with its real httpx client — in this process or in another
one (a subprocess running a turn). Every request is recorded. What it answers is
configured per model name (each test bot gets its own provider and model):

    with FakeLLM() as fake:
        fake.script("m-1", Reply(status=429, headers={"Retry-After": "0"}), Reply(text="[]"))
        fake.default = Reply(text='[{"action": "HOLD"}]', delay=1.0)
        provider_create(..., kind="openai", base_url=fake.base_url, model="m-1")

A model's scripted replies are used one per request, in order; after them (or for a
model without a script) ``fake.default`` answers. ``fake.handler``, when set, decides
instead of both: ``handler(recorded) -> Reply``.
"""
from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One answer: the assistant's ``text`` in an OpenAI chat.completion body (unless
    ``body`` replaces the whole body), after ``delay`` seconds, with ``status`` and extra
    ``headers``. A non-2xx status without ``body`` sends an OpenAI-shaped error."""

    text: str = "[]"
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | dict[str, Any] | None = None
    prompt_tokens: int = 1200
    completion_tokens: int = 80
    error: str = "fake failure"


def completion(model: str, reply: Reply) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": reply.text, "refusal": None}}],
        "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                  "total_tokens": reply.prompt_tokens + reply.completion_tokens},
    }


@dataclass
class Recorded:
    """A request as the server received it."""

    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]
    received_at: float  # time.monotonic()
    reply: Reply | None = None
    client_gone: bool = False  # the client hung up before the answer (killed worker, timeout)

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    def message(self, role: str) -> str:
        return next((m.get("content", "") for m in self.messages if m.get("role") == role), "")


class FakeLLM:
    """See the module docstring. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.handler: Callable[[Recorded], Reply] | None = None
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.in_flight = 0
        self.max_in_flight = 0

    # --- configuration ---------------------------------------------------------------

    def script(self, model: str, *replies: Reply) -> None:
        """Queue ``replies`` for ``model``'s next requests, one each, in order."""
        with self._lock:
            self._scripts[model].extend(replies)

    def for_model(self, model: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.model == model]

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return True
            time.sleep(0.02)
        return False

    # --- lifecycle -------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """What an ``openai`` provider's ``base_url`` should be."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeLLM:
        fake = self

        class Handler(_Handler):
            owner = fake

        server = _Server(("127.0.0.1", 0), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping through a delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- serving ---------------------------------------------------------------------

    def _choose(self, recorded: Recorded) -> Reply:
        if self.handler is not None:
            return self.handler(recorded)
        with self._lock:
            queue = self._scripts.get(recorded.model)
            return queue.popleft() if queue else self.default

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still "thinking" must not hold up stop()
    # The listen backlog (5 by default): a turn opens a connection per bot at once, and
    # a refused SYN is retried a second later, which would look like a slow turn.
    request_queue_size = 1024


class _Handler(BaseHTTPRequestHandler):
    owner: FakeLLM
    protocol_version = "HTTP/1.1"  # keep-alive, as real vendors; every reply has a length

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, b'{"error": {"message": "not found", "type": "invalid_request_error"}}')
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unreadable": raw.decode("utf-8", "replace")}
        headers = {k.lower(): v for k, v in self.headers.items()}
        recorded = Recorded(self.path, headers, body, time.monotonic())
        fake = self.owner
        fake._record(recorded)
        try:
            reply = fake._choose(recorded)
            recorded.reply = reply
            if reply.delay and fake._stopping.wait(reply.delay):
                return  # the server is stopping: drop the connection
            if reply.body is not None:
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            elif 200 <= reply.status < 300:
                payload = json.dumps(completion(recorded.model, reply)).encode()
            else:
                payload = json.dumps({"error": {"message": reply.error, "type": "fake_error",
                                                "code": None}}).encode()
            try:
                self._send(reply.status, payload, reply.headers)
            except (BrokenPipeError, ConnectionResetError):
                recorded.client_gone = True
        finally:
            fake._done()


# --- arena helpers (Django imported lazily: the server above needs none) ---------------

FAKE_KEY = "sk-fake-0123456789abcdefSECRET"


def openai_bot(*, owner: Any, fake: FakeLLM, model: str, name: str | None = None,
               prompt: str = "Trade well. {{marketData}}", api_key: str = FAKE_KEY,
               provider_options: dict[str, Any] | None = None, **bot_options: Any) -> Any:
    """A bot whose own ``openai`` provider (model ``model``) talks to ``fake``; the arena
    is set to allow private hosts, since ``fake`` listens on loopback."""
    from arena.models import ArenaSettings
    from bots.services import bot_create, provider_create

    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(outbound_allow_private=True)
    provider = provider_create(owner=owner, name=f"fake {model}", kind="openai", model=model,
                               base_url=fake.base_url, api_key=api_key, **(provider_options or {}))
    return bot_create(owner=owner, name=name or f"bot {model}", prompt=prompt, provider=provider,
                      **bot_options)
