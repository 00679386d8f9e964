"""The outbox: events written in the transaction that stores what they tell, handed to the plugins
by a drainer beside the queue's consumer.

A response and its event are committed together, or neither is: no process dying between the two
can keep one without the other, and the respondent waits for no second write (another file, or
Redis). The drainer claims a batch of waiting events with a lease, calls the plugins, and deletes
the batch: each event reaches the plugins at least once. An event whose hook raised goes to the
queue's ``perception.dispatch_event`` task, whose retries take over; an event claimed by a drainer
that died is claimed again once its lease is old.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import secrets
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Row, delete, insert, or_, select, update

from perception.batch import one_batch
from perception.models import OutboxEvent
from perception.tasks import EVENT_HOOKS

LEASE = timedelta(minutes=5)
"""How long a claim holds: a drainer that has not finished its batch by then is taken for dead."""

_TABLE = OutboxEvent.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = insert(_TABLE)


def event_row(
    hook_name: str, event: Any, *, created_at: datetime | None = None, response_id: int | None = None
) -> dict[str, Any]:
    """The outbox row of ``event`` for the hook ``hook_name``.

    ``created_at`` is now unless given (an employee response's event keeps the day only);
    ``response_id``, when given, is put into the event's own ``response_id`` when it is handed over.
    """
    if hook_name not in EVENT_HOOKS:
        raise ValueError(f"{hook_name} is not an event hook")
    return {
        "hook": hook_name,
        "payload": pickle.dumps(event),
        "created_at": created_at or datetime.now(UTC),
        "response_id": response_id,
    }


def write_event(
    connection: Connection,
    hook_name: str,
    event: Any,
    *,
    created_at: datetime | None = None,
    response_id: int | None = None,
) -> None:
    """Write ``event`` for the hook ``hook_name`` on ``connection``, in the transaction that stores
    what the event tells: committed with it, rolled back with it (see ``event_row``)."""
    # A list of one: executed as a batch, the insert asks nothing back (no RETURNING of the id).
    connection.execute(_INSERT_EVENT, [event_row(hook_name, event, created_at=created_at, response_id=response_id)])


def drainer_name() -> str:
    """A name no other drainer has: this host, this process and a random part (64 characters at most)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _waiting(table: Any, stale: datetime) -> Any:
    return or_(table.c.claimed_by.is_(None), table.c.claimed_at < stale)


def claim(
    connection: Connection, drainer: str, limit: int, now: datetime | None = None, lease: timedelta = LEASE
) -> list[Row[Any]]:
    """Claim up to ``limit`` waiting events, the oldest first, for ``drainer``; uncommitted.

    Waiting: never claimed, or claimed longer than ``lease`` ago. Two drainers never claim the
    same event: on PostgreSQL the inner select skips rows another transaction is claiming, and the
    outer condition is checked again on any row it waited for (READ COMMITTED); on SQLite a
    writer waits for the other to commit and then sees its claims.
    Returns the claimed rows (id, hook, payload, response_id) in the order they were written.
    """
    now = now or datetime.now(UTC)
    stale = now - lease
    inner = _TABLE.alias("waiting")  # not correlated with the updated table: a query of its own
    oldest = select(inner.c.id).where(_waiting(inner, stale)).order_by(inner.c.id).limit(limit)
    statement = (
        update(_TABLE)
        .where(_TABLE.c.id.in_(oldest.with_for_update(skip_locked=True)), _waiting(_TABLE, stale))
        .values(claimed_by=drainer, claimed_at=now)
        .returning(_TABLE.c.id, _TABLE.c.hook, _TABLE.c.payload, _TABLE.c.response_id)
    )
    return sorted(connection.execute(statement).all(), key=lambda row: row.id)


def drain(
    app: Flask,
    limit: int = 500,
    drainer: str | None = None,
    lease: timedelta = LEASE,
    stopping: threading.Event | None = None,
) -> int:
    """Hand every waiting event to the plugins, ``limit`` at a time (until ``stopping`` is set, if
    given); return how many were handed over.

    Each event is handed as the queue's ``dispatch_event`` task would: its hook called in an app
    context. An event whose hook raised is handed to that task, to be tried again by the queue;
    one that could not even be queued stays claimed, and is tried again when its lease is old.
    """
    engine = app.extensions["perception"].engine
    drainer = drainer or drainer_name()
    handed = 0
    while stopping is None or not stopping.is_set():
        with engine.connect() as connection:
            # A look first, in a read transaction: an idle drainer never takes SQLite's write lock.
            now = datetime.now(UTC)
            if connection.execute(select(_TABLE.c.id).where(_waiting(_TABLE, now - lease)).limit(1)).first() is None:
                break
            connection.rollback()
            rows = claim(connection, drainer, limit, now, lease)
            connection.commit()
        done: list[int] = []
        with one_batch():  # the reads the batch's events share (alert rules, listeners) are made once
            for row in rows:
                outcome = _hand_over(app, row)
                if outcome != _KEPT:
                    done.append(row.id)
                handed += outcome == _HANDED
        if done:
            with engine.begin() as connection:
                connection.execute(delete(_TABLE).where(_TABLE.c.id.in_(done)))
        if len(rows) < limit:
            break
    return handed


_HANDED, _KEPT, _DROPPED = "handed", "kept", "dropped"


def _hand_over(app: Flask, row: Row[Any]) -> str:
    """Call the plugins with this event, or queue it when a hook raised (handed); keep it when it
    could not be queued either; drop it, logged, when it can never be handed."""
    state = app.extensions["perception"]
    if row.hook not in EVENT_HOOKS:
        app.logger.error("outbox event %s: %s is not an event hook; dropped", row.id, row.hook)
        return _DROPPED
    try:
        event = pickle.loads(row.payload)
        if row.response_id is not None:
            event = dataclasses.replace(event, response_id=row.response_id)
    except Exception:
        app.logger.exception("outbox event %s (%s) cannot be read; dropped", row.id, row.hook)
        return _DROPPED
    try:
        with app.app_context():
            getattr(state.plugin_manager.hook, row.hook)(app=app, event=event)
    except Exception:
        app.logger.exception("outbox event %s: a %s hook failed; handed to the queue to try again", row.id, row.hook)
        try:
            state.dispatch_event(row.hook, event)
        except Exception:
            app.logger.exception("outbox event %s could not be queued; kept, tried again after its lease", row.id)
            return _KEPT
    return _HANDED


class Drainer:
    """A daemon thread that drains the outbox beside a queue consumer, until stopped.

    After draining everything waiting it waits ``idle_seconds``; when draining itself fails (the
    database is down) it logs the error and tries again after ``retry_seconds``.
    """

    def __init__(self, app: Flask, idle_seconds: float = 0.5, retry_seconds: float = 5.0, limit: int = 500) -> None:
        self.app = app
        self.idle_seconds = idle_seconds
        self.retry_seconds = retry_seconds
        self.limit = limit
        self.name = drainer_name()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Drainer:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="perception-outbox", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop after the batch in hand, if any."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                drain(self.app, self.limit, drainer=self.name, stopping=self._stopping)
            except Exception:
                self.app.logger.exception("the outbox could not be drained; trying again in %s s", self.retry_seconds)
                self._stopping.wait(self.retry_seconds)
                continue
            # Drained to the end: pause even when it handed some over, so that under a steady
            # stream of answers the events go in batches of half a second, not a few at a time
            # (each batch is two write transactions, which the respondents' requests would wait for).
            self._stopping.wait(self.idle_seconds)
