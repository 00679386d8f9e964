"""The database: one engine per application, one session per request, migration state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from perception.paths import resource_dir


class DatabaseNotReady(RuntimeError):
    """The database is missing tables, or is behind or ahead of this version's migrations."""


PING_AFTER_IDLE = 1.0
"""Seconds a pooled PostgreSQL connection may rest before it is pinged at its next checkout."""


def make_engine(url: str, ping_after_idle: float = PING_AFTER_IDLE) -> Engine:
    if url.startswith("sqlite"):
        # Pooled: a connection is opened once per process and thread, not at every request. Each
        # close of SQLite's last connection writes the WAL back into the database file.
        engine = create_engine(url, connect_args={"timeout": 30}, poolclass=QueuePool, pool_size=5, max_overflow=10)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_engine(url)
    _ping_rested_connections(engine, ping_after_idle)
    return engine


def _ping_rested_connections(engine: Engine, ping_after_idle: float) -> None:
    """Ping a pooled connection at checkout only when it has rested ``ping_after_idle`` seconds.

    A connection lost while it rested (the server restarted, a firewall dropped it) is replaced
    before a request uses it, as SQLAlchemy's ``pool_pre_ping`` does; one just used is taken as
    is, which spares every request under load a round trip to the server. A connection lost
    while in use fails that request, and the pool then replaces every connection older than the
    failure.
    """

    @event.listens_for(engine, "checkin")
    def _rested_since(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_rested(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        rested_since = record.info.get("checked_in_at")
        if rested_since is None or time.monotonic() - rested_since < ping_after_idle:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (a new one if need be).
            raise DisconnectionError(f"a pooled connection was lost while it rested: {error}") from error


def engine_of(app: Flask) -> Engine:
    return app.extensions["perception"].engine


def get_session() -> Session:
    """The request's session, opened on first use and closed when the request ends."""
    if "db_session" not in g:
        g.db_session = Session(engine_of(current_app), expire_on_commit=False)
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def without_transaction(session: Session) -> None:
    """On PostgreSQL, commit each of the session's statements as it ends, with no transaction
    opened and committed around them: two exchanges with the server fewer for a request that reads
    and then writes in one statement (a public link's answers). Call it before the session's first
    statement. SQLite keeps its transaction: its writes take several statements.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def in_transaction(session: Session) -> bool:
    """Whether the session's statements run in one transaction (see ``without_transaction``)."""
    return session.connection().get_execution_options().get("isolation_level") != "AUTOCOMMIT"


@contextmanager
def session_scope(app: Flask) -> Iterator[Session]:
    """A session outside a request (commands, tasks): committed on success, rolled back on error."""
    with Session(engine_of(app), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def migrations_path() -> Path:
    return resource_dir("migrations")


def alembic_config(app: Flask) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.set_main_option("sqlalchemy.url", app.config["DATABASE_URL"].replace("%", "%%"))
    config.attributes["engine"] = engine_of(app)
    return config


def upgrade(app: Flask) -> None:
    """Create the database, or bring it up to this version's migrations."""
    command.upgrade(alembic_config(app), "head")


def check_ready(app: Flask) -> None:
    """Raise DatabaseNotReady, with the command that fixes it, unless migrations are current."""
    state = app.extensions["perception"]
    if state.database_ready:
        return
    heads = set(ScriptDirectory.from_config(alembic_config(app)).get_heads())
    with engine_of(app).connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if not current:
        raise DatabaseNotReady("The database has not been initialised. Run `perception init` to create it.")
    if current != heads:
        known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config(app)).walk_revisions()}
        if current - known:
            raise DatabaseNotReady(
                "The database was migrated by a newer version of perception "
                f"(revision {', '.join(sorted(current - known))}). Upgrade perception first."
            )
        raise DatabaseNotReady(
            "The database is out of date for this version of perception. Run `perception init` to upgrade it."
        )
    state.database_ready = True
