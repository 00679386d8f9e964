"""Backups of the embedded SQLite database, and restoring them.

SQLite's online backup API copies a consistent snapshot while the app keeps serving (a plain file
copy of a WAL database can miss the pages still in the write-ahead log). The copy is written to a
temporary file and renamed, so a backup interrupted half-way never looks like a whole one. A table
``perception_backup`` in the copy says what it is, so that ``restore`` can refuse any other file
before it touches the live database.

PostgreSQL has its own tools for this, which the README documents (pg_dump / pg_restore).
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy.engine import make_url

from perception.db import alembic_config, engine_of

MARKER = "perception_backup"
FORMAT = 1
SQLITE_HEADER = b"SQLite format 3\x00"


class BackupError(RuntimeError):
    """A backup cannot be made, or a file cannot be restored; the message says why and what to do."""


@dataclass(frozen=True)
class BackupInfo:
    revision: str
    made_at: str
    responses: int
    answers: int


def is_sqlite(app: Flask) -> bool:
    return make_url(app.config["DATABASE_URL"]).get_backend_name() == "sqlite"


def pg_dump_hint(app: Flask) -> str:
    """The pg_dump and pg_restore command lines for this app's PostgreSQL database (no password)."""
    url = make_url(app.config["DATABASE_URL"]).set(drivername="postgresql")
    shown = url.render_as_string(hide_password=True)
    return (
        "perception backup and restore work on the embedded SQLite database; on PostgreSQL use its own tools:\n"
        f"  pg_dump --format=custom --file FILE.dump '{shown}'\n"
        f"  pg_restore --clean --if-exists --no-owner --dbname '{shown}' FILE.dump\n"
        "then run `perception init` (see the README, section Backups)."
    )


def _counts(connection: sqlite3.Connection) -> tuple[int, int]:
    responses = connection.execute("SELECT count(*) FROM response").fetchone()[0]
    answers = connection.execute("SELECT count(*) FROM answer").fetchone()[0]
    return int(responses), int(answers)


def backup(app: Flask, destination: Path) -> BackupInfo:
    """Copy the live SQLite database to ``destination`` (which must not exist yet)."""
    if not is_sqlite(app):
        raise BackupError(pg_dump_hint(app))
    destination = destination.resolve()
    if destination.exists():
        raise BackupError(f"{destination} exists already; give a new file name (nothing was overwritten)")
    if not destination.parent.is_dir():
        raise BackupError(f"folder {destination.parent} does not exist")
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    raw = engine_of(app).raw_connection()
    try:
        with closing(sqlite3.connect(partial)) as target:
            raw.driver_connection.backup(target)  # type: ignore[union-attr]
            revision = target.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            responses, answers = _counts(target)
            made_at = datetime.now(UTC).isoformat(timespec="seconds")
            target.execute(f"CREATE TABLE {MARKER} (format INTEGER NOT NULL, made_at TEXT NOT NULL, counts TEXT)")
            target.execute(
                f"INSERT INTO {MARKER} VALUES (?, ?, ?)",
                (FORMAT, made_at, json.dumps({"responses": responses, "answers": answers})),
            )
            target.commit()
        os.replace(partial, destination)
    except (sqlite3.Error, OSError) as error:
        raise BackupError(f"the backup to {destination} failed: {error}") from None
    finally:
        raw.close()
        partial.unlink(missing_ok=True)
    return BackupInfo(revision=revision, made_at=made_at, responses=responses, answers=answers)


def check_backup(app: Flask, source: Path) -> BackupInfo:
    """What ``source`` holds, or BackupError if it is not a backup this version can restore."""
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    not_ours = f"{source} is not a perception backup (make one with `perception backup FILE`); nothing was changed"
    with source.open("rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError(not_ours)
    try:
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {MARKER, "alembic_version", "response", "answer"} <= tables:
                raise BackupError(not_ours)
            made_format, made_at, counts = connection.execute(
                f"SELECT format, made_at, counts FROM {MARKER}"
            ).fetchone()
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    except (sqlite3.Error, TypeError) as error:
        raise BackupError(f"{not_ours} ({error})") from None
    if made_format != FORMAT:
        raise BackupError(f"{source} is a backup in format {made_format}; this version reads format {FORMAT}")
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config(app)).walk_revisions()}
    if revision not in known:
        raise BackupError(
            f"{source} was made by a newer version of perception (revision {revision}); upgrade perception first"
        )
    counted = json.loads(counts or "{}")
    return BackupInfo(
        revision=revision, made_at=made_at, responses=counted.get("responses", 0), answers=counted.get("answers", 0)
    )


def restore(app: Flask, source: Path) -> BackupInfo:
    """Replace the live SQLite database with the backup ``source``, in one step, then migrate it."""
    from perception.db import upgrade

    if not is_sqlite(app):
        raise BackupError(pg_dump_hint(app))
    info = check_backup(app, source)
    raw = engine_of(app).raw_connection()
    try:
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as backup_file:
            backup_file.backup(raw.driver_connection)  # type: ignore[arg-type]
        live = raw.driver_connection
        live.execute(f"DROP TABLE {MARKER}")  # type: ignore[union-attr]
        live.commit()  # type: ignore[union-attr]
    except sqlite3.Error as error:
        raise BackupError(f"restoring {source} failed: {error}") from None
    finally:
        raw.close()
    upgrade(app)  # a backup from an earlier version is brought up to this one
    app.extensions["perception"].database_ready = False
    return info
