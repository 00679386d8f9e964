"""`perception serve`: gunicorn workers, and on the embedded queue a consumer in this process."""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask

from perception.tasks import start_consumer


def serve(app: Flask, host: str, port: int, workers: int) -> None:
    embedded_queue = app.config["QUEUE_URL"] == "sqlite"
    if not sys.platform.startswith("linux"):
        consumer = start_consumer(app.extensions["perception"].queue) if embedded_queue else None
        try:
            app.run(host=host, port=port, use_reloader=False)
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)
        return

    from gunicorn.app.base import BaseApplication

    config_overrides = dict(app.config)

    class PerceptionServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("when_ready", self._when_ready)
            self.cfg.set("on_exit", self._on_exit)

        def load(self) -> Any:
            from perception.app import create_app

            return create_app({key: config_overrides[key] for key in _PASSED_ON if key in config_overrides})

        consumer: Any = None

        def _when_ready(self, _server: Any) -> None:
            if embedded_queue:
                PerceptionServer.consumer = start_consumer(app.extensions["perception"].queue)

        def _on_exit(self, _server: Any) -> None:
            if PerceptionServer.consumer is not None:
                PerceptionServer.consumer.stop(graceful=True)

    PerceptionServer().run()


# Settings the serving process hands to each worker's application.
_PASSED_ON = (
    "INSTANCE_PATH",
    "DATABASE_URL",
    "SECRET_KEY",
    "QUEUE_URL",
    "BASE_URL",
    "REPORTING_THRESHOLD",
    "LINK_DAYS",
)
