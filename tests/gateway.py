"""A small HTTP server on loopback standing in for an SMS gateway: it records requests and answers as told."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WAIT_SECONDS = 60.0


@dataclass
class Gateway:
    url: str = ""
    status: int = 200  # what the next requests get
    hang: bool = False  # answer nothing until released
    requests: list[dict[str, Any]] = field(default_factory=list)
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self) -> None:
        self.hang = False
        self._released.set()


@contextmanager
def start_gateway() -> Iterator[Gateway]:
    gateway = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if gateway.hang:
                gateway._released.wait(WAIT_SECONDS)
                return
            with gateway._lock:
                gateway.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                number = len(gateway.requests)
            reply = json.dumps({"id": f"msg-{number}"} if gateway.status == 200 else {"error": "gateway trouble"})
            self.send_response(gateway.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(reply.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/v1/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        gateway.release()
        server.shutdown()
        server.server_close()
        thread.join(WAIT_SECONDS)
