"""`perception serve`: gunicorn workers, and on the embedded queue a consumer process beside them."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from typing import Any

from flask import Flask

from perception.tasks import start_consumer

CONSUMER_STOP_SECONDS = 15


class ConsumerProcess:
    """The task-queue consumer (`perception worker`) as a child process of the server, started
    again if it stops.

    Never as threads of the gunicorn master: the master forks its workers, and a fork copies any
    lock a consumer thread holds at that instant (SQLAlchemy's mapper lock, SQLite's, logging's)
    into the worker, locked forever. A process of its own starts from a clean interpreter.
    """

    def __init__(self, workers: int = 2) -> None:
        self.command = [sys.executable, "-m", "perception", "worker", "--workers", str(workers)]
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def keep_running(self, log: Any) -> None:
        if self.stopping:
            return
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is not None:
            log.warning("The task-queue consumer stopped (code %s); starting it again", self.process.returncode)
        self.process = subprocess.Popen(self.command, env=os.environ.copy())
        log.info("Task-queue consumer running (pid: %s)", self.process.pid)

    def stop(self) -> None:
        self.stopping = True
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # Huey's consumer finishes its running tasks on SIGINT
        try:
            self.process.wait(timeout=CONSUMER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve(app: Flask, host: str, port: int, workers: int) -> None:
    """Serve until stopped. Workers build their own app from the same environment as this one."""
    embedded_queue = app.config["QUEUE_URL"] == "sqlite"
    if not sys.platform.startswith("linux"):
        consumer = start_consumer(app) if embedded_queue else None
        try:
            app.run(host=host, port=port, use_reloader=False)
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)
        return

    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter

    consumer_process = ConsumerProcess() if embedded_queue else None

    class PerceptionArbiter(Arbiter):  # type: ignore[misc]
        def manage_workers(self) -> None:
            super().manage_workers()
            # The master's loop comes here about once a second, and at once when a child stops.
            if consumer_process is not None:
                consumer_process.keep_running(self.log)

    class PerceptionServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("graceful_timeout", 10)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn 24+: one socket per user otherwise
                self.cfg.set("control_socket_disable", True)
            self.cfg.set("on_exit", self._on_exit)

        def load(self) -> Any:
            from perception.app import create_app

            # The serving process made the queue's tables before the workers started.
            app = create_app({"QUEUE_TABLES_MADE": True})
            # What the worker has built so far (modules, mappers, plugins) lives as long as it does:
            # out of the collector's generations, no full collection walks it again while it serves.
            gc.freeze()
            return app

        def _on_exit(self, _server: Any) -> None:
            if consumer_process is not None:
                consumer_process.stop()

        def run(self) -> None:
            try:
                PerceptionArbiter(self).run()
            except RuntimeError as error:
                print(f"\nError: {error}\n", file=sys.stderr)
                sys.exit(1)

    PerceptionServer().run()
