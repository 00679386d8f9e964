"""A webhook receiver on loopback that verifies each delivery the Standard Webhooks way."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Receiver:
    secret: str = ""
    status: int = 204
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    duplicates: list[str] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        """Wait until `count` verified deliveries came (generous: the machine may be loaded)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), (self.received, self.refused)
        return self.received


@contextmanager
def receiver(status: int = 204) -> Iterator[Receiver]:
    state = Receiver(status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                data = Webhook(state.secret).verify(body, headers)
            except WebhookVerificationError as error:
                with state.arrived:
                    state.refused.append(str(error))
                self.send_response(400)
                self.end_headers()
                return
            replay = headers.get("webhook-id") in state.seen_ids
            with state.arrived:
                if replay:  # a retry of a message already handled: acknowledged, not acted on twice
                    state.duplicates.append(headers["webhook-id"])
                else:
                    state.seen_ids.add(headers["webhook-id"])
                    state.received.append({"headers": headers, "body": data})
                state.arrived.notify_all()
            self.send_response(state.status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"seen already" if replay else b"thanks")

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
