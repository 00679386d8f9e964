"""The outbox: a response's event is written in the response's own transaction, and drained to the
plugins at least once, by one drainer at a time, even after a drainer died in the middle."""

from __future__ import annotations

import pickle
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import event as sa_event
from sqlalchemy import func, update
from sqlmodel import Session, select

import perception.outbox as outbox
from perception import ResponseSubmitted, create_app, hookimpl
from perception.db import engine_of, session_scope
from perception.models import OutboxEvent, Response, Survey, Wave
from perception.outbox import Drainer, claim, drain, write_event
from perception.responses import check_answers, record_response
from perception.surveys import items_of
from perception.waves import today
from tests.conftest import open_core_wave
from tests.test_serve import wait_until

HOOK = "perception_response_submitted"
TABLE = OutboxEvent.__table__  # type: ignore[attr-defined]
ANSWERS = {"recommend": 9, "satisfaction": 4, "effort": 6, "comment": "Fine"}


class Recorder:
    """A plugin that remembers each response event it is given, and raises for those it is told to."""

    def __init__(self, fail: Callable[[ResponseSubmitted], bool] = lambda _event: False, pause: float = 0.0) -> None:
        self.events: list[ResponseSubmitted] = []
        self.fail = fail
        self.pause = pause
        self.lock = threading.Lock()

    @hookimpl
    def perception_response_submitted(self, app: Flask, event: ResponseSubmitted) -> None:
        with self.lock:
            self.events.append(event)
        time.sleep(self.pause)
        if self.fail(event):
            raise RuntimeError(f"the plugin fails on {event.answers}")

    def numbers(self) -> list[int]:
        with self.lock:
            return [event.answers["n"] for event in self.events]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def queued(app_config: dict[str, object], recorder: Recorder) -> Iterator[Flask]:
    """An app whose queue is not immediate: nothing reaches the plugins until the outbox is drained."""
    app = create_app({**app_config, "QUEUE_IMMEDIATE": False}, plugins=[recorder])
    yield app
    app.extensions["perception"].engine.dispose()


def respond(app: Flask, side: str = "customer", session: Session | None = None) -> None:
    """One response to the `core` survey's open wave `w1` (made the first time)."""
    with session_scope(app) as scope:
        if scope.exec(select(Wave)).first() is None:
            open_core_wave(app)
    with session_scope(app) if session is None else nullcontext(session) as session:
        survey = session.exec(select(Survey)).one()
        wave = session.exec(select(Wave)).one()
        answers = check_answers(items_of(session, survey), ANSWERS)
        record_response(app, session, survey, wave, side, answers, language="en")


def waiting(app: Flask) -> list[dict[str, object]]:
    with engine_of(app).connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(TABLE).order_by(TABLE.c.id))]


def responses(app: Flask) -> int:
    with engine_of(app).connect() as connection:
        return connection.execute(select(func.count()).select_from(Response.__table__)).scalar_one()  # type: ignore[attr-defined]


def numbered(n: int) -> ResponseSubmitted:
    return ResponseSubmitted(
        survey_slug="core", wave_name="w1", side="customer", submitted_on=date(2026, 1, 5), answers={"n": n}
    )


def write_numbered(app: Flask, *numbers: int) -> None:
    with engine_of(app).begin() as connection:
        for n in numbers:
            write_event(connection, HOOK, numbered(n))


def test_the_event_waits_in_the_outbox_until_drained_and_reaches_the_plugins_once(
    queued: Flask, recorder: Recorder
) -> None:
    respond(queued)
    [row] = waiting(queued)
    assert row["hook"] == HOOK and row["claimed_by"] is None
    assert recorder.events == []  # nothing went through the queue
    with engine_of(queued).connect() as connection:
        stored = connection.execute(select(Response.__table__.c.id)).scalar_one()  # type: ignore[attr-defined]
    # The row names the response; the event is completed from it when handed over.
    assert row["response_id"] == stored and pickle.loads(row["payload"]).response_id is None

    assert drain(queued) == 1
    assert waiting(queued) == []
    [event] = recorder.events
    assert (event.survey_slug, event.wave_name, event.side) == ("core", "w1", "customer")
    assert event.answers == ANSWERS and event.response_id == stored
    assert drain(queued) == 0
    assert len(recorder.events) == 1


def test_a_response_rolled_back_leaves_no_event(queued: Flask) -> None:
    respond(queued)
    assert drain(queued) == 1
    seen_before_commit: list[int] = []

    def refuse(session: Session) -> None:
        # The event is there, in the response's own transaction, before the commit...
        count = select(func.count()).select_from(TABLE)
        seen_before_commit.append(session.connection().execute(count).scalar_one())
        raise RuntimeError("the commit fails")

    with Session(engine_of(queued), expire_on_commit=False) as session:
        sa_event.listen(session, "before_commit", refuse)
        with pytest.raises(RuntimeError, match="the commit fails"):
            respond(queued, session=session)
        session.rollback()
    assert seen_before_commit == [1]
    # ...and goes with it.
    assert responses(queued) == 1
    assert waiting(queued) == []


def test_the_immediate_queue_hands_the_event_over_before_the_response_is_acknowledged(
    app_config: dict[str, object], recorder: Recorder
) -> None:
    app = create_app(app_config, plugins=[recorder])  # the tests' immediate queue
    try:
        respond(app)
        assert len(recorder.events) == 1
        assert waiting(app) == []
    finally:
        app.extensions["perception"].engine.dispose()


def test_an_employee_response_event_keeps_the_day_only(queued: Flask) -> None:
    respond(queued, "employee")
    respond(queued, "customer")
    employee, customer = waiting(queued)
    day = datetime.now(UTC).date()
    assert employee["created_at"] == datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert abs(datetime.now(UTC) - customer["created_at"]) < timedelta(minutes=1)
    assert employee["response_id"] is None and customer["response_id"] is not None  # nothing leads to the former


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # only SQLite keeps dates as text
def test_on_sqlite_a_response_s_dates_are_stored_as_sqlalchemy_stores_them(queued: Flask) -> None:
    # The respondent's rows go through SQLite's cursor, the other events through SQLAlchemy: SQLite
    # compares and orders these columns as text, so both must write the same text.
    assert engine_of(queued).dialect.name == "sqlite"
    respond(queued, "employee")
    respond(queued, "customer")
    write_numbered(queued, 1)
    with engine_of(queued).connect() as connection:
        created = connection.exec_driver_sql("SELECT created_at FROM outbox_event ORDER BY id").scalars().all()
        days = connection.exec_driver_sql("SELECT submitted_on FROM response ORDER BY id").scalars().all()
    assert len(created) == 3 and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", text) for text in created)
    assert created[0].endswith(" 00:00:00.000000")  # the employee's event keeps the day only
    assert days == [today().isoformat()] * 2


def test_only_event_hooks_are_written(queued: Flask) -> None:
    with engine_of(queued).begin() as connection, pytest.raises(ValueError, match="not an event hook"):
        write_event(connection, "perception_register_channels", numbered(1))
    assert waiting(queued) == []


def test_a_failing_hook_sends_its_event_to_the_queue_and_the_rest_of_the_batch_still_goes(
    queued: Flask, recorder: Recorder
) -> None:
    recorder.fail = lambda event: event.answers["n"] == 2
    write_numbered(queued, 1, 2, 3, 4)
    assert drain(queued, limit=10) == 4
    assert recorder.numbers() == [1, 2, 3, 4]
    assert waiting(queued) == []
    [task] = queued.extensions["perception"].queue.pending()
    assert task.name == "perception.dispatch_event"
    assert task.args == (HOOK, numbered(2))  # the queue's retries take over


def test_an_event_that_cannot_be_queued_either_stays_until_its_lease_is_old(
    queued: Flask, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder.fail = lambda event: event.answers["n"] == 2

    def queue_down(*_args: object) -> None:
        raise ConnectionError("the queue is down")

    monkeypatch.setattr(queued.extensions["perception"], "dispatch_event", queue_down)
    write_numbered(queued, 1, 2, 3)
    assert drain(queued) == 2
    [kept] = waiting(queued)
    assert pickle_answers(kept) == {"n": 2} and kept["claimed_by"] is not None
    assert drain(queued) == 0  # its claim holds
    monkeypatch.undo()
    recorder.fail = lambda _event: False
    assert drain(queued, lease=timedelta(0)) == 1
    assert recorder.numbers() == [1, 2, 3, 2]
    assert waiting(queued) == []


def pickle_answers(row: dict[str, object]) -> object:
    return pickle.loads(row["payload"]).answers  # type: ignore[arg-type]


def test_two_drainers_never_claim_the_same_event(queued: Flask) -> None:
    """The first claims two events and has not committed yet when the second claims: the second
    takes the other two (on PostgreSQL at once, skipping the rows being claimed; on SQLite once the
    first has committed)."""
    write_numbered(queued, 1, 2, 3, 4)
    engine = engine_of(queued)
    second: list[int] = []
    with engine.connect() as first_connection:
        first = [row.id for row in claim(first_connection, "first", 2)]

        def claim_second() -> None:
            with engine.connect() as connection:
                second.extend(row.id for row in claim(connection, "second", 10))
                connection.commit()

        racing = threading.Thread(target=claim_second)
        racing.start()
        racing.join(0.5)
        first_connection.commit()
    racing.join(30)
    assert not racing.is_alive()
    assert len(first) == 2 and len(second) == 2
    assert not set(first) & set(second)
    owners = {row["id"]: row["claimed_by"] for row in waiting(queued)}
    assert owners == {**dict.fromkeys(first, "first"), **dict.fromkeys(second, "second")}


def test_two_drainers_at_once_hand_each_event_over_once(queued: Flask, recorder: Recorder) -> None:
    recorder.pause = 0.002
    write_numbered(queued, *range(40))
    handed: list[int] = []
    threads = [threading.Thread(target=lambda: handed.append(drain(queued, limit=3))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(handed) == 40
    assert Counter(recorder.numbers()) == Counter(range(40))
    assert waiting(queued) == []


def test_an_event_claimed_by_a_dead_drainer_is_drained_again_a_fresh_claim_is_not(
    queued: Flask, recorder: Recorder
) -> None:
    write_numbered(queued, 1, 2)
    first, second = (row["id"] for row in waiting(queued))
    now = datetime.now(UTC)
    with engine_of(queued).begin() as connection:
        for id_, claimed_at in ((first, now - outbox.LEASE - timedelta(seconds=5)), (second, now)):
            connection.execute(
                update(TABLE).where(TABLE.c.id == id_).values(claimed_by="gone:1:0", claimed_at=claimed_at)
            )
    assert drain(queued) == 1
    assert recorder.numbers() == [1]
    [left] = waiting(queued)
    assert (left["id"], left["claimed_by"]) == (second, "gone:1:0")


def test_the_periodic_task_drains(queued: Flask, recorder: Recorder) -> None:
    queue = queued.extensions["perception"].queue
    write_numbered(queued, 1)
    [task] = [task for task in queue.read_periodic(datetime.now()) if task.name == "perception.drain_outbox"]
    queue.execute(task)
    assert recorder.numbers() == [1]
    assert waiting(queued) == []


def test_the_drainer_thread_drains_until_stopped(queued: Flask, recorder: Recorder) -> None:
    drainer = Drainer(queued).start()
    try:
        assert drainer.running
        write_numbered(queued, 1)
        wait_until(lambda: recorder.numbers() == [1], 10)
        write_numbered(queued, 2, 3)
        wait_until(lambda: recorder.numbers() == [1, 2, 3], 10)
    finally:
        drainer.stop()
    assert not drainer.running
    write_numbered(queued, 4)
    time.sleep(0.7)  # longer than the drainer's pause: it would have looked again
    assert recorder.numbers() == [1, 2, 3]
    assert len(waiting(queued)) == 1


def test_a_drainer_waiting_for_events_stops_at_once(queued: Flask) -> None:
    drainer = Drainer(queued, idle_seconds=30).start()
    time.sleep(0.3)  # it has found nothing, and waits
    started = time.monotonic()
    drainer.stop()
    assert time.monotonic() - started < 5
    assert not drainer.running


def test_a_failing_drain_does_not_stop_the_drainer(
    queued: Flask, recorder: Recorder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failures = []
    real_drain = outbox.drain

    def database_down_twice(app: Flask, *args: object, **kwargs: object) -> int:
        if len(failures) < 2:
            failures.append(1)
            raise ConnectionError("the database is down")
        return real_drain(app, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(outbox, "drain", database_down_twice)
    write_numbered(queued, 1)
    drainer = Drainer(queued, retry_seconds=0.05).start()
    try:
        wait_until(lambda: recorder.numbers() == [1], 10)
        assert drainer.running
    finally:
        drainer.stop()
    assert len(failures) == 2
    assert "the outbox could not be drained" in caplog.text
