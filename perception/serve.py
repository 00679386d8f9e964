"""`perception serve`: gunicorn workers, and on the embedded queue a consumer in this process."""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask

from perception.tasks import start_consumer


def serve(app: Flask, host: str, port: int, workers: int) -> None:
    """Serve until stopped. Workers build their own app from the same environment as this one."""
    queue = app.extensions["perception"].queue
    embedded_queue = app.config["QUEUE_URL"] == "sqlite"
    if not sys.platform.startswith("linux"):
        consumer = start_consumer(queue) if embedded_queue else None
        try:
            app.run(host=host, port=port, use_reloader=False)
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)
        return

    from gunicorn.app.base import BaseApplication

    class PerceptionServer(BaseApplication):  # type: ignore[misc]
        consumer: Any = None

        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("graceful_timeout", 10)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn 24+: one socket per user otherwise
                self.cfg.set("control_socket_disable", True)
            self.cfg.set("when_ready", self._when_ready)
            self.cfg.set("on_exit", self._on_exit)

        def load(self) -> Any:
            from perception.app import create_app

            # The serving process made the queue's tables before the workers started.
            return create_app({"QUEUE_TABLES_MADE": True})

        def _when_ready(self, _server: Any) -> None:
            if embedded_queue:
                PerceptionServer.consumer = start_consumer(queue)

        def _on_exit(self, _server: Any) -> None:
            if PerceptionServer.consumer is not None:
                PerceptionServer.consumer.stop(graceful=True)

    PerceptionServer().run()
