"""The public respondent page in a real browser: light, whole without JavaScript, and local.

A customer on a slow phone connection opens the link from a QR code: the page of a ten-question
survey and its style weigh under 30 kB, the form is answered and sent with JavaScript switched off, and the browser
asks no other host for anything (fonts, scripts, images, trackers), which also means no third
party learns who answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Response, Route
from sqlmodel import func, select

from perception.db import session_scope
from perception.models import Answer
from perception.models import Response as StoredResponse
from perception.surveys import parse_definition, store_definition
from perception.waves import create_wave, open_wave
from tests.browsing import new_context
from tests.test_browser import PHONE

pytestmark = pytest.mark.browser

WEIGHT_LIMIT = 30_000  # bytes of HTML and CSS, as served (before any compression)


def open_ten_item_survey(app: Flask) -> tuple[str, int]:
    """Ten questions from the six-pillars template (nine scales, among them the 0-10 one, and the
    comment box), stored and opened: the survey size the issue weighs. Its public link and size."""
    registries = app.extensions["perception"].registries
    pillars = registries.survey_templates["six-pillars"].definition
    scored = [item for item in pillars["items"] if item["scale"] != "text"]
    items = [*scored[:8], next(item for item in scored if item["scale"] == "nps")]
    items.append(next(item for item in pillars["items"] if item["scale"] == "text"))
    definition = {**pillars, "slug": "ten", "items": items}
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(definition, registries.scoring_models))
        wave = create_wave(session, survey, "w1")
        open_wave(wave)
        return wave.public_token, len(items)


class Network:
    """Every request the page makes; any to another origin is refused and remembered."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.asked: list[str] = []
        self.foreign: list[str] = []
        self.responses: list[Response] = []

    def route(self, route: Route) -> None:
        url = route.request.url
        self.asked.append(url)
        if origin_of(url) != self.origin:
            self.foreign.append(url)
            route.abort()
        else:
            route.continue_()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture
def no_script_phone(browser: Browser, live_server: str) -> Iterator[tuple[BrowserContext, Network]]:
    context = new_context(browser, live_server, java_script_enabled=False, **PHONE)
    network = Network(origin_of(live_server))
    context.route("**/*", network.route)
    yield context, network
    context.close()


def test_the_public_page_is_light_works_without_javascript_and_asks_no_other_host(
    app: Flask, live_server: str, no_script_phone: tuple[BrowserContext, Network]
) -> None:
    token, item_count = open_ten_item_survey(app)
    context, network = no_script_phone
    page = context.new_page()
    page.on("response", lambda response: network.responses.append(response))
    page.goto(f"/p/{token}")

    weighed = {
        response.url: len(response.body())
        for response in network.responses
        if response.request.resource_type in ("document", "stylesheet") and response.status == 200
    }
    assert any(urlsplit(url).path.endswith(".css") for url in weighed), weighed
    assert sum(weighed.values()) < WEIGHT_LIMIT, f"{sum(weighed.values())} bytes of HTML and CSS: {weighed}"
    # Every absolute address in the page and its style is on this site, asked for or not.
    for url in weighed:
        text = context.request.get(url).text()
        for address in re.findall(r"""(?:https?:)?//[^\s"'()<>]+""", text):
            assert origin_of(address if address.startswith("http") else "http:" + address) == network.origin, (
                url,
                address,
            )

    # Answered and sent with JavaScript off, page after page: the first choice of every question,
    # a word in the box.
    for _page in range(item_count):
        names = {radio.get_attribute("name") for radio in page.locator("input[type=radio]").all()}
        for name in sorted(name for name in names if name and name.startswith("item_")):
            page.locator(f"input[type=radio][name={name}]").first.check()
        for box in page.locator("textarea").all():
            box.fill("Quick and kind, thank you.")
        following = page.get_by_role("button", name="Next", exact=True)
        if not following.count():
            break
        following.click()
        page.wait_for_load_state()
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url(re.compile(r"/thanks"))

    assert network.foreign == [], f"requests to other hosts: {network.foreign}"
    assert network.asked, "the page made no request through the browser"
    with session_scope(app) as session:
        assert session.exec(select(func.count()).select_from(StoredResponse)).one() == 1
        assert session.exec(select(func.count()).select_from(Answer)).one() == item_count
