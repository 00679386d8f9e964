"""Webhooks: admins register endpoints per event; each event goes out signed, through the queue.

Signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
HMAC-SHA256 of `id.timestamp.body` with the endpoint's secret), so a receiver verifies it with
any Standard Webhooks library. Each delivery is a row of the delivery log; the queue sends it,
and when the endpoint fails (an error status, a refused connection, a timeout) sends it again
later, waiting longer each time, up to `len(RETRY_DELAYS) + 1` attempts.

The built-in webhooks plugin (`perception_plugins.webhooks`) turns the event hooks into calls
of `send_event`; what an event carries is decided there, and an employee-side event never
carries anything that identifies a respondent.
"""

from __future__ import annotations

import base64
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from huey import Huey
from sqlmodel import Session, select
from standardwebhooks import Webhook

from perception.batch import kept
from perception.db import session_scope
from perception.models import WebhookDelivery, WebhookEndpoint

EVENT_TYPES: dict[str, str] = {
    "response.submitted": "a response is submitted",
    "wave.opened": "a wave opens",
    "wave.closed": "a wave closes",
    "alert.opened": "an alert opens (an unhappy customer, a widening gap)",
    "story.published": "a best-failure story is published",
    "idea.state_changed": "a lead decides on an idea (a new state, with the official answer)",
}
TEST_EVENT = "webhook.test"
RETRY_DELAYS: tuple[int, ...] = (10, 60, 300, 1800, 7200)  # seconds before each new attempt
TIMEOUT_SECONDS = 10
KEPT_RESPONSE_CHARS = 1000
USER_AGENT = "perception-webhooks"


class WebhookError(ValueError):
    """An endpoint cannot be registered as asked."""


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("the endpoint must be an http:// or https:// URL with a host")
    if len(url) > 2000:
        raise WebhookError("the endpoint URL is longer than 2000 characters")
    return url


def create_endpoint(
    session: Session, url: str, events: list[str], description: str, created_by: int | None
) -> WebhookEndpoint:
    """Register an endpoint; its secret is made here and shown to the admin to give the receiver."""
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise WebhookError(f"events must be among {', '.join(EVENT_TYPES)}; got {', '.join(unknown) or 'none'}")
    endpoint = WebhookEndpoint(
        url=check_url(url),
        description=description.strip()[:200],
        events=" ".join(sorted(set(events))),
        secret=new_secret(),
        active=True,
        created_at=datetime.now(UTC),
        created_by=created_by,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def endpoints_for(session: Session, event_type: str) -> list[WebhookEndpoint]:
    endpoints = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))).all()  # type: ignore[attr-defined]
    return [endpoint for endpoint in endpoints if event_type in endpoint.events.split()]


def _listening(app: Flask, event_type: str) -> tuple[int, ...]:
    """The active endpoints listening to the event (read once per batch of the outbox)."""
    with session_scope(app) as session:
        return tuple(int(endpoint.id) for endpoint in endpoints_for(session, event_type))  # type: ignore[arg-type]


def payload(event_type: str, data: Mapping[str, Any], when: datetime | None = None) -> str:
    """The body of a delivery: the event's type, when it happened, and its data."""
    when = when or datetime.now(UTC)
    return json.dumps(
        {"type": event_type, "timestamp": when.isoformat(timespec="seconds"), "data": dict(data)},
        ensure_ascii=False, separators=(",", ":"), default=str,
    )  # fmt: skip


def _queue_delivery(session: Session, endpoint_id: int, event_type: str, body: str) -> WebhookDelivery:
    delivery = WebhookDelivery(
        endpoint_id=endpoint_id,
        event_type=event_type,
        message_id="msg_" + secrets.token_urlsafe(18),
        payload=body,
        state="pending",
        attempts=0,
        created_at=datetime.now(UTC),
    )
    session.add(delivery)
    session.flush()
    return delivery


def send_webhook_event(app: Flask, event_type: str, data: Mapping[str, Any]) -> int:
    """Log one delivery per endpoint registered for the event and hand each to the queue.

    Returns how many deliveries were queued. Called from event hooks, which already run on the
    queue, so the sending itself is one more task per endpoint: a slow endpoint holds up no other.
    """
    endpoint_ids = kept(("webhook_endpoints", event_type), lambda: _listening(app, event_type))
    if not endpoint_ids:
        return 0
    body = payload(event_type, data)
    with session_scope(app) as session:
        ids = [_queue_delivery(session, endpoint_id, event_type, body).id for endpoint_id in endpoint_ids]
    for delivery_id in ids:
        app.extensions["perception"].deliver_webhook(delivery_id)
    return len(ids)


def send_test_event(app: Flask, endpoint_id: int) -> int:
    """Queue a `webhook.test` delivery to one endpoint, whatever events it listens to."""
    with session_scope(app) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            raise WebhookError(f"there is no webhook endpoint {endpoint_id}")
        body = payload(TEST_EVENT, {"endpoint": endpoint.id, "message": "A test event from perception."})
        delivery_id = _queue_delivery(session, endpoint_id, TEST_EVENT, body).id
    app.extensions["perception"].deliver_webhook(delivery_id)
    return delivery_id


def signed_headers(secret: str, message_id: str, body: str, now: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers of a delivery."""
    now = now or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def _post(url: str, body: str, headers: Mapping[str, str]) -> tuple[int | None, str, str | None]:
    """POST once: (status, start of the response body, error) - never raises for the endpoint's faults."""
    request = urllib.request.Request(url, data=body.encode("utf-8"), headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read(KEPT_RESPONSE_CHARS).decode("utf-8", "replace"), None
    except urllib.error.HTTPError as error:
        return error.code, error.read(KEPT_RESPONSE_CHARS).decode("utf-8", "replace"), None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return None, "", f"{type(reason).__name__}: {reason}"[:500]


def attempt(app: Flask, delivery_id: int) -> int | None:
    """Send one delivery once and log the outcome; return the seconds before the next attempt, or None."""
    with session_scope(app) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.state != "pending":
            return None
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None or not endpoint.active:
            delivery.state = "failed"
            delivery.last_error = "the endpoint was disabled"
            return None
        url, secret, message_id, body = endpoint.url, endpoint.secret, delivery.message_id, delivery.payload
    status, text, error = _post(url, body, signed_headers(secret, message_id, body))
    now = datetime.now(UTC)
    with session_scope(app) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status = status
        delivery.last_response = text
        delivery.last_error = error
        if status is not None and 200 <= status < 300:
            delivery.state = "delivered"
            delivery.next_attempt_at = None
            return None
        if delivery.attempts > len(RETRY_DELAYS):
            delivery.state = "failed"
            delivery.next_attempt_at = None
            return None
        delay = RETRY_DELAYS[delivery.attempts - 1]
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        return delay


def register_delivery_task(app: Flask, queue: Huey) -> None:
    """Add the delivery task to the app's queue: each failure schedules the next attempt, later."""

    @queue.task(name="perception.deliver_webhook")
    def deliver_webhook(delivery_id: int) -> None:
        delay = attempt(app, delivery_id)
        if delay is not None:
            deliver_webhook.schedule(args=(delivery_id,), delay=delay)

    app.extensions["perception"].deliver_webhook = deliver_webhook


def recent_deliveries(session: Session, endpoint_id: int, limit: int = 20) -> list[WebhookDelivery]:
    return list(
        session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())  # type: ignore[union-attr]
            .limit(limit)
        ).all()
    )
