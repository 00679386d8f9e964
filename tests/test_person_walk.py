"""One walk through perception in a real browser, by the people who use it, one after the other.

The first admin, made with ``perception users create`` as whoever installs it does, creates the
lead, leader and employee accounts on the accounts page. The lead builds a small mirrored survey in
the builder, creates and opens a wave, imports customers from a CSV file, and sends the invitations
by email: a real task-queue consumer delivers them to an SMTP server on loopback. Each customer
opens the link in their own email and answers. The employee answers the staff side from their home
page and posts an idea; four colleagues answer through the wave's public employee link, so that both
sides reach the reporting threshold (5). The leader reads the gap report and downloads the board pack.

Every page of the walk is checked with axe-core (WCAG 2.1 A and AA) and photographed; the
screenshots go to the test's temporary folder (``PERCEPTION_SCREENSHOTS`` to keep them elsewhere),
named by step, with the list of pages in ``pages.txt``, and the folder is printed. Without Chromium
the test is skipped, saying how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from sqlmodel import func, select

from perception import create_app
from perception.bidi import isolate_text
from perception.db import session_scope
from perception.models import Account, DispatchItem, Idea, Item, Response
from perception.tasks import start_consumer
from tests.browsing import new_context, serve
from tests.conftest import PASSWORD
from tests.mailbox import Mailbox
from tests.test_accessibility import WCAG
from tests.test_dispatch_worker import wait_until

pytestmark = pytest.mark.browser

DESK = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

SLUG = "after-visit"
TITLE = "After your visit"
ITEMS = [
    {
        "key": "recommend",
        "dimension": "Loyalty",
        "scale": "nps",
        "customer_en": "How likely are you to recommend us to a friend?",
        "customer_fr": "Quelle est la probabilité que vous nous recommandiez à un ami ?",
        "employee_en": "How likely do you think customers are to recommend us to a friend?",
        "employee_fr": "Selon vous, nos clients nous recommanderaient-ils à un ami ?",
    },
    {
        "key": "easy",
        "dimension": "Time and Effort",
        "scale": "likert5",
        "customer_en": "It was easy to reach the right person.",
        "customer_fr": "Il a été facile de joindre la bonne personne.",
        "employee_en": "Customers find it easy to reach the right person.",
        "employee_fr": "Les clients trouvent facile de joindre la bonne personne.",
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
WORDING = {item["key"]: item["customer_en"] for item in ITEMS}

# Five customers, each answering from the link in their own email; five staff, the first signed in,
# the others through the public employee link. Staff think customers fare better than they say.
CUSTOMERS = {
    "ana@example.com": {"recommend": 3, "easy": 2, "solved": 1},
    "bob@example.com": {"recommend": 5, "easy": 2, "solved": 0},
    "chloe@example.com": {"recommend": 6, "easy": 3, "solved": 0},
    "david@example.com": {"recommend": 7, "easy": 2, "solved": 1},
    "emma@example.com": {"recommend": 9, "easy": 1, "solved": 0},
}
STAFF = [
    {"recommend": 9, "easy": 4, "solved": 1},
    {"recommend": 10, "easy": 5, "solved": 1},
    {"recommend": 9, "easy": 4, "solved": 1},
    {"recommend": 10, "easy": 4, "solved": 1},
    {"recommend": 8, "easy": 5, "solved": 0},
]
# What the gap report must show for those answers: customers, staff, gap (staff - customers).
# NPS: customers 1 promoter and 3 detractors of 5 = -40, staff 4 promoters = +80; means 2.00 and 4.40;
# thumbs up: 2 of 5 customers = 40%, 4 of 5 staff = 80%.
EXPECTED = {
    "recommend": ("\u221240.0 pts", "80.0 pts", "+120.0 pts"),
    "easy": ("2.00", "4.40", "+2.40"),
    "solved": ("40.0%", "80.0%", "+40.0 pts"),
}
# The rules test_accessibility checks; only violations are gathered and sent back (the walk checks many pages).
AXE, AXE_OPTIONS = Axe(), {**WCAG, "resultTypes": ["violations"]}
IDEA = "A direct line to the right team"


@dataclass
class Walk:
    """The browser, the live server, and what the walk saw: every page checked and photographed."""

    browser: Browser
    base_url: str
    shots: Path
    checked: list[str] = field(default_factory=list)

    def context(self, **options: object) -> BrowserContext:
        return new_context(self.browser, self.base_url, **{**DESK, **options})

    def look(self, page: Page, step: str) -> None:
        """axe-core finds no violation on the page as it is now, and a full-page screenshot keeps it."""
        where = urlsplit(page.url).path
        found = AXE.run(page, options=AXE_OPTIONS).response["violations"]
        assert found == [], f"{step} ({where}): " + "; ".join(f"{rule['id']}: {rule['help']}" for rule in found)
        self.checked.append(f"{len(self.checked) + 1:02d}-{step}: {where}")
        page.screenshot(path=str(self.shots / f"{len(self.checked):02d}-{step}.png"), full_page=True)
        (self.shots / "pages.txt").write_text("\n".join(self.checked) + "\n", encoding="utf-8")


@pytest.fixture
def walk_app(app_config: dict[str, object], mailbox: Mailbox) -> Iterator[tuple[Flask, str]]:
    """The app served on loopback, its mail going to ``mailbox``, its queue run by a real consumer
    (Huey on SQLite in the instance folder, the embedded default)."""
    app = create_app({**app_config, **mailbox.settings, "QUEUE_IMMEDIATE": False})
    served = serve(app)
    base_url = next(served)
    try:
        # Links in emails must reach the server the browser uses, whose port is known only now.
        app.config["BASE_URL"] = base_url
        consumer = start_consumer(app, workers=2)
        try:
            yield app, base_url
        finally:
            consumer.stop(graceful=True)
    finally:
        served.close()
        app.extensions["perception"].engine.dispose()


@pytest.fixture
def walk(
    walk_app: tuple[Flask, str], browser: Browser, tmp_path: Path, record_property: Callable[[str, object], None]
) -> Walk:
    app, base_url = walk_app
    kept = os.environ.get("PERCEPTION_SCREENSHOTS")
    backend = app.config["DATABASE_URL"].split(":", 1)[0].split("+", 1)[0]
    shots = Path(kept) / f"walk-{backend}" if kept else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    record_property("screenshots", str(shots))
    print(f"\nScreenshots of the walk: {shots}")
    return Walk(browser, base_url, shots)


def follow(page: Page, link: Locator) -> None:
    """Click a link and wait until its page has loaded: a check run before then could read a
    document that is being replaced."""
    target = urljoin(page.url, link.get_attribute("href") or "")
    link.click()
    page.wait_for_url(target)


def menu(page: Page, name: str) -> None:
    follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True))


def sign_in(walk: Walk, page: Page, email: str, who: str) -> None:
    page.goto("/login")
    walk.look(page, f"{who}-sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flash")).to_have_text("You are signed out.")


def choose(page: Page, answers: dict[str, int]) -> None:
    """Click each answer's label, as a person taps the number, the face or the thumb."""
    for key, value in answers.items():
        page.locator(f"label.choice:has(input[name='item_{key}'][value='{value}'])").click()
        expect(page.locator(f"input[name='item_{key}'][value='{value}']")).to_be_checked()


def count(app: Flask, statement: Any) -> int:
    with session_scope(app) as session:
        return session.exec(statement).one()


def responses(app: Flask, side: str) -> int:
    return count(app, select(func.count()).select_from(Response).where(Response.side == side))


def test_from_the_first_account_to_the_board_pack(walk_app: tuple[Flask, str], walk: Walk, mailbox: Mailbox) -> None:
    app, base_url = walk_app
    # The first admin is made on the command line, as whoever installs perception does.
    made = app.test_cli_runner().invoke(
        args=["users", "create", "admin@example.com", "--role", "admin", "--name", "Ada", "--password", PASSWORD]
    )
    assert made.exit_code == 0, made.output

    # The admin creates the accounts of the people who will use it.
    desk = walk.context()
    page = desk.new_page()
    sign_in(walk, page, "admin@example.com", "admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Surveys")  # an admin may do what a lead does
    walk.look(page, "admin-home")
    menu(page, "Accounts")
    walk.look(page, "admin-accounts")
    for email, name, role in (("lea@example.com", "Léa", "lead"), ("leo@example.com", "Léo", "leader"),
                              ("eve@example.com", "Eve", "employee")):  # fmt: skip
        page.get_by_label("Email").fill(email)
        page.get_by_label("Name").fill(name)
        page.get_by_label("Role").select_option(role)
        page.get_by_label("Language").select_option("en")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create the account").click()
        expect(page.locator(".flash")).to_have_text(f"Account created for {email}.")
    walk.look(page, "admin-accounts-created")
    sign_out(page)
    with session_scope(app) as session:
        roles = dict(session.exec(select(Account.email, Account.role)).all())
    assert roles == {"admin@example.com": "admin", "lea@example.com": "lead", "leo@example.com": "leader",
                     "eve@example.com": "employee"}  # fmt: skip

    # The lead builds the survey in the builder.
    sign_in(walk, page, "lea@example.com", "lead")
    expect(page.get_by_role("heading", name="Surveys", level=1)).to_be_visible()
    walk.look(page, "lead-surveys")
    menu(page, "New survey")
    walk.look(page, "lead-new-survey")
    scratch = page.locator("section", has=page.get_by_role("heading", name="From scratch"))
    scratch.get_by_label("Short name (used in links and files)").fill(SLUG)
    scratch.get_by_role("button", name="Open the builder").click()
    page.wait_for_url(re.compile(r"/surveys/build\?slug="))
    walk.look(page, "lead-builder")
    page.locator("#title_en").fill(TITLE)
    page.locator("#title_fr").fill("Après votre visite")
    for index, item in enumerate(ITEMS):
        if index:
            page.get_by_role("button", name="Add an item").click()
        prefix = f"#items-{index}-"
        expect(page.locator(prefix + "key")).to_be_visible()
        for name in ("key", "dimension", "customer_en", "customer_fr", "employee_en", "employee_fr"):
            page.locator(prefix + name).fill(item[name])
        page.locator(prefix + "scale").select_option(item["scale"])
    walk.look(page, "lead-builder-filled")
    page.get_by_role("button", name="Save the survey").first.click()
    expect(page.locator(".flash")).to_contain_text("Survey created")
    walk.look(page, "lead-builder-saved")

    # A wave, created and opened.
    follow(page, page.locator(".crumbs").get_by_role("link", name=TITLE))
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    walk.look(page, "lead-survey")
    page.get_by_label("Name").fill("2027-Q1")
    page.get_by_role("button", name="Create the wave").click()
    expect(page.locator(".flash")).to_contain_text("Wave created")
    walk.look(page, "lead-wave-created")
    page.get_by_role("button", name="Open the wave").click()
    expect(page.locator(".flash")).to_contain_text("The wave is open")
    walk.look(page, "lead-wave-open")
    staff_link = page.get_by_label("Public employee link").input_value()
    assert staff_link.startswith(base_url + "/p/"), staff_link

    # The customers, from a file.
    contacts = walk.shots / "customers.csv"
    contacts.write_text("email,language\n" + "".join(f"{email},en\n" for email in CUSTOMERS), encoding="utf-8")
    menu(page, "Contacts")
    walk.look(page, "lead-contacts")
    page.get_by_label("CSV file (UTF-8, comma or semicolon)").set_input_files(contacts)
    page.get_by_label("The file lists").select_option(label="Customers")
    page.get_by_label("Check segment values against").select_option(SLUG)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".flash").first).to_have_text(
        "Imported 5 contacts: 5 new, 0 updated, 0 duplicate lines merged."
    )
    expect(page.get_by_role("row", name=re.compile("^Customers")).locator("td").first).to_have_text("5")
    walk.look(page, "lead-contacts-imported")

    # The invitations, by email: the queue's consumer sends them.
    menu(page, "Surveys")
    walk.look(page, "lead-surveys-listed")
    follow(page, page.get_by_role("link", name=TITLE))
    expect(page.get_by_role("row", name=re.compile("^2027-Q1"))).to_contain_text("open")
    walk.look(page, "lead-survey-with-wave")
    follow(page, page.get_by_role("link", name="2027-Q1", exact=True))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Wave 2027-Q1")
    walk.look(page, "lead-wave")
    follow(page, page.get_by_role("link", name="Invitations and reminders"))
    walk.look(page, "lead-sending")
    page.get_by_label("Invite").select_option("customer")
    page.get_by_label("Through").select_option("email")
    page.get_by_role("button", name="Send the invitations").click()
    expect(page.locator(".flash")).to_contain_text("Invitations are being sent")
    messages = mailbox.wait_for(len(CUSTOMERS))
    assert sorted(message["To"] for message in messages) == sorted(CUSTOMERS)
    sent = select(func.count()).select_from(DispatchItem).where(DispatchItem.state == "sent")
    wait_until(lambda: count(app, sent) == len(CUSTOMERS), "the consumer to record the five emails as sent")
    page.reload()
    progress = page.get_by_role("row", name=re.compile("^Invitations · customers · Email"))
    expect(progress.locator("td")).to_have_text(["0", "5", "0", "0"])  # pending, sent, failed, skipped
    walk.look(page, "lead-sending-done")
    sign_out(page)

    # Each customer opens the link in their email, on their phone, and answers.
    answer_here = re.compile(re.escape(base_url) + r"/r/[A-Za-z0-9_-]+\?lang=en(?=\s)")
    for number, (email, answers) in enumerate(CUSTOMERS.items(), start=1):
        (message,) = mailbox.to(email)
        found = answer_here.search(message.get_body(("plain",)).get_content())
        assert found, message.get_body(("plain",)).get_content()
        phone = walk.context(**PHONE)
        customer = phone.new_page()
        customer.goto(found.group(0))
        expect(customer.get_by_role("heading", level=1)).to_have_text(TITLE)
        expect(customer.locator("main")).to_contain_text(WORDING["easy"])
        choose(customer, answers)
        walk.look(customer, f"customer-{number}-form")
        customer.get_by_role("button", name="Send my answers").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("Thank you")
        walk.look(customer, f"customer-{number}-thanks")
        phone.close()
    assert responses(app, "customer") == len(CUSTOMERS)

    # The employee answers the staff side from their home page, then posts an idea.
    sign_in(walk, page, "eve@example.com", "employee")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello Eve")
    walk.look(page, "employee-home")
    follow(page, page.get_by_role("link", name=f"Respond {TITLE} 2027-Q1"))
    expect(page.locator("main")).to_contain_text(ITEMS[1]["employee_en"])
    choose(page, STAFF[0])
    walk.look(page, "employee-form")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    walk.look(page, "employee-thanks")
    follow(page, page.get_by_role("link", name="Back to the home page"))
    expect(page.locator(".staff-surveys")).to_contain_text("answered, thank you")
    walk.look(page, "employee-home-answered")
    menu(page, "Ideas")
    walk.look(page, "employee-ideas")
    follow(page, page.get_by_role("navigation", name="Idea box").get_by_role("link", name="Post an idea"))
    page.get_by_label("Title").fill(IDEA)
    page.get_by_label("Description").fill("Give customers the **direct number** of the team handling their case.")
    page.get_by_label("What it addresses (optional)").select_option(
        label=f"{isolate_text(TITLE)} · item: {isolate_text(WORDING['easy'])}"  # each in a direction isolate
    )
    walk.look(page, "employee-idea-form")
    page.get_by_role("button", name="Post the idea").click()
    expect(page.locator(".flash")).to_have_text("Your idea is posted.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(IDEA)
    walk.look(page, "employee-idea")
    sign_out(page)
    with session_scope(app) as session:
        idea = session.exec(select(Idea)).one()
        addressed = session.exec(select(Item.key).where(Item.id == idea.item_id)).one()
        assert (idea.title, addressed, idea.author_id is not None) == (IDEA, "easy", True)

    # Four colleagues answer through the public employee link the lead shared.
    for number, answers in enumerate(STAFF[1:], start=2):
        colleague = walk.context()
        staff = colleague.new_page()
        staff.goto(staff_link)
        expect(staff.locator("main")).to_contain_text(ITEMS[0]["employee_en"])
        choose(staff, answers)
        walk.look(staff, f"staff-{number}-form")
        staff.get_by_role("button", name="Send my answers").click()
        expect(staff.get_by_role("heading", level=1)).to_have_text("Thank you")
        walk.look(staff, f"staff-{number}-thanks")
        colleague.close()
    assert responses(app, "employee") == len(STAFF)

    # The leader reads the gap report and downloads the board pack.
    sign_in(walk, page, "leo@example.com", "leader")
    expect(page.get_by_role("heading", name="Surveys", level=1)).to_be_visible()
    walk.look(page, "leader-surveys")
    follow(page, page.get_by_role("link", name=TITLE))
    walk.look(page, "leader-survey")
    follow(page, page.get_by_role("row", name=re.compile("^2027-Q1")).get_by_role("link", name="Gap report"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Perception gaps, wave 2027-Q1")
    expect(page.locator("main")).to_contain_text("5 customer and 5 employee responses.")
    items = page.locator("table.gaps").first
    for key, (customers, employees, gap) in EXPECTED.items():
        cells = items.get_by_role("row", name=re.compile(re.escape(WORDING[key]))).locator("td")
        expect(cells.nth(1).locator("strong")).to_have_text(customers)
        expect(cells.nth(1)).to_contain_text("n = 5")
        expect(cells.nth(2).locator("strong")).to_have_text(employees)
        expect(cells.nth(2)).to_contain_text("n = 5")
        expect(cells.nth(3).locator("strong")).to_have_text(gap)
    expect(page.locator(".idea-links")).to_contain_text(IDEA)  # the employee's idea, beside the blind spot
    walk.look(page, "leader-gap-report")
    with page.expect_download() as download:
        page.get_by_role("link", name="Board pack (PDF)").click()
    pack = walk.shots / download.value.suggested_filename
    download.value.save_as(pack)
    assert pack.suffix == ".pdf" and pack.read_bytes().startswith(b"%PDF"), pack
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pack), "-"], capture_output=True, text=True, check=True)
        assert TITLE in text.stdout, text.stdout[:2000]
        for figures in EXPECTED.values():
            assert all(figure in text.stdout for figure in figures), (figures, text.stdout)
    desk.close()
    print(f"Pages axe-core checked, no violation on any ({walk.shots / 'pages.txt'}):")
    print("\n".join(walk.checked))
