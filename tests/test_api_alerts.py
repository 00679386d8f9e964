"""Alerts through the API: a helpdesk sees the unhappy customers' cases and works them."""

from __future__ import annotations

from flask import Flask

from tests.conftest import make_account
from tests.test_api_resources import call, token_for
from tests.test_webhooks import ANSWERS, answer


def test_a_helpdesk_lists_an_alert_takes_it_in_hand_and_closes_it(app: Flask, core_wave: tuple[str, str]) -> None:
    answer(app, "customer", ANSWERS)  # recommend 3: a detractor opens an alert
    client = app.test_client()
    headers = token_for(app, "alerts:manage")
    listed = call(client, "GET", "/alerts?status=open", headers).get_json()
    assert len(listed["data"]) >= 1 and listed["next_cursor"] is None
    alert = next(alert for alert in listed["data"] if alert["item"] == "recommend")
    assert (alert["kind"], alert["survey"], alert["wave"], alert["value"]) == ("answer", "core", "w1", 3)
    owner = make_account(app, "lead")
    taken = call(client, "PATCH", f"/alerts/{alert['id']}", headers, json={"owner": owner, "status": "in_progress"})
    assert taken.status_code == 200 and taken.get_json()["owner"] == owner
    assert taken.get_json()["status"] == "in_progress"
    unsaid = call(client, "PATCH", f"/alerts/{alert['id']}", headers, json={"status": "resolved"}).get_json()
    assert unsaid["status"] == 422 and "resolution note" in unsaid["detail"]
    closed = call(client, "PATCH", f"/alerts/{alert['id']}", headers,
                  json={"status": "resolved", "note": "Called back, refunded", "customer_kept": True})  # fmt: skip
    assert closed.get_json()["status"] == "resolved" and closed.get_json()["customer_kept"] is True
    again = call(client, "PATCH", f"/alerts/{alert['id']}", headers, json={"status": "closed_without_contact",
                                                                            "note": "x"})  # fmt: skip
    assert again.status_code == 409
    assert call(client, "PATCH", f"/alerts/{alert['id']}", headers, json={}).status_code == 422
    assert call(client, "GET", "/alerts/999999", headers).status_code == 404
    assert call(client, "GET", "/alerts", token_for(app, "reports:read")).status_code == 403
