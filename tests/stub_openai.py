"""A local OpenAI-compatible stub server for tests and benches (stdlib only).

A threaded `http.server` on 127.0.0.1 (port 0 = any free port) that answers
`POST /v1/chat/completions`. Responses are scripted:

- `script`: a list of responses consumed in order (thread-safe);
- `responder(body) -> response`: called when the script is empty (or always, if no script);
- each response is a dict `{"status": 200, "body": {...}, "delay": seconds, "headers": {...}}`
  (`"raw": bytes` sends that body verbatim, e.g. truncated JSON);
  build them with `text()`, `tool_calls()`, `call()`, `error()`.

Every request body is kept in `requests` (with its headers in `headers`) so tests can check what
the client really sent.

Run as a program for benches (another process): `python tests/stub_openai.py --delay 0.1`
prints `PORT <n>` and answers every request with a short text after the delay.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Response = dict
Responder = Callable[[dict], Response]

_counter = 0
_counter_lock = threading.Lock()


def _next_id() -> int:
    global _counter
    with _counter_lock:
        _counter += 1
        return _counter


def completion(message: dict, *, finish_reason: str = "stop", model: str = "stub-model",
               prompt_tokens: int = 100, completion_tokens: int = 20) -> dict:
    """A chat.completion JSON body around one assistant message."""
    return {"id": f"chatcmpl-{_next_id()}", "object": "chat.completion", "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason,
                         "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def text(content: str, *, delay: float = 0.0, **kw: Any) -> Response:
    """A plain text reply."""
    return {"status": 200, "delay": delay,
            "body": completion({"role": "assistant", "content": content}, **kw)}


def call(name: str, arguments: Any = None, *, raw: str | None = None,
         call_id: str | None = None) -> dict:
    """One tool call; `raw` sends the arguments string verbatim (e.g. broken JSON)."""
    args = raw if raw is not None else json.dumps(arguments or {})
    return {"id": call_id or f"call_{_next_id()}", "type": "function",
            "function": {"name": name, "arguments": args}}


def tool_calls(*calls: dict, content: str | None = None, delay: float = 0.0,
               **kw: Any) -> Response:
    """An assistant turn with tool calls."""
    return {"status": 200, "delay": delay,
            "body": completion({"role": "assistant", "content": content,
                                "tool_calls": list(calls)}, finish_reason="tool_calls", **kw)}


def error(status: int, message: str = "stub error", *, retry_after: float | None = None,
          delay: float = 0.0) -> Response:
    """An HTTP error with an OpenAI-style error body."""
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return {"status": status, "delay": delay, "headers": headers,
            "body": {"error": {"message": message, "type": "stub", "code": status}}}


class StubOpenAI:
    """The stub server. Use as a context manager; `base_url` ends in /v1."""

    def __init__(self, script: list[Response] | None = None,
                 responder: Responder | None = None, *, keep_requests: bool = True):
        self.script = list(script or [])
        self.keep_requests = keep_requests
        self.n_requests = 0
        self.responder = responder
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting
    def push(self, *responses: Response) -> None:
        with self.lock:
            self.script.extend(responses)

    def _next(self, body: dict) -> Response:
        with self.lock:
            self.n_requests += 1
            if self.keep_requests:
                self.requests.append(body)
            if self.script:
                return self.script.pop(0)
        if self.responder is not None:
            return self.responder(body)
        return error(500, "stub: script exhausted and no responder")

    # -- lifecycle
    def start(self) -> "StubOpenAI":
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real server
            # one buffered write per response and no Nagle: otherwise headers and body go out
            # as two segments and the client's delayed ACK adds ~40 ms to every request
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # /v1/models, for clients that probe it
                self._send(200, {"object": "list", "data": [{"id": "stub-model",
                                                             "object": "model"}]}, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, {"error": {"message": "bad json"}}, {})
                    return
                with stub.lock:
                    if stub.keep_requests:
                        stub.headers.append(dict(self.headers))
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                try:
                    resp = stub._next(body)
                    if resp.get("delay"):
                        time.sleep(resp["delay"])
                finally:
                    with stub.lock:
                        stub.in_flight -= 1
                self._send(resp.get("status", 200), resp.get("body") or {},
                           resp.get("headers") or {}, resp.get("raw"))

            def _send(self, status: int, body: dict, headers: dict,
                      raw: bytes | None = None) -> None:
                data = raw if raw is not None else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and went away

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self._server = Server(("127.0.0.1", 0), Handler)
        # shutdown() waits for the serving loop to look at its flag, which it does once per
        # poll interval: at the default 0.5 s every test with a stub ended with ~0.5 s idle
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "StubOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Serve a fixed text reply after --delay seconds, until killed (for benches)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--delay", type=float, default=0.1)
    args = ap.parse_args(argv)
    stub = StubOpenAI(responder=lambda body: text("Sure, let me check that.",
                                                  delay=args.delay),
                      keep_requests=False).start()
    print(f"PORT {stub.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stub.stop()


if __name__ == "__main__":
    sys.exit(main())
