"""Every test that touches the database runs twice: on SQLite, then on PostgreSQL.

PostgreSQL comes from ``PERCEPTION_TEST_DATABASE_URL`` (a database the tests may fill and
empty; each test worker makes its own copy). Without it the PostgreSQL half is skipped,
except in CI, where a missing variable stops the run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from perception import create_app
from perception.accounts import create_account
from perception.db import session_scope, upgrade
from perception.models import metadata
from tests.mailbox import mailbox  # noqa: F401  (the fixture, for every test)

PG_URL = os.environ.get("PERCEPTION_TEST_DATABASE_URL", "")
PASSWORD = "correct horse battery"


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not PG_URL:
        raise pytest.UsageError(
            "CI must run the PostgreSQL half: set PERCEPTION_TEST_DATABASE_URL "
            "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )


def _migrated(url: str, instance: Path) -> None:
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance)})
    upgrade(app)
    app.extensions["perception"].engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "perception.db"
    _migrated(f"sqlite:///{path}", folder / "instance")
    return path


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    """A database of this worker's own, migrated once for the session."""
    base = make_url(PG_URL)
    # Named per checkout too, so that two checkouts' suites on one server never share a database.
    checkout = hashlib.sha1(str(Path(__file__).resolve().parent).encode()).hexdigest()[:8]
    name = f"{base.database}_{re.sub(r'[^a-z0-9]', '', worker_id.lower())}_{checkout}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base.set(database=name).render_as_string(hide_password=False)
    _migrated(url, tmp_path_factory.mktemp("pg-instance"))
    return url


def _empty_postgres(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "perception.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    """This worker's migrated PostgreSQL database, as it was left; the test is skipped without one."""
    if not PG_URL:
        pytest.skip("PostgreSQL half: set PERCEPTION_TEST_DATABASE_URL to run it")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, object]:
    return {
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "QUEUE_IMMEDIATE": True,
        "TESTING": True,
    }


@pytest.fixture
def app(app_config: dict[str, object]) -> Iterator[Flask]:
    app = create_app(app_config)
    yield app
    app.extensions["perception"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The session's CSRF token, read from a page the way a browser gets it."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post_form(client: FlaskClient, path: str, data: dict[str, object], token_from: str | None = None, **kw):  # type: ignore[no-untyped-def]
    """Post a form as a browser would: with the CSRF token of the page it was on."""
    return client.post(path, data={"csrf_token": csrf_token(client, token_from or path), **data}, **kw)


def make_account(app: Flask, role: str, email: str | None = None, language: str = "en") -> str:
    """An account of that role, made the first time it is asked for."""
    from sqlmodel import select

    from perception.models import Account

    email = email or f"{role}@example.com"
    with session_scope(app) as session:
        if session.exec(select(Account).where(Account.email == email)).first() is None:
            create_account(session, email, role, PASSWORD, name=role.title(), language=language)
    return email


def sign_in(app: Flask, role: str, language: str = "en") -> FlaskClient:
    client = app.test_client()
    email = make_account(app, role, language=language)
    response = post_form(client, "/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def lead(app: Flask) -> FlaskClient:
    return sign_in(app, "lead")


@pytest.fixture
def leader(app: Flask) -> FlaskClient:
    return sign_in(app, "leader")


@pytest.fixture
def employee(app: Flask) -> FlaskClient:
    return sign_in(app, "employee")


def open_core_wave(app: Flask) -> tuple[str, str]:
    """Store the `core` template as survey `core`, with an open wave `w1`."""
    from perception.surveys import parse_definition, store_definition
    from perception.waves import create_wave, open_wave

    registries = app.extensions["perception"].registries
    with session_scope(app) as session:
        survey = store_definition(
            session,
            parse_definition(registries.survey_templates["core"].definition, registries.scoring_models),
        )
        open_wave(create_wave(session, survey, "w1"))
    return "core", "w1"


@pytest.fixture
def core_wave(app: Flask) -> tuple[str, str]:
    return open_core_wave(app)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    from tests.browsing import serve

    yield from serve(app)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from tests.browsing import launch

    yield from launch()
