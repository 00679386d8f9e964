"""axe-core finds no WCAG 2.1 A/AA violation on the pages people use, at phone and desktop width."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page

from perception.db import session_scope
from perception.waves import find_survey, find_wave, issue_links
from tests.browsing import new_context
from tests.conftest import make_account
from tests.test_browser import PASSWORD, PHONE, sign_in
from tests.test_report import ALL, seed

pytestmark = pytest.mark.browser

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def violations(page: Page) -> list[str]:
    results = Axe().run(page, options=WCAG)
    return [
        f"{violation['id']}: {violation['help']} ({', '.join(node['target'][0] for node in violation['nodes'][:3])})"
        for violation in results.response["violations"]
    ]


def test_respondent_pages_have_no_accessibility_violations(
    app: Flask,
    browser: Browser,
    live_server: str,
) -> None:
    seed(app, ALL)
    with session_scope(app) as session:
        wave = find_wave(session, find_survey(session, "gaps"), "w1")
        customer, employee = (issue_links(session, wave, side, 1, 30)[0].token for side in ("customer", "employee"))
    for options, language in ((PHONE, "fr-FR"), ({"viewport": {"width": 1280, "height": 900}}, "en-US")):
        context = new_context(browser, live_server, locale=language, **options)
        page = context.new_page()
        for token in (customer, employee):
            page.goto(f"/r/{token}")
            assert violations(page) == [], page.url
        page.goto(f"/r/{customer}")
        page.get_by_role("button").last.click()  # nothing chosen: the error summary shows
        page.wait_for_selector(".error-summary")
        assert violations(page) == [], "form with errors"
        page.goto("/thanks")
        assert violations(page) == [], "thanks"
        page.goto("/r/not-a-link")
        assert violations(page) == [], "invalid link"
        context.close()


def test_staff_pages_have_no_accessibility_violations(
    app: Flask,
    browser: Browser,
    live_server: str,
) -> None:
    seed(app, ALL)
    email = make_account(app, "admin")
    context = new_context(browser, live_server, locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/login")
    assert violations(page) == [], "login"
    sign_in(page, email)
    for path in ("/surveys/", "/surveys/gaps", "/surveys/gaps/waves/w1", "/surveys/gaps/waves/w1/report",
                 "/surveys/gaps/trend", "/surveys/new", "/accounts/", "/accounts/webhooks/",
                 "/api/v1/docs"):  # fmt: skip
        page.goto(path)
        assert violations(page) == [], path
    context.close()


def test_the_checker_catches_a_page_that_breaks_the_rules(browser: Browser) -> None:
    page = browser.new_page()
    page.set_content('<html lang="en"><title>x</title><main><img src="data:,"><input type="text"></main></html>')
    found = violations(page)
    page.close()
    assert any(found_rule.startswith("image-alt") for found_rule in found)
    assert any(found_rule.startswith("label") for found_rule in found)


def test_idea_story_alert_and_verbatim_pages_have_no_accessibility_violations(
    app: Flask,
    browser: Browser,
    live_server: str,
) -> None:
    from sqlmodel import select

    from perception.demo import seed_demo
    from perception.models import Alert, Idea, Story

    seed_demo(app)
    with session_scope(app) as session:
        idea = session.exec(select(Idea.id).order_by(Idea.id)).first()
        story = session.exec(select(Story.id).where(Story.state == "published").order_by(Story.id)).first()
        alert = session.exec(select(Alert.id).order_by(Alert.id)).first()
    assert idea and story and alert
    pages = {
        "lead": (
            "/ideas/", f"/ideas/{idea}", "/ideas/ranking", "/ideas/moderation", "/stories/", f"/stories/{story}",
            "/alerts/", f"/alerts/{alert}", "/alerts/figures", "/alerts/rules/six-pillars",
            "/surveys/six-pillars/waves/2026-Q4/verbatims",
            "/surveys/six-pillars/waves/2026-Q4/verbatims?side=employee",
        ),
        "employee": ("/ideas/new", "/ideas/pairs", "/stories/new", "/notifications/"),
    }  # fmt: skip
    for role, paths in pages.items():
        for options in (PHONE, {"viewport": {"width": 1280, "height": 900}}):
            context = new_context(browser, live_server, locale="en-US", **options)
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("Email").fill(make_account(app, role))
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/login" not in url)
            for path in paths:
                response = page.goto(path)
                assert response is not None and response.status == 200, path
                assert violations(page) == [], f"{role} {path}"
            context.close()
