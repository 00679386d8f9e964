"""Invitations sent by a real task-queue consumer (Huey on SQLite, and on Redis when one is reachable), and a
consumer killed in the middle of a batch: nobody receives a message twice, and the rest is sent after a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import func, select

from perception import create_app
from perception.contacts import import_contacts
from perception.db import session_scope
from perception.dispatch import INTERRUPTED, start_dispatch
from perception.invitations import plan_invitations
from perception.models import DispatchItem
from perception.surveys import parse_definition, store_definition
from perception.tasks import start_consumer
from perception.waves import create_wave, open_wave
from tests.mailbox import Mailbox

WAIT_SECONDS = 60.0
DEFINITION = {
    "slug": "bank",
    "title": {"en": "Acme Bank"},
    "items": [{"key": "easy", "dimension": "Time and Effort", "scale": "ces",
               "customer": {"en": "Easy?"}, "employee": {"en": "Do customers find it easy?"}}],
}  # fmt: skip


def wait_until(condition: Callable[[], object], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(0.1)


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip("no Redis at 127.0.0.1:6379")
        return "redis://127.0.0.1:6379/0"
    return "sqlite"


def prepare(app: Flask, contacts: int) -> int:
    """A survey with an open wave and ``contacts`` customers; returns the planned dispatch's id."""
    with session_scope(app) as session:
        survey = store_definition(
            session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
        )
        wave = create_wave(session, survey, "w1")
        open_wave(wave)
        text = "email\n" + "".join(f"c{n}@example.com\n" for n in range(contacts))
        import_contacts(session, "customer", text.encode())
        channel = app.extensions["perception"].registries.channels["email"]
        return plan_invitations(app, session, wave, "customer", channel).id  # type: ignore[return-value]


def counts(app: Flask, dispatch_id: int) -> dict[str, int]:
    with session_scope(app) as session:
        rows = session.exec(
            select(DispatchItem.state, func.count())
            .where(DispatchItem.dispatch_id == dispatch_id)
            .group_by(DispatchItem.state)
        ).all()
    return dict(rows)


@pytest.fixture
def queued_app(app_config: dict[str, object], mailbox: Mailbox, queue_url: str) -> Iterator[Flask]:
    app = create_app({**app_config, **mailbox.settings, "BASE_URL": "http://perception.test",
                      "QUEUE_IMMEDIATE": False, "QUEUE_URL": queue_url, "QUEUE_NAME": f"test-{uuid.uuid4().hex}",
                      "DISPATCH_BATCH": 4})  # fmt: skip
    try:
        yield app
    finally:
        queue = app.extensions["perception"].queue
        if queue_url != "sqlite":
            queue.storage.flush_all()
        app.extensions["perception"].engine.dispose()


def test_a_real_consumer_sends_a_wave_in_batches(queued_app: Flask, mailbox: Mailbox) -> None:
    dispatch_id = prepare(queued_app, 10)
    consumer = start_consumer(queued_app, workers=2)
    try:
        with queued_app.app_context():
            from perception.models import Dispatch

            with session_scope(queued_app) as session:
                start_dispatch(queued_app, session.get(Dispatch, dispatch_id))
        wait_until(lambda: counts(queued_app, dispatch_id).get("sent") == 10, "10 messages marked sent")
    finally:
        consumer.stop(graceful=True)
    addresses = [message["To"] for message in mailbox.wait_for(10)]
    assert sorted(addresses) == sorted(f"c{n}@example.com" for n in range(10))


def _worker(app_config: dict[str, object], mailbox: Mailbox, log: Path) -> subprocess.Popen[bytes]:
    """`perception worker` in its own process, on the test's database and queue."""
    environment = {
        **os.environ,
        "PERCEPTION_DATABASE_URL": str(app_config["DATABASE_URL"]),
        "PERCEPTION_INSTANCE_PATH": str(app_config["INSTANCE_PATH"]),
        "PERCEPTION_BASE_URL": "http://perception.test",
        "PERCEPTION_SMTP_HOST": mailbox.host,
        "PERCEPTION_SMTP_PORT": str(mailbox.port),
        "PERCEPTION_SMTP_SECURITY": "none",
        "PERCEPTION_SMTP_FROM": "surveys@example.com",
        "PERCEPTION_DISPATCH_STALE_SECONDS": "1",
        "PERCEPTION_DISPATCH_BATCH": "100",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "perception", "worker", "--workers", "1"],
        env=environment,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_a_consumer_killed_mid_batch_never_sends_a_message_twice(
    app_config: dict[str, object], mailbox: Mailbox, tmp_path: Path
) -> None:
    app = create_app({**app_config, **mailbox.settings, "BASE_URL": "http://perception.test", "QUEUE_IMMEDIATE": False})
    dispatch_id = prepare(app, 6)
    mailbox.hold_after = 2  # the third message gets no answer: the worker is inside its send
    log = tmp_path / "worker.log"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with session_scope(app) as session:
            from perception.models import Dispatch

            start_dispatch(app, session.get(Dispatch, dispatch_id))
        workers.append(_worker(app_config, mailbox, log))
        wait_until(
            lambda: mailbox.holding.is_set() or workers[0].poll() is not None, "the worker to reach the third message"
        )
        assert workers[0].poll() is None, log.read_text()
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(WAIT_SECONDS)
        mailbox.release()
        assert counts(app, dispatch_id) == {"sent": 2, "sending": 1, "pending": 3}
        with session_scope(app) as session:
            claimed_at = session.exec(select(DispatchItem.claimed_at).where(DispatchItem.state == "sending")).one()
        stale_at = claimed_at.timestamp() + 1.5  # when the restarted worker may call it stale
        wait_until(lambda: time.time() > stale_at, "the claim to grow stale")
        workers.append(_worker(app_config, mailbox, log))
        wait_until(
            lambda: counts(app, dispatch_id) == {"sent": 5, "failed": 1},
            f"the restarted worker to finish (now {counts(app, dispatch_id)}; log {log})",
        )
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(WAIT_SECONDS)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(WAIT_SECONDS)
        mailbox.release()
        app.extensions["perception"].engine.dispose()
    addresses = [message["To"] for message in mailbox.wait_for(5)]
    assert len(addresses) == len(set(addresses)) == 5
    with session_scope(app) as session:
        assert session.exec(select(DispatchItem.error).where(DispatchItem.state == "failed")).one() == INTERRUPTED
