"""The task queue: Huey on SQLite by default, on Redis in production; one queue per app."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from huey.storage import SqliteStorage

if TYPE_CHECKING:
    from perception.outbox import Drainer

EVENT_HOOKS: frozenset[str] = frozenset(
    {
        "perception_response_submitted",
        "perception_wave_opened",
        "perception_wave_closed",
        "perception_alert_opened",
        "perception_story_published",
        "perception_idea_state_changed",
    }
)


class QueueStorage(SqliteStorage):
    """The embedded queue's SQLite file, written like the database: WAL with ``synchronous=NORMAL``.

    Huey's default (``FULL``) syncs the disk at every enqueue, a few milliseconds that every
    response waited for. With ``NORMAL`` a crashed process loses nothing; a power cut may lose the
    last events, as it may lose the last responses of the database beside it.
    """

    def _create_connection(self):  # type: ignore[no-untyped-def]
        connection = super()._create_connection()
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection


def make_queue(app: Flask, create_tables: bool = True) -> Huey:
    """The app's queue. ``create_tables=False`` for server workers: the serving process made them,
    and a worker writing the schema would wait for the lock the consumer takes while it polls."""
    url = app.config["QUEUE_URL"]
    immediate = bool(app.config.get("QUEUE_IMMEDIATE", False))
    name = str(app.config.get("QUEUE_NAME", "perception"))  # tests sharing one Redis each take their own
    if url == "sqlite":
        queue: Huey = SqliteHuey(
            name,
            storage_class=QueueStorage,
            filename=str(Path(app.instance_path) / "queue.db"),
            immediate=immediate,
            timeout=30,
            create_tables=create_tables,
        )
    else:
        queue = RedisHuey(name, url=url, immediate=immediate)

    @queue.task(retries=3, retry_delay=10, name="perception.dispatch_event")
    def dispatch_event(hook_name: str, event: Any) -> None:
        if hook_name not in EVENT_HOOKS:
            raise ValueError(f"{hook_name} is not an event hook")
        with app.app_context():
            getattr(app.extensions["perception"].plugin_manager.hook, hook_name)(app=app, event=event)

    app.extensions["perception"].dispatch_event = dispatch_event

    @queue.periodic_task(crontab(minute="*"), name="perception.drain_outbox")
    def drain_outbox() -> None:
        """A safety net where Huey's own consumer runs without `perception worker`'s drainer."""
        from perception.outbox import drain

        drain(app)

    from perception.webhooks import register_delivery_task

    register_delivery_task(app, queue)
    from perception.dispatch import register_tasks

    register_tasks(app, queue)
    return queue


def emit(app: Flask, hook_name: str, event: Any) -> None:
    """Hand an event to the plugins through the queue (at once when the queue is immediate).

    A response's event goes through the outbox instead (`perception.outbox`): written with the
    response, so that neither is kept without the other.
    """
    app.extensions["perception"].dispatch_event(hook_name, event)


class RunningConsumer:
    """A consumer in this process's threads, and the outbox's drainer beside it; stopped together."""

    def __init__(self, consumer: Consumer, drainer: Drainer) -> None:
        self.consumer = consumer
        self.drainer = drainer

    def stop(self, graceful: bool = False) -> None:
        self.drainer.stop()
        self.consumer.stop(graceful=graceful)


def start_consumer(app: Flask, workers: int = 2) -> RunningConsumer:
    """Start the app's queue consumer and the outbox's drainer in this process's threads (the
    embedded default's `perception serve` where gunicorn does not run, and tests).

    The consumer would take over the process's signals; the server keeps them, and stops the
    consumer itself when it stops.
    """
    from perception.outbox import Drainer

    kept = {number: signal.getsignal(number) for number in _SERVER_SIGNALS}
    consumer = app.extensions["perception"].queue.create_consumer(workers=workers, worker_type="thread", periodic=True)
    consumer.start()
    for number, handler in kept.items():
        signal.signal(number, handler)
    return RunningConsumer(consumer, Drainer(app).start())


_SERVER_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)
