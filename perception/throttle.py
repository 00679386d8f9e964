"""Sign-in throttling: too many failed sign-ins lock an email, and an address, for a while.

The counts live in the database, not in memory, because several processes (gunicorn workers,
machines behind a load balancer) serve sign-ins: a guesser spreading attempts over workers meets
the same count. Each failure is one atomic upsert, so two processes failing at once both count.

Keys are hashes, so the table holds no email address (not even a mistyped one) and no IP address.
An unknown email is counted and locked exactly like a known one: the lock says nothing about which
accounts exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from perception.models import SignInThrottle

ADDRESS_FACTOR = 4  # one address may fail this many times more than one email (an office behind one NAT)


@dataclass(frozen=True)
class Policy:
    """``attempts`` failures within ``minutes`` lock an email for ``minutes``; an address gets more."""

    attempts: int = 5
    minutes: int = 15

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.minutes)


def _digest(kind: str, value: str) -> str:
    return f"{kind}:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def keys_for(email: str, address: str | None, policy: Policy) -> list[tuple[str, int]]:
    """The keys a sign-in counts against, each with its limit."""
    keys = [(_digest("email", email.strip().lower()), policy.attempts)]
    if address:
        keys.append((_digest("addr", address), policy.attempts * ADDRESS_FACTOR))
    return keys


def locked_until(session: Session, keys: Iterable[tuple[str, int]], now: datetime | None = None) -> datetime | None:
    """When the latest lock on any of ``keys`` ends, or None if none is locked now."""
    now = now or datetime.now(UTC)
    names = [key for key, _ in keys]
    statement = select(SignInThrottle.locked_until).where(
        col(SignInThrottle.key).in_(names), col(SignInThrottle.locked_until) > now
    )
    ends = [end for end in session.exec(statement).all() if end is not None]
    return max(ends) if ends else None


def note_failure(
    session: Session, keys: Iterable[tuple[str, int]], policy: Policy, now: datetime | None = None
) -> bool:
    """Count one failure against each key; True when this failure locked one of them.

    A count older than the window starts again from one. The caller commits.
    """
    now = now or datetime.now(UTC)
    cutoff = now - policy.window
    until = now + policy.window
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stale = table.c.window_started_at < cutoff
    locked_now = False
    for key, limit in keys:
        failures = case((stale, 1), else_=table.c.failures + 1)
        statement = insert(table).values(
            key=key, failures=1, window_started_at=now, locked_until=until if limit <= 1 else None
        )
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "failures": failures,
                "window_started_at": case((stale, literal(now, UTCDateTime())), else_=table.c.window_started_at),
                "locked_until": case((failures >= limit, literal(until, UTCDateTime())), else_=None),
            },
        )
        session.execute(statement)
        end = session.exec(select(SignInThrottle.locked_until).where(SignInThrottle.key == key)).first()
        locked_now = locked_now or (end is not None and end > now)
    return locked_now


def forget(session: Session, email: str) -> None:
    """A successful sign-in clears the email's count (not the address's: a guesser who got one
    account right keeps the failures spent on others)."""
    session.execute(delete(SignInThrottle).where(col(SignInThrottle.key) == _digest("email", email.strip().lower())))
