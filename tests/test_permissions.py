"""Who gets what: every route of the app, every role, the expected status.

``MATRIX`` is the table: one line per route and method, as ``app.url_map`` has them, with the
status each role gets, in the order of ``ROLES``. A route without a line fails
``test_every_route_has_a_line_in_the_matrix``, which prints the line to paste.

How each role asks:
- anonymous: no session, and a link nobody was given (``/r/``, ``/p/``, ``/u/`` tokens);
- customer: no session, with a customer's own links (one-time invitation, the wave's public link, a kiosk,
  an unsubscribe link);
- employee: signed in, with an employee's one-time link;
- leader, lead, admin: signed in, with a link nobody was given.

Requests are made as a browser makes them: a POST carries the session's CSRF token and no other
field, so a role that may act gets the form back with its errors, or a redirect. Pages are asked
in one prepared world; before each action every table is put back as it was in that world, so
that what one action changes never moves another route's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from flask import Blueprint, Flask
from flask.testing import FlaskClient
from sqlalchemy import Table
from sqlmodel import select

from perception import create_app, hookimpl
from perception.contacts import unsubscribe_token
from perception.db import engine_of, session_scope
from perception.kiosk import create_kiosk, kiosk_token
from perception.models import Account, Alert, Contact, Idea, Story, Wave, metadata
from perception.tokens import create_token
from perception.waves import issue_links
from perception.webhooks import create_endpoint
from tests.conftest import csrf_token, make_account, post_form, sign_in
from tests.test_alerts import answer, loop_wave
from tests.test_stories import STORY

ROLES = ("anonymous", "customer", "employee", "leader", "lead", "admin")

# Statuses, by name, so that a line reads as a sentence.
OK = 200  # the page (or, for a POST, the form back with its errors)
MOVED = 302  # a redirect after an action
LOGIN = "login"  # a redirect to the sign-in page
BAD = 400  # the form was refused as a whole
DENIED = 403  # signed in, but the role does not give access
NOT_FOUND = 404  # not found: an unknown link, or a page this role may not know exists
CONFLICT = 409
INVALID = 422  # the form, with its errors
BEARER = 401  # the API asks for a bearer token (a session cookie is not one)
METHOD = 405

# fmt: off
# "METHOD /rule": (anonymous, customer, employee, leader, lead, admin)
MATRIX: dict[str, tuple[object, ...]] = {
    "GET /static/<path:filename>": (OK, OK, OK, OK, OK, OK),
    "GET /contacts": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /u/<token>": (NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "GET /surveys/<slug>/waves/<name>/qr.svg": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /surveys/<slug>/waves/<name>/poster.pdf": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /surveys/<slug>/waves/<name>/sending": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /surveys/<slug>/waves/<name>/kiosks/<int:kiosk_id>": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /k/<token>": (NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "GET /k/<token>/answer": (NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "GET /k/<token>/thanks": (NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "GET /k/<token>/manifest.webmanifest": (NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "GET /login": (OK, OK, OK, OK, OK, OK),
    "GET /": (LOGIN, LOGIN, OK, MOVED, MOVED, MOVED),
    "GET /surveys/": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /surveys/new": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /surveys/build": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /surveys/<slug>/edit": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /surveys/<slug>/preview/<any(customer, employee):side>": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /surveys/<slug>": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /surveys/<slug>/export": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /surveys/<slug>/waves/<name>": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /surveys/<slug>/waves/<name>/report": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /surveys/<slug>/waves/<name>/verbatims": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /surveys/<slug>/waves/<name>/themes": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /surveys/<slug>/waves/<name>/groups": (LOGIN, LOGIN, DENIED, BAD, BAD, BAD),
    "GET /surveys/<slug>/trend": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /surveys/<slug>/waves/<name>/gaps.svg": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /surveys/<slug>/waves/<name>/priorities.svg": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /surveys/<slug>/trend/<key>.svg": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /surveys/<slug>/waves/<name>/<any(customer, employee):side>.csv": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /surveys/<slug>/waves/<name>/report.pdf": (LOGIN, LOGIN, DENIED, OK, OK, OK),
    "GET /r/<token>": (NOT_FOUND, OK, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "GET /answer/<int:wave_id>": (LOGIN, LOGIN, OK, OK, OK, OK),
    "GET /p/<token>": (NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "GET /thanks": (OK, OK, OK, OK, OK, OK),
    "GET /accounts/": (LOGIN, LOGIN, DENIED, DENIED, DENIED, OK),
    "GET /accounts/tokens": (LOGIN, LOGIN, DENIED, DENIED, DENIED, OK),
    "GET /api/v1/openapi.json": (OK, OK, OK, OK, OK, OK),
    "GET /api/v1/docs": (OK, OK, OK, OK, OK, OK),
    "GET /api/v1/surveys/<slug>/waves/<name>/report": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/alerts": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/alerts/<int:alert_id>": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/ideas": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/ideas/<int:idea_id>": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/stories": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/stories/<int:story_id>": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/surveys": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/surveys/<slug>": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/surveys/<slug>/definition": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/surveys/<slug>/codebook": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/surveys/<slug>/waves": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/surveys/<slug>/waves/<name>": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "GET /api/v1/surveys/<slug>/waves/<name>/responses/<any(customer, employee):side>": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),  # noqa: E501
    "GET /accounts/webhooks/": (LOGIN, LOGIN, DENIED, DENIED, DENIED, OK),
    "GET /accounts/webhooks/<int:endpoint_id>": (LOGIN, LOGIN, DENIED, DENIED, DENIED, OK),
    "GET /audit/": (LOGIN, LOGIN, DENIED, DENIED, DENIED, OK),
    "GET /alerts/": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /alerts/<int:alert_id>": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /alerts/rules/<slug>": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /alerts/figures": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /stories/": (LOGIN, LOGIN, OK, OK, OK, OK),
    "GET /stories/feed.atom": (LOGIN, LOGIN, OK, OK, OK, OK),
    "GET /stories/new": (LOGIN, LOGIN, OK, OK, OK, OK),
    "GET /stories/<int:story_id>/edit": (LOGIN, LOGIN, OK, DENIED, DENIED, DENIED),
    "GET /stories/<int:story_id>": (LOGIN, LOGIN, OK, NOT_FOUND, OK, OK),
    "GET /ideas/": (LOGIN, LOGIN, OK, OK, OK, OK),
    "GET /ideas/new": (LOGIN, LOGIN, OK, OK, OK, OK),
    "GET /ideas/similar": (LOGIN, LOGIN, OK, OK, OK, OK),
    "GET /ideas/<int:idea_id>": (LOGIN, LOGIN, OK, OK, OK, OK),
    "GET /ideas/moderation": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "GET /ideas/pairs": (LOGIN, LOGIN, OK, OK, OK, OK),
    "GET /ideas/ranking": (LOGIN, LOGIN, OK, OK, OK, OK),
    "GET /notifications/": (LOGIN, LOGIN, OK, OK, OK, OK),
    "POST /contacts/import": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /contacts/forget": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /u/<token>": (NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "POST /surveys/<slug>/waves/<name>/sending/invite": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /surveys/<slug>/waves/<name>/sending/remind": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /surveys/<slug>/waves/<name>/kiosks": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /surveys/<slug>/waves/<name>/kiosks/<int:kiosk_id>/launch": (LOGIN, LOGIN, DENIED, DENIED, MOVED, MOVED),
    "POST /surveys/<slug>/waves/<name>/kiosks/<int:kiosk_id>/stop": (LOGIN, LOGIN, DENIED, DENIED, MOVED, MOVED),
    "POST /k/<token>/answer": (NOT_FOUND, INVALID, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "POST /login": (OK, OK, OK, OK, OK, OK),
    "POST /logout": (LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN),
    "POST /surveys/new": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /surveys/build": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /surveys/import": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /surveys/<slug>/edit": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /surveys/<slug>/preview/<any(customer, employee):side>": (LOGIN, LOGIN, DENIED, INVALID, INVALID, INVALID),
    "POST /surveys/<slug>/waves": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /surveys/<slug>/waves/<name>/<any(open, close):action>": (LOGIN, LOGIN, DENIED, DENIED, MOVED, MOVED),
    "POST /surveys/<slug>/waves/<name>/links": (LOGIN, LOGIN, DENIED, DENIED, INVALID, INVALID),
    "POST /surveys/<slug>/following": (LOGIN, LOGIN, DENIED, MOVED, MOVED, MOVED),
    "POST /r/<token>": (NOT_FOUND, INVALID, INVALID, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "POST /answer/<int:wave_id>": (LOGIN, LOGIN, INVALID, INVALID, INVALID, INVALID),
    "POST /p/<token>": (NOT_FOUND, INVALID, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "POST /accounts/": (LOGIN, LOGIN, DENIED, DENIED, DENIED, INVALID),
    "POST /accounts/<int:account_id>/active": (LOGIN, LOGIN, DENIED, DENIED, DENIED, MOVED),
    "POST /accounts/tokens": (LOGIN, LOGIN, DENIED, DENIED, DENIED, INVALID),
    "POST /accounts/tokens/<int:token_id>/revoke": (LOGIN, LOGIN, DENIED, DENIED, DENIED, MOVED),
    "POST /api/v1/waves/<int:wave_id>/invitations": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "POST /api/v1/waves/<int:wave_id>/invitations/bulk": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "PATCH /api/v1/alerts/<int:alert_id>": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "POST /api/v1/surveys": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "PUT /api/v1/surveys/<slug>/definition": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "POST /api/v1/surveys/<slug>/waves": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "POST /api/v1/surveys/<slug>/waves/<name>/open": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "POST /api/v1/surveys/<slug>/waves/<name>/close": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),
    "POST /api/v1/surveys/<slug>/waves/<name>/responses/<any(customer, employee):side>": (BEARER, BEARER, BEARER, BEARER, BEARER, BEARER),  # noqa: E501
    "POST /accounts/webhooks/": (LOGIN, LOGIN, DENIED, DENIED, DENIED, INVALID),
    "POST /accounts/webhooks/<int:endpoint_id>/test": (LOGIN, LOGIN, DENIED, DENIED, DENIED, MOVED),
    "POST /accounts/webhooks/<int:endpoint_id>/active": (LOGIN, LOGIN, DENIED, DENIED, DENIED, MOVED),
    "POST /accounts/webhooks/<int:endpoint_id>/delete": (LOGIN, LOGIN, DENIED, DENIED, DENIED, MOVED),
    "POST /alerts/<int:alert_id>": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),
    "POST /alerts/rules/<slug>": (LOGIN, LOGIN, DENIED, DENIED, MOVED, MOVED),
    "POST /stories/new": (LOGIN, LOGIN, INVALID, INVALID, INVALID, INVALID),
    "POST /stories/<int:story_id>/edit": (LOGIN, LOGIN, INVALID, DENIED, DENIED, DENIED),
    "POST /stories/<int:story_id>/applaud": (LOGIN, LOGIN, MOVED, NOT_FOUND, MOVED, MOVED),
    "POST /stories/<int:story_id>/archive": (LOGIN, LOGIN, MOVED, NOT_FOUND, MOVED, MOVED),
    "POST /stories/<int:story_id>/send_back": (LOGIN, LOGIN, DENIED, NOT_FOUND, MOVED, MOVED),
    "POST /stories/<int:story_id>/publish": (LOGIN, LOGIN, DENIED, NOT_FOUND, MOVED, MOVED),
    "POST /stories/<int:story_id>/thank": (LOGIN, LOGIN, MOVED, NOT_FOUND, MOVED, MOVED),
    "POST /ideas/new": (LOGIN, LOGIN, OK, OK, OK, OK),
    "POST /ideas/<int:idea_id>/support": (LOGIN, LOGIN, MOVED, MOVED, MOVED, MOVED),
    "POST /ideas/<int:idea_id>/report": (LOGIN, LOGIN, MOVED, MOVED, MOVED, MOVED),
    "POST /ideas/<int:idea_id>/decide": (LOGIN, LOGIN, DENIED, DENIED, MOVED, MOVED),
    "POST /ideas/<int:idea_id>/merge": (LOGIN, LOGIN, DENIED, DENIED, MOVED, MOVED),
    "POST /ideas/<int:idea_id>/moderate": (LOGIN, LOGIN, DENIED, DENIED, BAD, BAD),
    "POST /ideas/pairs": (LOGIN, LOGIN, MOVED, MOVED, MOVED, MOVED),
    "POST /notifications/read": (LOGIN, LOGIN, MOVED, MOVED, MOVED, MOVED),
    "POST /notifications/settings": (LOGIN, LOGIN, MOVED, MOVED, MOVED, MOVED),
}
# fmt: on


def expected_line(key: str) -> str:
    return f'    "{key}": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),'


def missing_lines(app: Flask) -> str:
    """What to tell whoever added a route without a line: which route, and the line to paste."""
    missing = [key for key in app_routes(app) if key not in MATRIX]
    if not missing:
        return ""
    return (
        "These routes have no line in the permission matrix (MATRIX in tests/test_permissions.py):\n\n"
        + "\n".join(expected_line(key) for key in missing)
        + "\n\nPaste each line into MATRIX and put the status each role should get, in the order "
        f"{', '.join(ROLES)} (the line above is a page only leads and admins may see). Then run "
        "`pytest tests/test_permissions.py`: a line that does not match prints what each role got."
    )


def app_routes(app: Flask) -> list[str]:
    """Every route and method of the app, as the matrix names them (HEAD and OPTIONS aside)."""
    keys = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            keys.append(f"{method} {rule.rule}")
    return keys


@dataclass
class World:
    """What the routes' arguments point at, made through the app as its users make it."""

    app: Flask
    values: dict[str, object] = field(default_factory=dict)
    links: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> argument -> token
    clients: dict[str, FlaskClient] = field(default_factory=dict)


NOBODYS_LINK = "a-link-nobody-was-given"


def build_world(app: Flask) -> World:
    """A wave with an answer, an alert, an idea, a story, links, a contact, a kiosk, an API token
    and a webhook endpoint.

    A new route whose path has an argument no route had before (``<kiosk_id>``) needs its value
    in ``world.values``; a new kind of link (``/k/<token>``, a kiosk's), the token each role holds
    in ``world.links``.
    """
    world = World(app)
    for role in ("admin", "lead", "leader", "employee"):
        world.clients[role] = sign_in(app, role)
    world.clients["anonymous"] = app.test_client()
    world.clients["customer"] = app.test_client()
    colleague = make_account(app, "employee", email="colleague@example.com")
    public_token = loop_wave(app)
    # A detractor who asks to be called back opens an alert.
    assert answer(app, public_token, 0, contact_how="email", contact_address="ana@example.com") == 302
    employee = world.clients["employee"]
    assert post_form(employee, "/ideas/new", {"title": "Call back the same day", "body": "Details.",
                                              "action": "post"}).status_code == 302  # fmt: skip
    assert post_form(employee, "/stories/new", {**STORY, "send": "submit"}).status_code == 302
    with session_scope(app) as session:
        wave = session.exec(select(Wave)).one()
        customer_link = issue_links(session, wave, "customer", 1, 30)[0].token
        employee_link = issue_links(session, wave, "employee", 1, 30)[0].token
        contact = Contact(kind="customer", email="ana@example.com", created_at=wave.created_at)
        session.add(contact)
        session.flush()
        admin_id = session.exec(select(Account.id).where(Account.email == "admin@example.com")).one()
        token, _clear = create_token(session, "reports", ["reports:read"], admin_id)
        endpoint = create_endpoint(session, "https://helpdesk.example.com/hooks", ["wave.closed"], "Helpdesk", admin_id)
        kiosk = create_kiosk(session, wave, "Front desk")
        world.values = {
            "slug": "loop",
            "name": wave.name,
            "key": "recommend",
            "side": "customer",
            "wave_id": wave.id,
            "idea_id": session.exec(select(Idea.id)).one(),
            "story_id": session.exec(select(Story.id)).one(),
            "alert_id": session.exec(select(Alert.id)).one(),
            "account_id": session.exec(select(Account.id).where(Account.email == colleague)).one(),
            "token_id": token.id,
            "endpoint_id": endpoint.id,
            "filename": "perception.css",
            "action": "close",
            "kiosk_id": kiosk.id,
        }
        unsubscribe = unsubscribe_token(app.config["SECRET_KEY"], contact.id)
        kiosk_link = kiosk_token(app.config["SECRET_KEY"], kiosk.id)  # type: ignore[arg-type]
    nobody = {"/r/": NOBODYS_LINK, "/p/": NOBODYS_LINK, "/u/": NOBODYS_LINK, "/k/": NOBODYS_LINK}
    world.links = {role: nobody for role in ROLES}
    world.links["customer"] = {"/r/": customer_link, "/p/": public_token, "/u/": unsubscribe, "/k/": kiosk_link}
    world.links["employee"] = {**nobody, "/r/": employee_link}
    return world


NAMES = {
    OK: "OK", MOVED: "MOVED", LOGIN: "LOGIN", BAD: "BAD", DENIED: "DENIED", NOT_FOUND: "NOT_FOUND",
    CONFLICT: "CONFLICT", INVALID: "INVALID", BEARER: "BEARER", METHOD: "METHOD",
}  # fmt: skip
ARGUMENT = re.compile(r"<(?:[^:>]+:)?([^>]+)>")


def path_for(world: World, rule: str, role: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "token":
            links = world.links[role]
            assert rule[:3] in links, (
                f"{rule}: say which link each role holds for {rule[:3]}... in build_world (world.links)"
            )
            return links[rule[:3]]
        assert name in world.values, f"{rule}: give <{name}> a value in build_world (world.values)"
        return str(world.values[name])

    return ARGUMENT.sub(value, rule)


def ask(world: World, key: str, role: str) -> object:
    """The status ``role`` gets from the route, named as in the matrix."""
    method, rule = key.split(" ", 1)
    client = world.clients[role]
    path = path_for(world, rule, role)
    if method == "GET":
        response = client.get(path)
    else:
        signed_in = role not in ("anonymous", "customer")
        token = csrf_token(client, "/notifications/" if signed_in else "/login")
        response = client.open(path, method=method, data={"csrf_token": token})
    location = response.headers.get("Location", "")
    if response.status_code in (301, 302, 303) and location.split("?")[0].endswith("/login"):
        return LOGIN
    return response.status_code


def line(key: str, statuses: list[object]) -> str:
    return f'    "{key}": ({", ".join(NAMES.get(status, str(status)) for status in statuses)}),'


def check(world: World, keys: list[str]) -> list[str]:
    """The lines of ``keys`` that do not match what the roles got, each with the line that would."""
    wrong = []
    for key in keys:
        statuses = [ask(world, key, role) for role in ROLES]
        if tuple(statuses) != MATRIX[key]:
            wrong.append(f"expected {line(key, list(MATRIX[key])).strip()}\n     got {line(key, statuses).strip()}")
    return wrong


def snapshot(app: Flask) -> dict[str, list[dict[str, object]]]:
    with engine_of(app).connect() as connection:
        return {table.name: [dict(row._mapping) for row in connection.execute(table.select())] for table in tables()}


def restore(app: Flask, rows: dict[str, list[dict[str, object]]]) -> None:
    """Put every table back as it was (identifiers too), so that the next action starts from the world."""
    with engine_of(app).begin() as connection:
        for table in reversed(tables()):
            connection.execute(table.delete())
        for table in tables():
            if rows[table.name]:
                connection.execute(table.insert(), rows[table.name])


def tables() -> list[Table]:
    return list(metadata.sorted_tables)


def test_every_route_has_a_line_in_the_matrix(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'routes.db'}", "INSTANCE_PATH": str(tmp_path)})
    message = missing_lines(app)
    assert not message, message
    stale = [key for key in MATRIX if key not in app_routes(app)]
    assert not stale, f"These lines of the permission matrix name routes the app no longer has: {stale}"


class Totem:
    @hookimpl
    def perception_register_blueprints(self, app: Flask) -> list[Blueprint]:
        blueprint = Blueprint("totem", __name__)
        blueprint.add_url_rule("/totem/<token>", "screen", lambda token: "", methods=["GET", "POST"])
        return [blueprint]


def test_a_route_added_without_a_line_is_named_with_the_line_to_paste(tmp_path: Path) -> None:
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'routes.db'}", "INSTANCE_PATH": str(tmp_path)}
    message = missing_lines(create_app(config, plugins=[Totem()]))
    assert '    "GET /totem/<token>": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),' in message
    assert '    "POST /totem/<token>": (LOGIN, LOGIN, DENIED, DENIED, OK, OK),' in message
    assert "/surveys/" not in message


def test_every_role_gets_what_the_matrix_says_from_every_route(app: Flask) -> None:
    world = build_world(app)
    wrong = check(world, [key for key in MATRIX if key.startswith("GET ")])
    rows = snapshot(app)
    sessions = {role: world.clients[role].get_cookie("session") for role in ROLES}
    for key in [key for key in MATRIX if not key.startswith("GET ")]:
        # Each action starts from the same world, with every role signed in again as before.
        restore(app, rows)
        for role in ROLES:
            world.clients[role] = app.test_client()
            if sessions[role] is not None:
                world.clients[role].set_cookie("session", sessions[role].value)
        wrong += check(world, [key])
    assert not wrong, "Roles got other answers than the matrix says:\n" + "\n".join(wrong)
