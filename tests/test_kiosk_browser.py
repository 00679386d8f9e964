"""The kiosk in a real browser on a tablet: a lead starts it, customers answer, it comes back to its start.

The page's clock is Playwright's, moved forward by the test, so the inactivity reset is tested
without waiting for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import select

from perception.db import session_scope
from perception.models import Response
from perception.surveys import parse_definition, store_definition
from perception.waves import create_wave, open_wave
from tests.browsing import new_context
from tests.conftest import PASSWORD, make_account
from tests.test_accessibility import violations
from tests.test_browser import choose, screenshot  # noqa: F401  (screenshot: the fixture)
from tests.test_kiosk import DEFINITION, stored_segments

pytestmark = pytest.mark.browser

TABLET = {"viewport": {"width": 820, "height": 1180}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def shop_wave(app: Flask) -> None:
    with session_scope(app) as session:
        survey = store_definition(
            session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
        )
        open_wave(create_wave(session, survey, "w1", kind="hot"))


@pytest.fixture
def tablet(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    context = new_context(browser, live_server, locale="fr-FR", **TABLET)
    yield context
    context.close()


def start_kiosk(app: Flask, page: Page) -> str:
    """The lead, on the tablet, sets a kiosk up for the Lyon site and starts it there; returns its start."""
    page.goto("/login?lang=en")
    page.get_by_label("Email").fill(make_account(app, "lead", language="en"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Surveys", level=1)).to_be_visible()
    page.goto("/surveys/shop/waves/w1/sending")
    kiosks = page.locator("section", has=page.get_by_role("heading", name="Kiosks"))
    kiosks.get_by_label("Name of the kiosk").fill("Lyon, front desk")
    kiosks.get_by_label("Site").select_option("Lyon")
    kiosks.get_by_role("button", name="Set up a kiosk").click()
    expect(page.get_by_role("heading", name="Kiosk Lyon, front desk")).to_be_visible()
    page.get_by_role("button", name="Start the kiosk on this device (signs you out)").click()
    expect(page.get_by_role("link", name="Commencer")).to_be_visible()
    return page.url.removeprefix(page.url.split("/k/")[0])


def test_the_kiosk_starts_afresh_after_each_response_and_after_inactivity(
    app: Flask,
    shop_wave: None,
    tablet: BrowserContext,
    screenshot: Callable[[Page, str], None],  # noqa: F811  (the fixture, imported above)
) -> None:
    page = tablet.new_page()
    page.clock.install()
    home = start_kiosk(app, page)
    assert re.fullmatch(r"/k/\d+\.[A-Za-z0-9_-]{22}\?lang=fr", home), home
    screenshot(page, "kiosk-start-tablet.png")

    # A first customer answers; the thank-you goes back to the start by itself.
    page.get_by_role("link", name="Commencer").tap()
    expect(page.get_by_role("group", name="Nous recommanderiez-vous ?")).to_be_visible()
    expect(page.locator("[name=contact_address]")).to_have_count(0)  # no address asked on a shared tablet
    screenshot(page, "kiosk-form-tablet.png")
    choose(page, {"recommend": 9})
    page.locator("#item_comment textarea").fill("Accueil rapide")
    page.get_by_role("button", name="Envoyer mes réponses").tap()
    expect(page.get_by_role("heading", name="Merci")).to_be_visible()
    screenshot(page, "kiosk-thanks-tablet.png")
    page.wait_for_load_state()  # the deferred script has armed its timer: the heading may show before
    page.clock.fast_forward(app.config["KIOSK_THANKS_SECONDS"] * 1000)
    expect(page).to_have_url(re.compile(re.escape(home) + "$"))
    expect(page.get_by_role("link", name="Commencer")).to_be_visible()

    # A second one starts, then walks away: touches keep the form, a minute without one resets it.
    page.get_by_role("link", name="Commencer").tap()
    choose(page, {"recommend": 3})
    page.wait_for_load_state()
    idle = app.config["KIOSK_IDLE_SECONDS"] * 1000
    page.clock.fast_forward(idle - 5_000)
    choose(page, {"recommend": 4})
    page.clock.fast_forward(idle - 5_000)
    expect(page.get_by_role("button", name="Envoyer mes réponses")).to_be_visible()
    page.clock.fast_forward(idle)
    expect(page).to_have_url(re.compile(re.escape(home) + "$"))

    # The next person cannot go back to the half-answered form.
    page.go_back()
    expect(page.locator("input[type=radio]:checked")).to_have_count(0)
    page.goto(home.replace("?lang=fr", "/answer?lang=fr"))
    expect(page.locator("input[type=radio]:checked")).to_have_count(0)

    assert stored_segments(app) == [{"site": "Lyon"}]
    with session_scope(app) as session:
        assert [r.language for r in session.exec(select(Response)).all()] == ["fr"]


def test_kiosk_pages_have_no_accessibility_violations(app: Flask, shop_wave: None, tablet: BrowserContext) -> None:
    page = tablet.new_page()
    home = start_kiosk(app, page)
    assert violations(page) == [], "start"
    page.get_by_role("link", name="Commencer").tap()
    expect(page.get_by_role("group", name="Nous recommanderiez-vous ?")).to_be_visible()
    assert violations(page) == [], "form"
    page.get_by_role("button", name="Envoyer mes réponses").tap()
    page.wait_for_selector(".error-summary")
    assert violations(page) == [], "form with errors"
    choose(page, {"recommend": 10})
    page.get_by_role("button", name="Envoyer mes réponses").tap()
    expect(page.get_by_role("heading", name="Merci")).to_be_visible()
    assert violations(page) == [], "thanks"
    page.goto(home.replace("?lang=fr", "?lang=en"))
    expect(page.get_by_role("link", name="Start")).to_be_visible()
    assert violations(page) == [], "start in English"
