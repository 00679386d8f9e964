"""A worker killed in the middle of a submission loses nothing that was acknowledged.

`perception serve` runs several gunicorn workers; respondents send their answers at once through
one-time links and the public link while worker after worker is killed (SIGKILL: no cleanup, no
rollback of its own). A respondent whose request dies with its worker tries a one-time link again,
as a person would; the public link is not tried again. Then, counted: every answer that got its
acknowledgement (the redirect to the thank-you page) is in the database with all its answers; no
stored response is half-written; every one-time link is used at most once, and a link marked used
has its response; gunicorn started the killed workers again, and a new answer goes through; and
every stored response, and no other, reached the plugins: its event was written in the same
transaction as the response, so no worker dies between the two.
"""

from __future__ import annotations

import http.client
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import func, select

from perception.db import session_scope
from perception.models import Answer, Invitation, Item, Response, Wave
from perception.waves import hash_token, issue_links
from tests.conftest import open_core_wave
from tests.serving import perception_serve
from tests.test_serve import wait_until

WORKERS = 3
CLIENTS = 8
LOAD_SECONDS = 4.0  # at least; and until KILLS workers have been killed
KILLS = 5
KILL_EVERY = 0.5  # seconds between two kills, once gunicorn has started the last one killed again
KILLS_WITHIN = 120
LINKS = 400  # more than the clients can use in LOAD_SECONDS
TRIES = 3  # a one-time link whose request died is sent again, up to this many times in all
ANSWERS = {"item_recommend": "9", "item_satisfaction": "4", "item_effort": "6"}
# What a killed worker does to a request in flight: the connection closes or resets unanswered.
DROPPED = (urllib.error.URLError, ConnectionError, http.client.HTTPException, TimeoutError)


# A plugin that writes down the comment of each response it hears of, from the queue's consumer.
EVENTS_PLUGIN = """
from pathlib import Path
from perception import hookimpl

@hookimpl
def perception_response_submitted(event):
    with open(Path(__file__).with_name("events.log"), "a") as log:
        log.write(event.answers["comment"] + "\\n")
"""


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path
    events: Path

    def workers(self) -> list[int]:
        """The gunicorn workers alive now: children of the master, the queue consumer set aside."""
        consumers = {
            int(pid) for pid in re.findall(r"Task-queue consumer running \(pid: (\d+)\)", self.log.read_text())
        }
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in consumers:
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # gone meanwhile
                continue
            state, parent = stat.rsplit(")", 1)[1].split()[:2]
            if int(parent) == self.process.pid and state != "Z":
                found.append(int(entry))
        return sorted(found)


@pytest.fixture
def server(app: Flask, app_config: dict[str, object], tmp_path: Path) -> Iterator[Server]:
    """`perception serve` on this test's database, with several workers."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("finding gunicorn's workers needs /proc")
    (tmp_path / "events_plugin.py").write_text(EVENTS_PLUGIN)
    plugins = {
        "PERCEPTION_PLUGINS": "events_plugin",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    }
    with perception_serve(str(app_config["DATABASE_URL"]), tmp_path, "worker-crash-test", WORKERS, plugins) as served:
        found = Server(served.base, served.process, served.log_path, tmp_path / "events.log")
        wait_until(lambda: len(found.workers()) == WORKERS, 120)
        yield found


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """The redirect to the thank-you page is the acknowledgement itself: keep it, do not follow it."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def send(link: str, comment: str) -> str:
    """One respondent's answers, the page first: ``acknowledged``, ``used`` (409), ``dropped``
    (the connection died with its worker) or ``status N`` for anything else."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect())
    try:
        with opener.open(link, timeout=60) as response:
            page = response.read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrf_token": token, **ANSWERS, "item_comment": comment}).encode()
        with opener.open(link, data=data, timeout=60) as response:
            return f"status {response.status}"
    except urllib.error.HTTPError as error:
        if error.code == 302 and "/thanks" in (error.headers.get("Location") or ""):
            return "acknowledged"
        return "used" if error.code == 409 else f"status {error.code}"
    except DROPPED:
        return "dropped"


@dataclass
class Submission:
    comment: str  # unique, so that the answers of this submission can be found again
    token: str | None  # the one-time link's, or None for the public link
    outcomes: list[str] = field(default_factory=list)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gunicorn serves on Linux")
def test_a_killed_worker_loses_no_acknowledged_answer(app: Flask, server: Server) -> None:
    open_core_wave(app)
    with session_scope(app) as session:
        wave = session.exec(select(Wave)).one()
        tokens = [link.token for link in issue_links(session, wave, "customer", LINKS, 30)]
        public = f"{server.base}/p/{wave.public_token}"
        items = session.exec(select(func.count()).select_from(Item)).one()

    numbers = itertools.count()
    fresh_tokens = iter(tokens)
    taking = threading.Lock()
    stop = threading.Event()
    submissions: list[Submission] = []

    def next_submission() -> Submission | None:
        with taking:
            number = next(numbers)
            token = next(fresh_tokens, None) if number % 3 else None  # one in three through the public link
            if number % 3 and token is None:
                return None
            submission = Submission(f"submission {number}", token)
            submissions.append(submission)
            return submission

    def respondent() -> None:
        while not stop.is_set():
            submission = next_submission()
            if submission is None:
                return
            link = f"{server.base}/r/{submission.token}" if submission.token else public
            for _try in range(TRIES if submission.token else 1):
                submission.outcomes.append(send(link, submission.comment))
                if submission.outcomes[-1] != "dropped":
                    break

    killed: list[int] = []

    def killer() -> None:
        while len(killed) < KILLS and not stop.wait(KILL_EVERY):
            alive = server.workers()
            if len(alive) < WORKERS:  # gunicorn has not yet started the last one killed again
                continue
            try:
                os.kill(alive[0], signal.SIGKILL)  # the oldest (pids grow): surely booted, and busy
            except ProcessLookupError:
                continue
            killed.append(alive[0])

    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        running = [pool.submit(respondent) for _ in range(CLIENTS)]
        kills = pool.submit(killer)
        try:
            time.sleep(LOAD_SECONDS)
            kills.result(timeout=KILLS_WITHIN)  # on a slow machine the load lasts until the kills are made
        finally:
            stop.set()
        for future in running:
            future.result(timeout=300)

    # The server recovered: gunicorn started a worker for each one killed, and a new answer goes through.
    wait_until(lambda: len(server.workers()) == WORKERS, 120)
    assert not set(killed) & set(server.workers())
    with session_scope(app) as session:
        (after,) = issue_links(session, session.get(Wave, wave.id), "customer", 1, 30)
    assert send(f"{server.base}/r/{after.token}", "after the kills") == "acknowledged"
    assert send(public, "after the kills, public") == "acknowledged"
    submissions += [Submission("after the kills", after.token, ["acknowledged"])]
    submissions += [Submission("after the kills, public", None, ["acknowledged"])]

    final = Counter(submission.outcomes[-1] for submission in submissions)
    tried_again = sum(len(submission.outcomes) > 1 for submission in submissions)
    dropped = sum(submission.outcomes.count("dropped") for submission in submissions)
    with session_scope(app) as session:
        per_response = dict(
            session.exec(
                select(Response.id, func.count(Answer.id))
                .outerjoin(Answer, Answer.response_id == Response.id)  # type: ignore[arg-type]
                .group_by(Response.id)
            ).all()
        )
        by_comment = dict(
            session.exec(select(Answer.text, Answer.response_id).where(Answer.text.is_not(None))).all()  # type: ignore[union-attr]
        )
        comments = Counter(session.exec(select(Answer.text).where(Answer.text.is_not(None))).all())  # type: ignore[union-attr]
        invitations = session.exec(select(Invitation.id, Invitation.token_hash, Invitation.used)).all()
        answered_links = Counter(
            session.exec(select(Response.invitation_id).where(Response.invitation_id.is_not(None))).all()  # type: ignore[union-attr]
        )
        response_of_link = dict(
            session.exec(select(Response.invitation_id, Response.id).where(Response.invitation_id.is_not(None))).all()  # type: ignore[union-attr]
        )
    print(
        f"\n{len(submissions)} submissions: {dict(final)}; {dropped} requests dropped by {len(killed)} kills, "
        f"{tried_again} links sent again; {len(per_response)} responses stored"
    )

    # Nothing but the acknowledgement, a used link, or a request dropped with its worker.
    assert set(final) <= {"acknowledged", "used", "dropped"}, final
    assert len(killed) == KILLS
    assert dropped >= 1, "no kill caught a request in flight"
    assert final["acknowledged"] >= KILLS
    # Every acknowledged submission is stored once, with all its answers.
    for submission in submissions:
        if submission.outcomes[-1] == "acknowledged":
            assert comments[submission.comment] == 1, submission
            assert per_response[by_comment[submission.comment]] == items, submission
        else:  # stored whole, or not at all
            assert comments[submission.comment] <= 1, submission
    # No response is half-written.
    assert set(per_response.values()) == {items}, Counter(per_response.values())
    # Every one-time link is used at most once, and a link marked used has its response.
    assert max(answered_links.values()) == 1, "a link has two responses"
    used_links = {id_ for id_, _hash, used in invitations if used}
    assert used_links == set(answered_links), f"used without a response: {sorted(used_links - set(answered_links))}"
    link_of = {token_hash: id_ for id_, token_hash, _used in invitations}
    for submission in submissions:
        if submission.token is None:
            continue
        invitation = link_of[hash_token(submission.token)]
        if submission.outcomes[-1] == "acknowledged" or "used" in submission.outcomes:
            # Told "used" after a dropped request: the dropped one was stored, whole, under this link.
            assert by_comment[submission.comment] == response_of_link[invitation], submission

    # Every stored response reached the plugins, once (no consumer was killed), and nothing else did.
    stored = Counter({comment: 1 for comment in by_comment})
    wait_until(lambda: server.events.exists() and len(server.events.read_text().splitlines()) >= len(stored), 60)
    assert Counter(server.events.read_text().splitlines()) == stored
