"""Verbatims in reports: customers newest first; employees only from the verbatim threshold, unordered by time."""

from __future__ import annotations

from flask import Flask

from tests.conftest import sign_in
from tests.test_exports import seed


def test_customer_verbatims_are_listed_and_escaped(app: Flask) -> None:
    seed(app, ["Counter"] * 6, customers=3)
    leader = sign_in(app, "leader")
    report = leader.get("/surveys/shop/waves/w1/report").get_data(as_text=True)
    assert "verbatims from customers: 3" in report
    page = leader.get("/surveys/shop/waves/w1/verbatims?side=customer")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Verbatims: 3." in text
    assert '=HYPERLINK("http://x")' not in text and "=HYPERLINK(&#34;http://x&#34;)" in text
    assert leader.get("/surveys/shop/waves/w1/verbatims?side=nobody").status_code == 400
    assert leader.get("/surveys/shop/waves/w1/verbatims?item=nope").status_code == 404
    assert sign_in(app, "employee").get("/surveys/shop/waves/w1/verbatims").status_code == 403


def test_employee_verbatims_wait_for_the_verbatim_threshold(app: Flask) -> None:
    seed(app, ["Counter"] * 9)  # 9 employees: enough for scores (5), not for verbatims (10)
    leader = sign_in(app, "leader")
    report = leader.get("/surveys/shop/waves/w1/report").get_data(as_text=True)
    assert "employees' verbatims hidden (fewer than 10 responses)" in report
    page = leader.get("/surveys/shop/waves/w1/verbatims?side=employee").get_data(as_text=True)
    assert "note 0" not in page and "at least 10 responses" in page


def test_employee_verbatims_come_in_alphabetical_order_without_day(app: Flask) -> None:
    seed(app, ["Counter"] * 6 + ["Phone"] * 6)
    leader = sign_in(app, "leader")
    page = leader.get("/surveys/shop/waves/w1/verbatims?side=employee").get_data(as_text=True)
    notes = sorted(f"note {index}" for index in range(12))  # as text: "note 10" before "note 2"
    positions = [page.index(f'<blockquote dir="auto">{note}</blockquote>') for note in notes]
    assert positions == sorted(positions) and "2027" not in page
    # A team of six is too small for verbatims, even though the whole side is large enough.
    cut = leader.get("/surveys/shop/waves/w1/verbatims?side=employee&segment=employee:team=Counter")
    assert "note 0" not in cut.get_data(as_text=True)
