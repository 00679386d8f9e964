"""Within one batch of events, the reads every event shares are made once."""

from __future__ import annotations

from flask import Flask
from sqlmodel import select

from perception.alerts import alert_thresholds
from perception.batch import kept, one_batch
from perception.db import session_scope
from perception.models import AlertRule, Item
from perception.webhooks import send_webhook_event


def test_kept_reads_once_per_key_within_a_batch_and_every_time_outside() -> None:
    reads: list[str] = []

    def read(key: str) -> str:
        reads.append(key)
        return key.upper()

    assert kept("a", lambda: read("a")) == "A" and kept("a", lambda: read("a")) == "A"
    assert reads == ["a", "a"]
    with one_batch():
        assert [kept(key, lambda key=key: read(key)) for key in ("a", "b", "a", "b")] == ["A", "B", "A", "B"]
    assert reads == ["a", "a", "a", "b"]
    with one_batch():
        kept("a", lambda: read("a"))
    assert reads[-1] == "a" and len(reads) == 5


def test_alert_rules_are_read_once_per_batch(app: Flask, core_wave: tuple[str, str]) -> None:
    with one_batch():
        before = alert_thresholds(app, "core")
        with session_scope(app) as session:
            item = session.exec(select(Item).where(Item.key == "satisfaction")).one()
            session.add(AlertRule(item_id=item.id, at_most=3))
        assert alert_thresholds(app, "core") == before  # the batch's copy
    assert alert_thresholds(app, "core") == {**before, "satisfaction": 3}


def test_an_event_nobody_listens_to_costs_one_read_per_batch(app: Flask) -> None:
    from sqlalchemy import event

    from perception.db import engine_of

    seen: list[str] = []
    engine = engine_of(app)

    def record(*args) -> None:  # type: ignore[no-untyped-def]
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        with one_batch():
            assert [send_webhook_event(app, "response.submitted", {"n": n}) for n in range(5)] == [0] * 5
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len([statement for statement in seen if "webhook_endpoint" in statement]) == 1
