"""Migrations build the schema the models describe, and the app refuses a database they have not built."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

from perception import create_app
from perception.db import alembic_config, engine_of, make_engine, upgrade
from perception.models import metadata


def test_migrations_leave_nothing_for_autogenerate_to_add(app: Flask) -> None:
    with engine_of(app).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_migrations_upgrade_an_empty_database_and_downgrade_it(app: Flask) -> None:
    config = alembic_config(app)
    command.downgrade(config, "base")
    assert set(metadata.tables) - _tables(app) == set(metadata.tables)
    command.upgrade(config, "head")
    assert set(metadata.tables) <= _tables(app)


def _tables(app: Flask) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(engine_of(app)).get_table_names())


def test_an_unmigrated_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    page = app.test_client().get("/login")
    assert page.status_code == 503
    assert "Run `perception init`" in page.get_data(as_text=True)
    result = app.test_cli_runner().invoke(args=["survey", "list"])
    assert result.exit_code == 1
    assert "has not been initialised. Run `perception init`" in result.output
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    assert app.test_client().get("/login").status_code == 200


def test_an_outdated_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    upgrade(app)
    with engine_of(app).begin() as connection:
        from sqlalchemy import text

        connection.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    fresh = create_app({"INSTANCE_PATH": str(tmp_path)})
    page = fresh.test_client().get("/login")
    assert page.status_code == 503
    assert "newer version of perception" in page.get_data(as_text=True)


def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    with engine_of(app).connect() as connection:
        from sqlalchemy import text

        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def _backend_killed(url: str, pid: int) -> None:
    """Another connection ends the server process behind ``pid``, as a server restart would."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    admin = create_engine(url, poolclass=NullPool)
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
    admin.dispose()


def test_a_postgresql_connection_lost_while_it_rested_is_replaced_before_use(pg_url: str) -> None:
    from sqlalchemy import text

    engine = make_engine(pg_url, ping_after_idle=0.2)
    with engine.connect() as connection:
        first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    _backend_killed(pg_url, first)
    time.sleep(0.3)
    with engine.connect() as connection:  # pinged, found dead, replaced: the request sees nothing
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    engine.dispose()


def test_a_postgresql_connection_used_a_moment_ago_is_not_pinged(pg_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    engine = make_engine(pg_url, ping_after_idle=60)
    pings = []
    ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda dbapi_connection: pings.append(1) or ping(dbapi_connection)  # type: ignore[method-assign]
    for _ in range(5):
        with engine.connect() as connection:
            backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert pings == []
    # Lost between two requests a moment apart: that request fails, and the next has a new connection.
    _backend_killed(pg_url, backend)
    with pytest.raises(OperationalError), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != backend
    engine.dispose()
