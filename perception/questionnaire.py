"""What a wave's respondents are shown, kept by each server process between requests.

A respondent's page needs the wave's items (with their wordings, scales and options) and, on the
staff side, the segment lists to choose from. They change rarely and are read at every answer, so
each process keeps them, keyed on the survey's ``revision``: every change to an item, a segment
attribute or a segment value moves it on in the same transaction (the flush listener below), and
the next request, which reads the survey's row afresh, builds the questionnaire again. No process
can show a wording older than the survey row it has just read.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from perception.models import Item, SegmentAttribute, SegmentValue, Survey, Wave
from perception.segments import DeclaredAttribute, declared
from perception.surveys import items_of

K = TypeVar("K")
V = TypeVar("V")

# Enough for every wave a server takes answers for at once; past it, the oldest entry goes.
KEPT = 256


@dataclass(frozen=True)
class Questionnaire:
    """One wave's items for one side, and the segment lists that side chooses from."""

    items: tuple[Item, ...]
    segments: tuple[DeclaredAttribute, ...]
    # The form classes made for it, by language and contact question (perception.web.respond).
    forms: dict[tuple[Any, ...], Any] = field(default_factory=dict, compare=False, repr=False)


def questionnaire(app: Flask, session: Session, survey: Survey, wave: Wave, side: str) -> Questionnaire:
    """The wave's questionnaire for a side, from this process's copy when the survey has not changed.

    The items are detached from the session: read them, never change them.
    """
    kept: dict[tuple[Any, ...], Questionnaire] = app.extensions["perception"].questionnaires
    key = (survey.id, survey.revision, wave.version, wave.touchpoint, side)
    found = kept.get(key)
    if found is None:
        items = items_of(session, survey, wave)
        for item in items:
            session.expunge(item)
        segments = declared(session, survey, "employee") if side == "employee" else []
        found = keep(kept, key, Questionnaire(items=tuple(items), segments=tuple(segments)), KEPT)
    return found


def keep(kept: dict[K, V], key: K, value: V, most: int) -> V:
    """Put ``value`` in a process's ``kept`` under ``key``, the oldest entries going first so that
    at most ``most`` stay; return it."""
    while kept and len(kept) >= most:
        # Another thread of a threaded server may have taken the oldest entry first.
        with suppress(KeyError, RuntimeError, StopIteration):
            kept.pop(next(iter(kept)))
    kept[key] = value
    return value


@event.listens_for(OrmSession, "after_flush")
def _move_revision_on(session: OrmSession, _context: Any) -> None:
    """Move the revision of every survey whose items or segment lists this flush wrote."""
    surveys: set[int] = set()
    attributes: set[int] = set()
    for instance in chain(session.new, session.dirty, session.deleted):
        if isinstance(instance, Item | SegmentAttribute):
            surveys.add(instance.survey_id)
        elif isinstance(instance, SegmentValue):
            attributes.add(instance.attribute_id)
    if not surveys and not attributes:
        return
    survey = Survey.__table__.c  # type: ignore[attr-defined]
    of_attributes = select(SegmentAttribute.survey_id).where(SegmentAttribute.id.in_(attributes))  # type: ignore[attr-defined]
    session.connection().execute(
        update(Survey.__table__)  # type: ignore[attr-defined]
        .where(or_(survey.id.in_(surveys), survey.id.in_(of_attributes)))
        .values(revision=survey.revision + 1)
    )
