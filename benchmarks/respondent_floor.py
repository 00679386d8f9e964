"""Answers per second: perception's respondent submission against the stack's floor.

    python benchmarks/respondent_floor.py [--workers 4] [--clients 32] [--seconds 10] [--rounds 5]
                                          [--warm-up 5] [--rate 100] [--database-url URL]

Both run under gunicorn with the same number of sync workers, on the same database, and take the
same load: CLIENTS threads, each a respondent who opens the page once (a cookie and a CSRF token)
and then sends ten answers and a comment again and again for SECONDS.

- the floor (`benchmarks/floor_app.py`): Flask + Flask-WTF, a form of nine radio questions and a
  comment, validated with its CSRF token, one row inserted, a redirect;
- perception: the public link of a wave of a ten-question survey (nine scales and a comment) through
  `perception serve`: the link, its wave and survey read, the form built and validated, the
  response, its answers and its event stored in one transaction, a redirect; the consumer beside
  the server hands the events to the plugins (alert rules, webhooks).

Both servers stay up while they are loaded in turns, after WARM_UP seconds of saturated load
each that are not counted (a server's first seconds are its slowest). Saturated, ROUNDS times
each: every client sends its next answer as soon as the last one is answered, which gives the
most answers a second the server takes; the ratio of the two rates is perception's share of the
floor, and the median of the rounds' ratios is the figure (a slower spell of the machine falls on
both alike). There the mean latency is the number of clients divided by that rate (Little's law),
whatever the server does. Paced, once each: the clients send RATE answers a second in all (100 by
default, 360,000 an hour), each at a planned time; a latency counts from that time. After each
perception run, the next waits until the consumer has handed every event to the plugins, so that
its work does not fall on the next run; how long that took is printed.

It prints answers per second, p50 and p99 latency of the submissions, the ratios, and checks the
counts: every accepted answer is in the database. On PostgreSQL it makes
databases `perception_bench_floor` and `perception_bench_respondent` on that server and drops them.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

HERE = Path(__file__).resolve().parent
ITEMS = 10


@dataclass
class Run:
    name: str
    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, latency: float) -> None:
        with self.lock:
            if status in (302, 303):
                self.accepted += 1
                self.latencies.append(latency)
            else:
                self.refused[status] = self.refused.get(status, 0) + 1

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds

    def line(self) -> str:
        ordered = sorted(self.latencies)
        p99 = ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan")
        return (
            f"{self.name:<14} {self.rate:8.1f} answers/s   "
            f"p50 {statistics.median(ordered) * 1000 if ordered else float('nan'):6.1f} ms   "
            f"p99 {p99 * 1000:6.1f} ms   accepted {self.accepted}   refused {self.refused or 'none'}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body: str = "", cookie: str = "") -> tuple[int, str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": cookie} if cookie else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body or None, headers=headers)
    response = connection.getresponse()
    page = response.read().decode()
    set_cookie = response.getheader("Set-Cookie") or ""
    connection.close()
    return response.status, page, set_cookie.split(";", 1)[0]


def load(
    port: int, path: str, answers: dict[str, str], clients: int, seconds: float, run: Run, rate: float = 0.0
) -> None:
    """CLIENTS respondents send answers for SECONDS: as fast as they are answered (``rate`` 0, the
    server saturated), or RATE answers a second in all, each at its planned time. A paced answer's
    latency counts from its planned time, so a server that falls behind is not excused by sending less.
    """

    def respondent(number: int) -> None:
        status, page, cookie = request(port, "GET", path)
        assert status == 200, (status, page[:500])
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, **answers})
        ready.wait()
        sent = 0
        while True:
            if rate:
                planned = started + (sent * clients + number) / rate
                if planned >= stop_at:
                    break
                time.sleep(max(0.0, planned - time.monotonic()))
                begin = planned
            else:
                begin = time.monotonic()
                if begin >= stop_at:
                    break
            status, _page, _cookie = request(port, "POST", path, body, cookie)
            run.add(status, time.monotonic() - begin)
            sent += 1

    failures: list[BaseException] = []

    def guarded(number: int) -> None:
        try:
            respondent(number)
        except BaseException as error:  # a dead server, a page without a form: the run means nothing
            failures.append(error)
            ready.wait()

    ready = threading.Event()
    threads = [threading.Thread(target=guarded, args=(number,)) for number in range(clients)]
    stop_at = float("inf")
    started = 0.0
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # every respondent has its page before the clock starts (a benchmark, not a test)
    started = time.monotonic()
    stop_at = started + seconds
    ready.set()
    for thread in threads:
        thread.join()
    run.seconds = time.monotonic() - started
    if failures:
        raise SystemExit(f"{run.name}: {len(failures)} of {clients} respondents failed; first: {failures[0]!r}")


def serve(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start a server and wait until it accepts connections; its messages go to ``log``."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=output)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{' '.join(command)} stopped:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)
    raise SystemExit(f"{command} did not start")


def no_control_socket() -> list[str]:
    """gunicorn 24 and later open a control socket per user unless told not to, as `perception serve` does."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=60)


def database(base_url: str | None, folder: Path, name: str) -> tuple[str, object]:
    """A fresh database for one side of the benchmark, and how to drop it."""
    if not base_url:
        return f"sqlite:///{folder / (name + '.db')}", lambda: None
    url = make_url(base_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    database_name = f"perception_bench_{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database_name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=database_name).render_as_string(hide_password=False), drop


def prepare_perception(url: str, instance: Path) -> tuple[str, dict[str, str], int]:
    """A ten-question survey with an open wave: its public path, a full answer, and the stored count."""
    from perception import create_app
    from perception.db import session_scope, upgrade
    from perception.scales import SCALES
    from perception.surveys import parse_definition, store_definition
    from perception.waves import create_wave, open_wave

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance)})
    upgrade(app)
    registries = app.extensions["perception"].registries
    pillars = registries.survey_templates["six-pillars"].definition
    scored = [item for item in pillars["items"] if item["scale"] != "text"][: ITEMS - 1]
    comment = next(item for item in pillars["items"] if item["scale"] == "text")
    definition = {**copy.deepcopy(pillars), "slug": "bench", "items": [*scored, comment]}
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(definition, registries.scoring_models))
        wave = create_wave(session, survey, "bench")
        open_wave(wave)
        token = wave.public_token
    answers = {f"item_{item['key']}": str(SCALES[item["scale"]].values[-1]) for item in scored}
    answers[f"item_{comment['key']}"] = "Quick and kind, thank you."
    app.extensions["perception"].engine.dispose()
    return f"/p/{token}", answers, 0


def count(url: str, table: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        found = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(found)


def wait_for_outbox(url: str, timeout: float = 60.0) -> float:
    """Seconds until the consumer has handed every response event to the plugins (the outbox is empty)."""
    engine = create_engine(url, poolclass=NullPool)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            with engine.connect() as connection:
                if not connection.execute(text("SELECT count(*) FROM outbox_event")).scalar_one():
                    return time.monotonic() - started
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise SystemExit(f"the outbox still holds events {timeout:.0f} s after the load")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5, help="saturated runs of each, taking turns")
    parser.add_argument("--warm-up", type=float, default=5.0, help="seconds of saturated load each, not counted")
    parser.add_argument("--rate", type=float, default=100.0, help="answers a second in all, in the paced runs")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (default: SQLite files)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        env = {**os.environ, "PYTHONPATH": str(HERE), "PERCEPTION_SECRET_KEY": "benchmark"}
        env.pop("PERCEPTION_QUEUE_URL", None)

        floor_url, drop_floor = database(args.database_url, folder, "floor")
        floor_port = free_port()
        floor_server = serve(
            [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b", f"127.0.0.1:{floor_port}",
             "--access-logfile", "-", *no_control_socket(), "floor_app:app"],
            {**env, "FLOOR_DATABASE_URL": floor_url}, floor_port, folder / "floor.log",
        )  # fmt: skip
        floor_answers = {f"q{number}": "5" for number in range(1, ITEMS)} | {"comment": "Quick and kind, thank you."}
        perception_url, drop_perception = database(args.database_url, folder, "respondent")
        path, answers, _ = prepare_perception(perception_url, folder / "instance")
        port = free_port()
        server = serve(
            [sys.executable, "-m", "perception", "serve", "--port", str(port), "--workers", str(args.workers)],
            {**env, "PERCEPTION_DATABASE_URL": perception_url, "PERCEPTION_INSTANCE_PATH": str(folder / "instance")},
            port,
            folder / "perception.log",
        )
        # Both servers stay up; their saturated runs take turns, so that a slower spell of the
        # machine falls on both alike. Each perception run ends when its events have reached the
        # plugins, so that the consumer's work is paid inside the run it belongs to.
        floors, perceptions, lags = [], [], []
        try:
            # Neither server is measured cold: in earlier runs the floor's first round was its slowest
            # in five runs of six (by 10 to 25%), which flattered perception's first ratio.
            warm_floor, warm = Run("floor, warming up"), Run("perception, warming up")
            load(floor_port, "/", floor_answers, args.clients, args.warm_up, warm_floor)
            load(port, path, answers, args.clients, args.warm_up, warm)
            lags.append(wait_for_outbox(perception_url))
            for number in range(args.rounds):
                floors.append(Run(f"floor {number + 1}"))
                load(floor_port, "/", floor_answers, args.clients, args.seconds, floors[-1])
                perceptions.append(Run(f"perception {number + 1}"))
                load(port, path, answers, args.clients, args.seconds, perceptions[-1])
                lags.append(wait_for_outbox(perception_url))
            floor_paced, perception_paced = Run("floor"), Run("perception")
            load(floor_port, "/", floor_answers, args.clients, args.seconds, floor_paced, args.rate)
            load(port, path, answers, args.clients, args.seconds, perception_paced, args.rate)
            lags.append(wait_for_outbox(perception_url))
        finally:
            stop(floor_server)
            stop(server)
        floor_stored = count(floor_url, "floor_answer")
        stored = count(perception_url, "response")
        answers_stored = count(perception_url, "answer")
        drop_floor()
        drop_perception()

    database_name = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{database_name}, {args.workers} gunicorn workers, {args.clients} clients, {args.seconds:.0f} s each")
    print(f"warm-up ({args.warm_up:.0f} s each, not counted): floor {warm_floor.rate:.1f}, "
          f"perception {warm.rate:.1f} answers/s")  # fmt: skip
    print("saturated: each client sends its next answer as soon as the last one is answered; runs take turns")
    ratios = []
    for floor, perception in zip(floors, perceptions, strict=True):
        print(floor.line())
        print(perception.line())
        ratios.append(perception.rate / floor.rate)
    print(f"ratio        {', '.join(f'{ratio:.0%}' for ratio in ratios)}; median {statistics.median(ratios):.0%} "
          f"(median rates: floor {statistics.median(r.rate for r in floors):.1f}, perception "
          f"{statistics.median(r.rate for r in perceptions):.1f} answers/s)")  # fmt: skip
    print(f"paced: {args.rate:.0f} answers a second in all, latency from each answer's planned time")
    print(floor_paced.line())
    print(perception_paced.line())
    print(f"events       every response's event reached the plugins within {max(lags):.1f} s of the end of its run")
    accepted = sum(r.accepted for r in perceptions) + perception_paced.accepted + warm.accepted
    floor_accepted = sum(r.accepted for r in floors) + floor_paced.accepted + warm_floor.accepted
    print(f"stored       floor {floor_stored} rows for {floor_accepted} accepted; perception {stored} responses "
          f"and {answers_stored} answers for {accepted} accepted")  # fmt: skip
    if floor_stored != floor_accepted or stored != accepted or answers_stored != stored * ITEMS:
        raise SystemExit("an accepted answer is missing from the database")


if __name__ == "__main__":
    main()
