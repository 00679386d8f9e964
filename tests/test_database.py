"""Migrations build the schema the models describe, and the app refuses a database they have not built."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

from perception import create_app
from perception.db import alembic_config, engine_of, upgrade
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
