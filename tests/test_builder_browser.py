"""In a real browser: a lead builds a mirrored survey from scratch, previews both sides in both
languages, opens a wave, and a customer (on a phone) and a signed-in employee answer it.

Screenshots of the builder and of the respondent page at phone width go to the test's own
temporary folder (``PERCEPTION_SCREENSHOTS`` to keep them elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from perception.db import session_scope
from perception.models import Response
from tests.browsing import new_context
from tests.conftest import PASSWORD, make_account
from tests.test_accessibility import violations
from tests.test_browser import PHONE, sign_in

pytestmark = pytest.mark.browser

ITEMS = [
    {
        "key": "recommend",
        "dimension": "Loyalty",
        "scale": "nps",
        "why": True,
        "customer_en": "How likely are you to recommend us to a friend?",
        "customer_fr": "Quelle est la probabilité que vous nous recommandiez à un ami ?",
        "employee_en": "How likely do you think customers are to recommend us to a friend?",
        "employee_fr": "Selon vous, nos clients nous recommanderaient-ils à un ami ?",
    },
    {
        "key": "solved",
        "dimension": "Resolution",
        "scale": "binary",
        "customer_en": "Was your problem solved?",
        "customer_fr": "Votre problème a-t-il été résolu ?",
        "employee_en": "Do you think customers' problems are solved?",
        "employee_fr": "Selon vous, les problèmes des clients sont-ils résolus ?",
    },
]


def _fill_item(page: Page, index: int, item: dict[str, object]) -> None:
    prefix = f"#items-{index}-"
    for field in ("key", "dimension", "customer_en", "customer_fr", "employee_en", "employee_fr"):
        page.locator(prefix + field).fill(str(item[field]))
    page.locator(prefix + "scale").select_option(str(item["scale"]))
    if item.get("why"):
        page.locator(f"input[name='items-{index}-why']").check()


def _shots(app: Flask, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PERCEPTION_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_lead_builds_a_mirrored_survey_and_both_sides_answer_it(
    app: Flask, browser: Browser, live_server: str, tmp_path: Path
) -> None:
    shots = _shots(app, tmp_path)
    lead_email = make_account(app, "lead")
    employee_email = make_account(app, "employee")

    lead = new_context(browser, live_server, viewport={"width": 1280, "height": 900})
    page = lead.new_page()
    sign_in(page, lead_email)
    page.goto("/surveys/new")
    page.locator("#scratch-slug").fill("after-support")
    page.get_by_role("button", name="Open the builder").click()
    page.locator("#title_en").fill("After your call")
    page.locator("#title_fr").fill("Après votre appel")
    _fill_item(page, 0, ITEMS[0])
    page.get_by_role("button", name="Add an item").click()
    expect(page.locator("#items-1-key")).to_be_visible()
    assert page.locator("#items-0-customer_fr").input_value() == ITEMS[0]["customer_fr"]  # kept across the re-show
    _fill_item(page, 1, ITEMS[1])
    page.get_by_role("button", name="Move up item 2").click()
    assert page.locator("#items-0-key").input_value() == "solved"
    page.get_by_role("button", name="Move down item 1").click()
    assert page.locator("#items-0-key").input_value() == "recommend"
    page.get_by_role("button", name="Save the survey").first.click()
    expect(page.locator(".flash")).to_contain_text("Survey created")
    page.screenshot(path=str(shots / "survey-builder.png"), full_page=True)
    assert violations(page) == [], "builder"

    for side, language, item in (("customer", "en", 0), ("customer", "fr", 0), ("employee", "en", 1),
                                 ("employee", "fr", 1)):  # fmt: skip
        page.goto(f"/surveys/after-support/preview/{side}?lang={language}")
        expect(page.locator("legend").first).to_contain_text(str(ITEMS[0][f"{side}_{language}"]))
        expect(page.locator("main")).to_contain_text(str(ITEMS[item][f"{side}_{language}"]))
        expect(page.locator(".preview-banner")).to_be_visible()
        assert violations(page) == [], page.url

    page.goto("/surveys/after-support")
    page.locator("#name").fill("w1")
    page.get_by_role("button", name="Create the wave").click()
    page.get_by_role("button", name="Open the wave").click()
    expect(page.locator(".flash")).to_contain_text("The wave is open")
    public = page.get_by_label("Public customer link").input_value()
    lead.close()

    phone = new_context(browser, live_server, locale="fr-FR", **PHONE)
    customer = phone.new_page()
    customer.goto(public.replace(live_server, "") + "?score=4")
    expect(customer.locator(".clicked")).to_contain_text("4")
    assert violations(customer) == []
    customer.screenshot(path=str(shots / "respondent-one-click-phone.png"), full_page=True)
    customer.locator("#why_recommend").fill("Trop d'attente au téléphone.")
    customer.locator("label.choice", has_text="Non").click()
    customer.get_by_role("button", name="Envoyer mes réponses").click()
    expect(customer.locator("h1")).to_have_text("Merci")
    assert violations(customer) == []
    phone.close()

    desk = new_context(browser, live_server, viewport={"width": 1280, "height": 900})
    staff = desk.new_page()
    staff.goto("/login")
    staff.get_by_label("Email").fill(employee_email)
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    staff.get_by_role("link", name="Respond").first.click()
    expect(staff.locator("main")).to_contain_text(str(ITEMS[0]["employee_en"]))
    assert violations(staff) == []
    staff.locator("label.choice", has_text="9").first.click()
    staff.locator("label.choice", has_text="Yes").click()
    staff.get_by_role("button", name="Send my answers").click()
    expect(staff.locator("h1")).to_have_text("Thank you")
    staff.goto("/")
    expect(staff.locator(".staff-surveys")).to_contain_text("answered, thank you")
    desk.close()

    with session_scope(app) as session:
        sides = sorted(session.exec(select(Response.side)).all())
    assert sides == ["customer", "employee"]
    assert (shots / "survey-builder.png").stat().st_size > 0
    assert (shots / "respondent-one-click-phone.png").stat().st_size > 0
