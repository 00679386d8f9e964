"""No one where they don't belong: headers, cookies, sign-in lockout, password rules, token lookups."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, func, select

from perception import create_app
from perception.accounts import AccountError, check_password_rules
from perception.db import engine_of, session_scope
from perception.models import AuditEvent, Idea, SignInThrottle
from perception.throttle import Policy, keys_for, locked_until, note_failure
from tests.conftest import PASSWORD, make_account, post_form

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# Mail is read in mail clients, which ignore stylesheets; the board pack is read by WeasyPrint only.
NOT_SERVED_AS_PAGES = ("mail/", "board_pack.html", "dispatch/poster.html")  # rendered to PDF or email


def test_every_page_carries_the_security_headers(app: Flask) -> None:
    response = app.test_client().get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: HSTS would be ignored
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"] and "SameSite=Lax" in response.headers["Set-Cookie"]


def test_over_tls_cookies_are_secure_and_hsts_is_sent(app: Flask) -> None:
    response = app.test_client().get("/login", base_url="https://perception.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "; Secure" in response.headers["Set-Cookie"]


def test_a_proxy_is_believed_only_when_the_setting_says_it_is_there(app_config: dict[str, object]) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    direct = create_app(app_config)
    response = direct.test_client().get("/login", headers=forwarded)
    assert "Strict-Transport-Security" not in response.headers
    assert "Secure" not in response.headers["Set-Cookie"]
    proxied = create_app({**app_config, "PROXY_COUNT": 1})
    response = proxied.test_client().get("/login", headers=forwarded)
    assert "Strict-Transport-Security" in response.headers
    assert "; Secure" in response.headers["Set-Cookie"]
    for made in (direct, proxied):
        engine_of(made).dispose()


def test_no_page_template_has_inline_script_style_or_event_handler() -> None:
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+\s*=", re.IGNORECASE)
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        relative = path.relative_to(TEMPLATES).as_posix()
        if relative.startswith(NOT_SERVED_AS_PAGES):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if inline.search(line):
                found.append(f"{relative}:{number}: {line.strip()[:80]}")
    assert not found, "inline script or style would be blocked by the Content-Security-Policy:\n" + "\n".join(found)


def _sign_in(client, email: str, password: str):  # type: ignore[no-untyped-def]
    return post_form(client, "/login", {"email": email, "password": password})


def _without_echo(page: str, email: str) -> str:
    """The page minus the echoed email and the per-session CSRF token."""
    page = page.replace(email, "EMAIL")
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", page)


def test_failed_sign_ins_lock_an_email_the_same_way_whether_it_has_an_account_or_not(app: Flask) -> None:
    email = make_account(app, "lead")
    attempts = app.config["SIGN_IN_ATTEMPTS"]
    known, unknown = app.test_client(), app.test_client()
    known_answers = [_sign_in(known, email, "wrong password!") for _ in range(attempts)]
    unknown_answers = [_sign_in(unknown, "nobody@example.com", "wrong password!") for _ in range(attempts)]
    statuses = [response.status_code for response in known_answers]
    assert statuses == [401] * (attempts - 1) + [429]
    assert [response.status_code for response in unknown_answers] == statuses
    last_known = _without_echo(known_answers[-1].get_data(as_text=True), email)
    last_unknown = _without_echo(unknown_answers[-1].get_data(as_text=True), "nobody@example.com")
    assert last_known == last_unknown
    assert "Too many failed sign-ins" in last_known
    locked = _sign_in(known, email, PASSWORD)  # the right password does not open a locked account
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 60
    assert known.get("/surveys/").status_code == 302
    with session_scope(app) as session:
        events = session.exec(select(AuditEvent.action, AuditEvent.target)).all()
        rows = session.exec(select(SignInThrottle.key)).all()
    assert events == [("account.lock", email)]
    assert not any("example.com" in key or "127.0.0.1" in key for key in rows)  # hashed keys only


def test_a_lock_ends_after_the_lockout_and_a_success_clears_the_count(app: Flask) -> None:
    email = make_account(app, "lead")
    client = app.test_client()
    for _ in range(app.config["SIGN_IN_ATTEMPTS"]):
        _sign_in(client, email, "wrong password!")
    assert _sign_in(client, email, PASSWORD).status_code == 429
    with session_scope(app) as session:
        for row in session.exec(select(SignInThrottle)).all():
            row.locked_until = datetime.now(UTC) - timedelta(seconds=1)
            row.window_started_at = datetime.now(UTC) - timedelta(hours=1)
    assert _sign_in(client, email, PASSWORD).status_code == 302
    with session_scope(app) as session:
        email_key = keys_for(email, None, Policy())[0][0]
        assert session.get(SignInThrottle, email_key) is None


def test_one_address_trying_many_emails_is_locked_too(app: Flask) -> None:
    client = app.test_client()
    limit = app.config["SIGN_IN_ATTEMPTS"] * 4
    statuses = [
        _sign_in(client, f"guess{number}@example.com", "wrong password!").status_code for number in range(limit)
    ]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401}
    other_address = app.test_client()
    other_address.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert _sign_in(other_address, "guess0@example.com", "wrong password!").status_code == 401


def test_failures_counted_at_once_by_many_processes_are_all_counted(app: Flask) -> None:
    policy = Policy(attempts=1000, minutes=15)
    keys = keys_for("target@example.com", None, policy)
    errors: list[BaseException] = []

    def fail_five_times() -> None:
        try:
            for _ in range(5):
                with Session(engine_of(app)) as session:
                    note_failure(session, keys, policy)
                    session.commit()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=fail_five_times) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    with session_scope(app) as session:
        assert session.get(SignInThrottle, keys[0][0]).failures == 30


def test_a_count_older_than_the_window_starts_again(app: Flask) -> None:
    policy = Policy(attempts=3, minutes=15)
    keys = keys_for("old@example.com", None, policy)
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with session_scope(app) as session:
        assert not note_failure(session, keys, policy, now=start)
        assert not note_failure(session, keys, policy, now=start + timedelta(minutes=1))
        assert not note_failure(session, keys, policy, now=start + timedelta(minutes=20))  # window over: 1
        assert not note_failure(session, keys, policy, now=start + timedelta(minutes=21))
        assert note_failure(session, keys, policy, now=start + timedelta(minutes=22))
        assert locked_until(session, keys, now=start + timedelta(minutes=23)) == start + timedelta(minutes=37)
        assert locked_until(session, keys, now=start + timedelta(minutes=38)) is None


@pytest.mark.parametrize(
    ("password", "email", "reason"),
    [
        ("short", "", "at least 10 characters"),
        ("aaaabbbbaaaa", "", "5 different characters"),
        ("Password123", "", "most common"),
        ("AZERTYUIOP", "", "most common"),
        ("nadia.durand-2026", "nadia.durand@example.com", "email address"),
        ("x" * 500 + "y" * 501, "", "at most 1000"),
    ],
)
def test_passwords_guessed_first_are_refused_with_the_reason(password: str, email: str, reason: str) -> None:
    with pytest.raises(AccountError, match=reason) as refused:
        check_password_rules(password, email)
    assert refused.value.field == "password"


def test_a_good_password_passes() -> None:
    check_password_rules(PASSWORD, "lead@example.com")


def test_an_admin_sees_the_password_rule_under_the_password(app: Flask) -> None:
    from tests.conftest import sign_in

    admin = sign_in(app, "admin")
    page = post_form(
        admin,
        "/accounts/",
        {"email": "x@example.com", "role": "lead", "language": "fr", "password": "motdepasse123"},
    )
    assert page.status_code == 422
    assert re.search(r'id="password-error">this password is among the most common', page.get_data(as_text=True))


def test_a_public_link_is_found_by_its_hash_and_only_by_the_whole_token(app: Flask, core_wave: tuple[str, str]) -> None:
    from perception.models import Wave
    from perception.waves import find_public_wave, hash_token

    with session_scope(app) as session:
        wave = session.exec(select(Wave)).one()
        token = wave.public_token
        assert wave.public_token_hash == hash_token(token)
        assert find_public_wave(session, token) is not None
        assert find_public_wave(session, token[:-1]) is None
        assert find_public_wave(session, token + "x") is None
        assert find_public_wave(session, "") is None
    assert app.test_client().get(f"/p/{token[:-1]}").status_code == 404


def test_a_nul_character_is_refused_with_the_field_named_and_nothing_stored(app: Flask, employee: FlaskClient) -> None:
    """No PostgreSQL text takes a NUL: a form or an address holding one is refused before anything
    is stored, on both databases alike, instead of failing as it is written."""
    with session_scope(app) as session:
        ideas = session.exec(select(func.count()).select_from(Idea)).one()
    page = post_form(employee, "/ideas/new", {"title": "Call back\x00 the same day", "body": "", "action": "post"})
    assert page.status_code == 400
    assert "The field title holds a NUL character" in page.get_data(as_text=True)
    with session_scope(app) as session:
        assert session.exec(select(func.count()).select_from(Idea)).one() == ideas
    assert employee.get("/ideas/?q=a\x00b").status_code == 400
    api = app.test_client().get("/api/v1/surveys?cursor=\x00", headers={"Accept": "application/problem+json"})
    assert api.status_code == 400 and api.get_json()["detail"] == "cursor: a NUL character cannot be stored"
