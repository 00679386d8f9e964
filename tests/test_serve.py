"""`perception serve` runs gunicorn for real, and on the embedded default a queue consumer process beside it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

PLUGIN = """
from pathlib import Path
from perception import hookimpl

@hookimpl
def perception_response_submitted(event):
    with open(Path(__file__).with_name("events.log"), "a") as log:
        log.write(f"{event.survey_slug} {event.wave_name} {event.side} {sorted(event.answers.items())}\\n")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, seconds: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gunicorn serves on Linux")
def test_serve_answers_requests_and_runs_the_queue_consumer_beside_it(tmp_path: Path) -> None:
    (tmp_path / "events_plugin.py").write_text(PLUGIN)
    env = {
        **os.environ,
        "PERCEPTION_INSTANCE_PATH": str(tmp_path / "instance"),
        "PERCEPTION_PLUGINS": "events_plugin",
        "PYTHONPATH": str(tmp_path),
    }
    env.pop("PERCEPTION_DATABASE_URL", None)
    env.pop("PERCEPTION_QUEUE_URL", None)
    command = [sys.executable, "-m", "perception"]
    subprocess.run([*command, "init"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run([*command, "demo", "--no-serve"], env=env, check=True, capture_output=True, timeout=120)
    listed = subprocess.run(
        [*command, "wave", "list", "six-pillars"], env=env, check=True, capture_output=True, text=True, timeout=120
    )
    assert "2026-Q4" in listed.stdout
    port = free_port()
    server_log = tmp_path / "server.log"
    with server_log.open("w") as log_file:
        server = subprocess.Popen(
            [*command, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    answered = False
    try:
        base = f"http://127.0.0.1:{port}"

        def login_page() -> bool:
            try:
                return urllib.request.urlopen(base + "/login", timeout=5).status == 200
            except OSError:
                return False

        wait_until(login_page)
        public = _public_link(env, base)
        events = tmp_path / "events.log"
        _answer(public)
        wait_until(events.exists)
        assert events.read_text().startswith("six-pillars 2026-Q4 customer [")

        # A consumer that stops is started again, and the events that came meanwhile are handled.
        consumers = _consumer_pids(server_log.read_text())
        assert len(consumers) == 1
        os.kill(consumers[0], signal.SIGKILL)
        _answer(public)
        wait_until(lambda: len(_consumer_pids(server_log.read_text())) == 2)
        wait_until(lambda: len(events.read_text().splitlines()) == 2)
        answered = True
    finally:
        server.terminate()
        server.wait(timeout=60)
        output = server_log.read_text()
        if not answered:
            print(output)  # the server's log, shown with the failure
    assert "Booting worker" in output and "starting it again" in output
    assert server.returncode == 0, output
    consumers = _consumer_pids(output)
    assert all(not _running(pid) for pid in consumers), "the server stopped its consumer"


def _answer(public: str) -> None:
    """Answer the open wave's public customer link as a respondent's browser would, page after page
    (a long survey comes in pages: "Next" carries the answers so far, the last page sends them)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(public, timeout=60).read().decode()
    for _page in range(10):
        form = dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', page))
        form["csrf_token"] = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        form |= {f"item_{key}": "3" for key in re.findall(r'name="item_([a-z_]+)" value="3"', page)}
        if 'name="move" value="next"' in page:
            form["move"] = "next"
        response = opener.open(public, data=urllib.parse.urlencode(form).encode(), timeout=60)
        if "/thanks" in response.url:
            return
        page = response.read().decode()
    raise AssertionError("the survey never reached its thank-you page")


def _consumer_pids(log: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"Task-queue consumer running \(pid: (\d+)\)", log)]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _public_link(env: dict[str, str], base: str) -> str:
    script = (
        "from perception import create_app\n"
        "from perception.db import session_scope\n"
        "from perception.waves import find_survey, find_wave\n"
        "app = create_app()\n"
        "with session_scope(app) as s:\n"
        "    print(find_wave(s, find_survey(s, 'six-pillars'), '2026-Q4').public_token)\n"
    )
    token = subprocess.run(
        [sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()
    return f"{base}/p/{token}"
