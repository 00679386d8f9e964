"""The closed loop's pages in a real browser: accessible, and the customer's contact question works."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser
from sqlmodel import select

from perception.db import session_scope
from perception.models import Alert
from tests.browsing import new_context
from tests.conftest import make_account
from tests.test_accessibility import violations
from tests.test_alerts import loop_wave
from tests.test_browser import PHONE, sign_in

pytestmark = pytest.mark.browser


def test_a_customer_asks_to_be_called_back_and_a_lead_handles_the_alert(
    app: Flask, browser: Browser, live_server: str
) -> None:
    token = loop_wave(app)
    context = new_context(browser, live_server, locale="fr-FR", **PHONE)
    page = context.new_page()
    page.goto(f"/p/{token}")
    for key, value in (("recommend", "2"), ("effort", "3"), ("satisfaction", "2")):
        page.locator(f"input[name=item_{key}][value='{value}']").check(force=True)
    page.get_by_label("Oui, par téléphone").check()
    page.get_by_label("Votre adresse e-mail ou votre numéro de téléphone").fill("06 12 34 56 78")
    page.get_by_role("button", name="Envoyer mes réponses").click()
    page.wait_for_url("**/thanks**")
    context.close()
    with session_scope(app) as session:
        alert = session.exec(select(Alert)).one()

    email = make_account(app, "lead")
    context = new_context(browser, live_server, locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, email)
    for path in ("/alerts/", f"/alerts/{alert.id}", "/alerts/rules/loop", "/alerts/figures"):
        page.goto(path)
        assert violations(page) == [], path
    page.goto(f"/alerts/{alert.id}")
    assert page.get_by_text("06 12 34 56 78").is_visible()
    page.get_by_label("Resolved: the customer was contacted").check()
    page.get_by_label("Resolution note").fill("Called back the same day; fee refunded.")
    page.get_by_role("button", name="Close the alert").click()
    page.wait_for_selector("text=The alert is closed.")
    assert violations(page) == [], "closed alert"
    page.get_by_role("link", name="Tell this story").click()
    assert violations(page) == [], "story form"
    page.get_by_label("Title").fill("Called back within the hour")
    for label, text in (("The problem", "Billed twice."), ("What was done", "Refunded at once."),
                        ("The outcome", "She stayed."), ("The lesson", "Call back the same day.")):  # fmt: skip
        page.get_by_label(label).fill(text)
    page.get_by_role("button", name="Send for review").click()
    page.get_by_role("button", name="Publish").click()
    page.wait_for_selector("text=The story is published.")
    assert violations(page) == [], "published story"
    page.goto("/stories/")
    assert page.get_by_role("link", name="Called back within the hour").is_visible()
    assert violations(page) == [], "stories"
    context.close()
