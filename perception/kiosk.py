"""Kiosks: a tablet on a counter that collects customers' answers to one wave, one after another.

A lead sets a kiosk up from the wave's sending page: a name ("Lyon, front desk") and the customer
segment values every answer from it carries (the site, the touchpoint). The kiosk's address holds
its id and a signature made with the secret key, so it cannot be guessed, and the segment values
live here, on the server: a respondent cannot change them, and a forged address finds nothing.

Nothing here names a person: a kiosk asks for no address, keeps no device or network address,
and counts its responses without their times. Abuse is bounded by a limit of responses per
minute, counted in the kiosk's row by one atomic update, so every process serving the kiosk
shares it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, or_, update
from sqlmodel import Session, col, select

from perception.invitations import InvitationError, customer_segments
from perception.models import Kiosk, KioskSegment, SegmentAttribute, SegmentValue, Wave
from perception.signing import sign_id, signed_id

MAX_NAME_LENGTH = 80
WINDOW = timedelta(minutes=1)


class KioskError(ValueError):
    """A kiosk cannot be set up as asked."""


def kiosk_token(secret_key: str, kiosk_id: int) -> str:
    """The kiosk's address part: its id and a 128-bit signature, so it needs no stored secret."""
    return sign_id(secret_key, "kiosk", kiosk_id)


def find_kiosk(session: Session, secret_key: str, token: str) -> Kiosk | None:
    """The kiosk of a signed address, or None when the signature is wrong or the kiosk is gone."""
    kiosk_id = signed_id(secret_key, "kiosk", token)
    return session.get(Kiosk, kiosk_id) if kiosk_id is not None else None


def create_kiosk(
    session: Session,
    wave: Wave,
    name: str,
    segments: Mapping[str, str] | None = None,
    created_by: int | None = None,
) -> Kiosk:
    """Set up a kiosk for the wave's customers; ``segments`` are values by name (``{"site": "Lyon"}``)."""
    name = " ".join(name.split())
    if not 0 < len(name) <= MAX_NAME_LENGTH:
        raise KioskError(f"a kiosk needs a name of 1 to {MAX_NAME_LENGTH} characters")
    if wave.state == "closed":
        raise KioskError(f"wave {wave.name!r} is closed")
    try:
        resolved = customer_segments(session, wave, {key: value for key, value in (segments or {}).items() if value})
    except InvitationError as error:
        raise KioskError(str(error)) from None
    kiosk = Kiosk(wave_id=wave.id, name=name, created_at=datetime.now(UTC), created_by=created_by)  # type: ignore[arg-type]
    session.add(kiosk)
    session.flush()
    session.add_all(
        KioskSegment(kiosk_id=kiosk.id, attribute_id=attribute_id, value_id=value_id)  # type: ignore[arg-type]
        for attribute_id, value_id in resolved.items()
    )
    session.flush()
    return kiosk


def stop_kiosk(kiosk: Kiosk) -> None:
    """Stop the kiosk for good: its address answers no more (a lost tablet collects nothing)."""
    if kiosk.stopped_at is None:
        kiosk.stopped_at = datetime.now(UTC)


def kiosk_segments(session: Session, kiosk: Kiosk) -> dict[int, int]:
    """The kiosk's fixed segment values, as the response stores them (attribute id to value id)."""
    rows = session.exec(
        select(KioskSegment.attribute_id, KioskSegment.value_id).where(KioskSegment.kiosk_id == kiosk.id)
    ).all()
    return dict(rows)


def segment_labels(session: Session, kiosk: Kiosk) -> list[tuple[str, str]]:
    """The kiosk's fixed segment values by name, for the lead's page, in the survey's order."""
    rows = session.exec(
        select(SegmentAttribute.name, SegmentValue.value)
        .join(KioskSegment, KioskSegment.attribute_id == SegmentAttribute.id)
        .join(SegmentValue, SegmentValue.id == KioskSegment.value_id)
        .where(KioskSegment.kiosk_id == kiosk.id)
        .order_by(SegmentAttribute.position)
    ).all()
    return [(name, value) for name, value in rows]


def take_turn(session: Session, kiosk: Kiosk, per_minute: int, now: datetime | None = None) -> bool:
    """Count one response against the kiosk's limit; False when the minute's limit is reached.

    One conditional update, in the caller's transaction: two processes taking the last turn at
    once cannot both get it. A stopped kiosk gets none.
    """
    now = now or datetime.now(UTC)
    cutoff = now - WINDOW
    started = col(Kiosk.window_started_at)
    stale = or_(started.is_(None), started < cutoff)
    taken = session.execute(
        update(Kiosk)
        .where(
            col(Kiosk.id) == kiosk.id,
            col(Kiosk.stopped_at).is_(None),
            or_(stale, col(Kiosk.window_count) < per_minute),
        )
        .values(
            window_started_at=case((stale, now), else_=started),
            window_count=case((stale, 1), else_=col(Kiosk.window_count) + 1),
            responses=col(Kiosk.responses) + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


@dataclass(frozen=True)
class KioskRow:
    kiosk: Kiosk
    token: str
    segments: list[tuple[str, str]]


def kiosks_of(session: Session, secret_key: str, wave: Wave) -> list[KioskRow]:
    """The wave's kiosks, running ones first, newest first."""
    kiosks = session.exec(
        select(Kiosk).where(Kiosk.wave_id == wave.id).order_by(col(Kiosk.stopped_at).is_not(None), col(Kiosk.id).desc())
    ).all()
    return [KioskRow(kiosk, kiosk_token(secret_key, kiosk.id), segment_labels(session, kiosk)) for kiosk in kiosks]  # type: ignore[arg-type]
