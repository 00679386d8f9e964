"""The thin path in a real browser: a lead builds a survey, both sides answer, the gap shows.

The app is served for real by werkzeug on a free local port and driven by Debian's Chromium
through Playwright. Like every database test, each test runs on SQLite and on PostgreSQL.
Screenshots go to ``PERCEPTION_SCREENSHOTS`` (default: a pytest temporary folder), from the
SQLite run only so that the two runs do not overwrite each other.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browsing import new_context
from tests.conftest import PASSWORD, make_account

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
SCORED_ITEMS = ("recommend", "satisfaction", "effort")

# Five customers and five employees, the employees rating the experience higher on every item.
CUSTOMER_ANSWERS = [
    {"recommend": 3, "satisfaction": 2, "effort": 2},
    {"recommend": 4, "satisfaction": 3, "effort": 3},
    {"recommend": 5, "satisfaction": 2, "effort": 3},
    {"recommend": 6, "satisfaction": 3, "effort": 2},
    {"recommend": 5, "satisfaction": 3, "effort": 3},
]
EMPLOYEE_ANSWERS = [
    {"recommend": 9, "satisfaction": 5, "effort": 6},
    {"recommend": 10, "satisfaction": 5, "effort": 7},
    {"recommend": 9, "satisfaction": 5, "effort": 7},
    {"recommend": 10, "satisfaction": 5, "effort": 6},
    {"recommend": 9, "satisfaction": 5, "effort": 6},
]


@pytest.fixture
def lead_context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    context = new_context(browser, live_server)
    yield context
    context.close()


@pytest.fixture
def phone_context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    context = new_context(browser, live_server, **PHONE)
    yield context
    context.close()


@pytest.fixture
def screenshot(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Callable[[Page, str], None]:
    """Saves full-page screenshots, on the SQLite run only."""
    if "sqlite" not in app.config["DATABASE_URL"]:
        return lambda page, name: None
    folder_name = os.environ.get("PERCEPTION_SCREENSHOTS")
    folder = Path(folder_name) if folder_name else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def save(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / name), full_page=True)

    return save


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Surveys", level=1)).to_be_visible()


def download_links(page: Page, side_label: str, count: int) -> list[dict[str, str]]:
    """Asks for a batch of one-time links and reads the CSV the browser downloads."""
    page.get_by_label("Side").select_option(label=side_label)
    page.get_by_label("Number of one-time links").fill(str(count))
    with page.expect_download() as info:
        page.get_by_role("button", name="Create and download (CSV)").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv"), download.suggested_filename
    with open(download.path(), newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert rows, "the CSV holds no link"
    assert list(rows[0]) == ["side", "link", "expires_on"]
    assert len(rows) == count
    assert len({row["link"] for row in rows}) == count, "links are not all different"
    for row in rows:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/r/\S+", row["link"]), row["link"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["expires_on"]), row["expires_on"]
    return rows


def choose(page: Page, answers: dict[str, int]) -> None:
    """Taps the box of each answer, as a person does on a phone.

    Each box is a label whose radio button is transparent and stretched over it, so a tap on
    the box lands on the radio itself: tapping the radio (without ``force``) checks that
    nothing covers it. Its accessible name is the value, plus the scale's end label on the
    first and last boxes.
    """
    for key, value in answers.items():
        question = page.locator(f"#item_{key}")
        box = question.get_by_role("radio", name=re.compile(rf"^{value}\b"))
        box.tap()
        expect(box).to_be_checked()


def send(page: Page) -> None:
    page.get_by_role("button", name="Send my answers").click()


def answer(page: Page, link: str, answers: dict[str, int]) -> None:
    page.goto(link)
    choose(page, answers)
    send(page)
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()


def test_lead_builds_a_survey_and_both_sides_answer_in_the_browser(
    app: Flask,
    lead_context: BrowserContext,
    phone_context: BrowserContext,
    screenshot: Callable[[Page, str], None],
) -> None:
    email = make_account(app, "lead")
    lead = lead_context.new_page()
    sign_in(lead, email)

    # The survey, from the `core` template.
    lead.get_by_role("navigation", name="Main").get_by_role("link", name="New survey").click()
    expect(lead.get_by_role("heading", name="New survey")).to_be_visible()
    from_template = lead.locator("form", has=lead.get_by_label("Start from template"))
    from_template.get_by_label("Start from template").select_option("core")
    from_template.get_by_label("Short name").fill("barometer-2027")
    lead.get_by_role("button", name="Create the survey").click()
    expect(lead).to_have_url(re.compile(r"/surveys/barometer-2027$"))
    expect(lead.get_by_role("heading", name="Core customer experience", level=1)).to_be_visible()
    items = lead.locator("table.items")
    for key in (*SCORED_ITEMS, "comment"):
        expect(items.locator("code", has_text=re.compile(f"^{key}$"))).to_be_visible()
    expect(items).to_contain_text("How likely are you to recommend our company to a friend or colleague?")
    expect(items).to_contain_text("How likely do you think our customers are to recommend us")
    screenshot(lead, "builder.png")

    # A wave, opened.
    wave_form = lead.locator("form", has=lead.get_by_role("heading", name="New wave"))
    wave_form.get_by_label("Name").fill("2027-Q1")
    wave_form.get_by_role("button", name="Create the wave").click()
    expect(lead.get_by_role("heading", name="Wave 2027-Q1")).to_be_visible()
    expect(lead.get_by_role("heading", name="Wave 2027-Q1")).to_contain_text("draft")
    lead.get_by_role("button", name="Open the wave").click()
    expect(lead.get_by_role("status")).to_contain_text("The wave is open")
    expect(lead.get_by_role("heading", name="Wave 2027-Q1")).to_contain_text("open")
    expect(lead.get_by_role("button", name="Close the wave")).to_be_visible()

    # One-time links for each side, as CSV downloads.
    customer_links = download_links(lead, "Customers", 6)
    employee_links = download_links(lead, "Employees", 5)
    assert {row["side"] for row in customer_links} == {"customer"}
    assert {row["side"] for row in employee_links} == {"employee"}
    screenshot(lead, "wave.png")

    # The customers, on a phone; the first one first sends the form empty.
    phone = phone_context.new_page()
    first = customer_links[0]["link"]
    phone.goto(first)
    expect(phone.get_by_role("heading", name="Core customer experience")).to_be_visible()
    expect(phone.get_by_role("group", name=re.compile("How likely are you to recommend"))).to_be_visible()
    screenshot(phone, "respondent-phone.png")
    send(phone)
    summary = phone.get_by_role("alert")
    expect(summary.get_by_role("heading", name="Please check your answers")).to_be_visible()
    for key in SCORED_ITEMS:
        expect(phone.locator(f"#item_{key}")).to_contain_text("Please choose an answer.")
    expect(phone).to_have_url(first)
    expect(phone.get_by_role("button", name="Send my answers")).to_be_visible()
    screenshot(phone, "respondent-error-phone.png")
    choose(phone, CUSTOMER_ANSWERS[0])
    phone.locator("#item_comment textarea").fill("Answer the phone faster, please.")
    send(phone)
    expect(phone.get_by_role("heading", name="Thank you")).to_be_visible()
    for row, answers in zip(customer_links[1:5], CUSTOMER_ANSWERS[1:], strict=True):
        answer(phone, row["link"], answers)

    # The employees, on a phone too: the form asks them how they think customers see it.
    phone.goto(employee_links[0]["link"])
    expect(phone.get_by_text("Answer as you think our customers would.")).to_be_visible()
    for row, answers in zip(employee_links, EMPLOYEE_ANSWERS, strict=True):
        answer(phone, row["link"], answers)

    # A link counts once.
    phone.goto(first)
    expect(phone.get_by_role("heading", name="This link has been used")).to_be_visible()
    expect(phone.get_by_role("button", name="Send my answers")).to_have_count(0)

    # The lead reads the gap.
    lead.reload()
    expect(lead.get_by_text("Responses: 5 customers, 5 employees.")).to_be_visible()
    lead.get_by_role("link", name="Gap report").click()
    expect(lead.get_by_role("heading", name="Perception gaps, wave 2027-Q1")).to_be_visible()
    expect(lead.get_by_text("5 customer and 5 employee responses.")).to_be_visible()
    table = lead.locator("table.gaps").first
    expect(table.locator("tbody tr")).to_have_count(len(SCORED_ITEMS))
    for key in SCORED_ITEMS:
        row = table.locator("tbody tr").filter(has=lead.locator(".key", has_text=re.compile(f"^{key} · ")))
        expect(row).to_have_count(1)
        cells = row.get_by_role("cell")
        expect(cells.nth(1)).to_contain_text("n = 5")  # customers
        expect(cells.nth(2)).to_contain_text("n = 5")  # employees
        expect(cells.nth(3)).to_contain_text("+")  # gap: staff rate it higher
        expect(cells.nth(4)).to_contain_text("blind spot")  # and significantly so
    screenshot(lead, "report.png")


def test_respondent_page_switches_language(
    app: Flask,
    core_wave: tuple[str, str],
    lead_context: BrowserContext,
    phone_context: BrowserContext,
) -> None:
    slug, wave = core_wave
    lead = lead_context.new_page()
    sign_in(lead, make_account(app, "lead"))
    lead.goto(f"/surveys/{slug}/waves/{wave}")
    public_link = lead.get_by_role("textbox", name="Public customer link").input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/p/\S+", public_link), public_link

    phone = phone_context.new_page()
    phone.goto(public_link)
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.get_by_role("button", name="Send my answers")).to_be_visible()
    phone.get_by_role("navigation", name="Language").get_by_role("link", name="Français").click()
    expect(phone.locator("html")).to_have_attribute("lang", "fr")
    expect(phone.get_by_role("button", name="Envoyer mes réponses")).to_be_visible()
    expect(phone.get_by_role("heading", name="Expérience client essentielle")).to_be_visible()
    expect(
        phone.get_by_role("group", name=re.compile("Quelle est la probabilité que vous recommandiez notre entreprise"))
    ).to_be_visible()
    expect(phone.locator("#item_recommend .ends")).to_contain_text("Pas du tout probable")
    expect(phone.get_by_role("link", name="English")).to_be_visible()

    # The language holds after a failed submission.
    phone.get_by_role("button", name="Envoyer mes réponses").click()
    expect(phone.get_by_role("heading", name="Veuillez vérifier vos réponses")).to_be_visible()
    expect(phone.get_by_role("button", name="Envoyer mes réponses")).to_be_visible()
