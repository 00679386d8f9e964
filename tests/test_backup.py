"""`perception backup` and `perception restore`: a backup brings back every answer, and restore
refuses anything that is not a perception backup before touching the live database."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import select

from perception import create_app
from perception.db import session_scope
from perception.models import Answer, AuditEvent, Response, Survey, Wave
from perception.responses import check_answers, record_response
from perception.scales import SCALES
from perception.surveys import items_of
from tests.conftest import open_core_wave


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: PostgreSQL is backed up with pg_dump (see the README and the test below)."""
    path = tmp_path / "perception.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def _answer(app: Flask, count: int, seed: int) -> None:
    chance = random.Random(seed)
    with session_scope(app) as session:
        survey = session.exec(select(Survey)).one()
        wave = session.exec(select(Wave)).one()
        items = items_of(session, survey)
        for number in range(count):
            raw: dict[str, object] = {}
            for item in items:
                scale = SCALES[item.scale]
                raw[item.key] = (
                    f'=cmd|"/c calc"!A1 <b>n°{number}</b> ✓' if scale.is_text else chance.choice(scale.values)
                )
            side = "customer" if number % 2 else "employee"
            record_response(app, session, survey, wave, side, check_answers(items, raw), language="fr")


def _every_answer(app: Flask) -> list[tuple[object, ...]]:
    with session_scope(app) as session:
        statement = select(Answer.response_id, Answer.item_id, Answer.wave_id, Answer.side, Answer.value, Answer.text)
        return sorted(session.exec(statement.order_by(Answer.id)).all(), key=repr)


def test_a_restored_backup_has_every_answer_and_nothing_added_since(
    app: Flask, app_config: dict[str, object], tmp_path: Path
) -> None:
    open_core_wave(app)
    _answer(app, 24, seed=1)
    before = _every_answer(app)
    assert len(before) > 24
    runner = app.test_cli_runner()
    made = runner.invoke(args=["backup", str(tmp_path / "saved.db")])
    assert made.exit_code == 0, made.output
    assert "24 responses" in made.output
    with session_scope(app) as session:
        assert session.exec(select(AuditEvent.action)).all() == ["database.backup"]
    _answer(app, 5, seed=2)
    with session_scope(app) as session:
        session.delete(session.exec(select(Response).order_by(Response.id)).first())
    assert _every_answer(app) != before
    restored = runner.invoke(args=["restore", "--yes", str(tmp_path / "saved.db")])
    assert restored.exit_code == 0, restored.output
    assert _every_answer(app) == before
    fresh = create_app(app_config)  # another process sees the restored data and a ready database
    assert fresh.test_client().get("/login").status_code == 200
    fresh.extensions["perception"].engine.dispose()
    with session_scope(app) as session:
        actions = session.exec(select(AuditEvent.action)).all()
    assert actions == ["database.restore"]  # the log as it was when the backup was made, and the restore


def test_a_backup_never_overwrites_a_file(app: Flask, tmp_path: Path) -> None:
    existing = tmp_path / "existing.db"
    existing.write_text("keep me", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["backup", str(existing)])
    assert result.exit_code == 1 and "exists already" in result.output
    assert existing.read_text(encoding="utf-8") == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir() if "partial" in path.name) == []


def _refusal(app: Flask, file: Path) -> str:
    result = app.test_cli_runner().invoke(args=["restore", "--yes", str(file)])
    assert result.exit_code == 1
    return result.output


def test_restore_refuses_what_is_not_a_perception_backup_and_changes_nothing(app: Flask, tmp_path: Path) -> None:
    open_core_wave(app)
    _answer(app, 6, seed=3)
    before = _every_answer(app)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database", encoding="utf-8")
    other_sqlite = tmp_path / "other.db"
    with sqlite3.connect(other_sqlite) as connection:
        connection.execute("CREATE TABLE response (id INTEGER)")
    plain_copy = tmp_path / "copy.db"  # the database itself, copied by hand: no backup marker
    shutil.copyfile(app.config["DATABASE_URL"].removeprefix("sqlite:///"), plain_copy)
    for file in (text_file, other_sqlite, plain_copy):
        assert "is not a perception backup" in _refusal(app, file)
    assert "no such file" in _refusal(app, tmp_path / "missing.db")
    assert _every_answer(app) == before


def test_restore_refuses_a_backup_from_a_newer_version(app: Flask, tmp_path: Path) -> None:
    saved = tmp_path / "saved.db"
    assert app.test_cli_runner().invoke(args=["backup", str(saved)]).exit_code == 0
    with sqlite3.connect(saved) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffff'")
    assert "newer version of perception" in _refusal(app, saved)


def test_on_postgresql_the_commands_give_the_pg_dump_path(tmp_path: Path) -> None:
    app = create_app(
        {
            "DATABASE_URL": "postgresql+psycopg://perception:secret@db.internal/perception",
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    result = app.test_cli_runner().invoke(args=["restore", "--yes", str(tmp_path / "x.dump")])
    assert result.exit_code == 1
    assert "pg_dump --format=custom" in result.output and "pg_restore" in result.output
    assert "secret" not in result.output and "postgresql://perception:***@db.internal/perception" in result.output
