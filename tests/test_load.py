"""Nothing lost under load: `perception serve` (gunicorn, several workers) takes concurrent answers.

Respondents answer at once through one-time links, and some pairs send the same link at the same
moment (a double tap, two tabs). Counted, not timed: every accepted answer is in the database,
whole; every link is used at most once, so of each racing pair exactly one is accepted and the
other is told the link was used; and no request fails with a server error.
"""

from __future__ import annotations

import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import func, select

from perception.db import session_scope
from perception.models import Answer, Invitation, Item, Response, Wave
from perception.waves import issue_links
from tests.conftest import open_core_wave
from tests.serving import perception_serve

ALONE = 24  # links answered once each
RACING = 8  # links answered twice at the same moment
CLIENTS = 16
WORKERS = 3
ANSWERS = {"item_recommend": "9", "item_satisfaction": "4", "item_effort": "6", "item_comment": "Quick and kind."}


@pytest.fixture
def server(app: Flask, app_config: dict[str, object], tmp_path: Path) -> Iterator[str]:
    """`perception serve` on this test's database, with several workers."""
    with perception_serve(str(app_config["DATABASE_URL"]), tmp_path, "load-test", WORKERS) as served:
        yield served.base


class Respondent:
    """One browser: its own cookies, the page first, then the answers."""

    def __init__(self, link: str) -> None:
        self.link = link
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.token = ""

    def open(self) -> int:
        with self.opener.open(self.link, timeout=120) as response:
            page = response.read().decode()
        self.token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        return response.status

    def send(self) -> int:
        data = urllib.parse.urlencode({"csrf_token": self.token, **ANSWERS}).encode()
        try:
            with self.opener.open(self.link, data=data, timeout=120) as response:
                return 302 if response.url.endswith("/thanks") or "/thanks?" in response.url else response.status
        except urllib.error.HTTPError as error:
            return error.code


def answer_alone(link: str) -> int:
    respondent = Respondent(link)
    assert respondent.open() == 200
    return respondent.send()


def answer_twice_at_once(link: str) -> list[int]:
    pair = [Respondent(link), Respondent(link)]
    for respondent in pair:
        assert respondent.open() == 200
    start = threading.Barrier(2)

    def send(respondent: Respondent) -> int:
        start.wait(timeout=120)
        return respondent.send()

    with ThreadPoolExecutor(2) as both:
        return sorted(both.map(send, pair))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gunicorn serves on Linux")
def test_concurrent_answers_are_all_kept_whole_and_each_link_counts_once(app: Flask, server: str) -> None:
    open_core_wave(app)
    with session_scope(app) as session:
        wave = session.exec(select(Wave)).one()
        tokens = [link.token for link in issue_links(session, wave, "customer", ALONE + RACING, 30)]
        items = session.exec(select(func.count()).select_from(Item)).one()
    links = [f"{server}/r/{token}" for token in tokens]

    with ThreadPoolExecutor(CLIENTS) as pool:
        alone = pool.map(answer_alone, links[:ALONE])
        racing = pool.map(answer_twice_at_once, links[ALONE:])
        alone, racing = list(alone), list(racing)

    assert alone == [302] * ALONE
    # Of two answers sent at once with one link, one is kept and the other told the link was used.
    assert racing == [[302, 409]] * RACING
    with session_scope(app) as session:
        responses = session.exec(select(func.count()).select_from(Response)).one()
        used = session.exec(select(func.count()).select_from(Invitation).where(Invitation.used.is_(True))).one()
        answers = session.exec(select(func.count()).select_from(Answer)).one()
        linked = session.exec(select(func.count(func.distinct(Response.invitation_id)))).one()
    assert responses == ALONE + RACING
    assert used == linked == ALONE + RACING
    assert answers == responses * items  # whole: every question of every response
