"""Verbatims: what respondents wrote, as a report shows it.

Customers' verbatims come newest first, with the day and the score they explain. Employees'
verbatims need a larger group than scores (the verbatim threshold, 10 by default): words can
identify a writer where a score cannot. They are shown without day or segment and in alphabetical
order, so that neither their order nor their company tells who wrote them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, null
from sqlmodel import Session, select

from perception.models import Answer, Item, Response, Wave
from perception.segments import ResolvedFilter, SegmentError, answer_condition, group_size, protect

PAGE_SIZE = 50


@dataclass(frozen=True)
class Verbatim:
    item: Item
    text: str
    value: int | None  # the score given to the same item, when the verbatim explains one
    submitted_on: date | None  # customers only


@dataclass(frozen=True)
class VerbatimPage:
    side: str
    verbatims: list[Verbatim]
    total: int
    page: int
    hidden: bool  # the side's group is too small (or the filters would expose it): nothing is shown

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _written(wave: Wave, side: str):  # type: ignore[no-untyped-def]
    return (Answer.wave_id == wave.id, Answer.side == side, Answer.text.is_not(None), Answer.text != "")  # type: ignore[union-attr]


def verbatims_hidden(
    session: Session, wave: Wave, side: str, filters: Sequence[ResolvedFilter], verbatim_threshold: int
) -> bool:
    """Whether a side's verbatims must stay hidden under these filters."""
    if side != "employee":
        return False
    try:
        if protect(session, wave, filters, verbatim_threshold):
            return True
    except SegmentError:
        return True
    return group_size(session, wave, "employee", filters) < verbatim_threshold


def verbatim_counts(
    session: Session, wave: Wave, filters: Sequence[ResolvedFilter], verbatim_threshold: int
) -> dict[str, int | None]:
    """Verbatims per side (None for a hidden side), counted in SQL on the index of written answers."""
    counts: dict[str, int | None] = {}
    for side in ("customer", "employee"):
        if verbatims_hidden(session, wave, side, filters, verbatim_threshold):
            counts[side] = None
            continue
        statement = select(func.count()).select_from(Answer).where(*_written(wave, side))
        if filters:
            statement = statement.where(answer_condition(filters))
        counts[side] = session.exec(statement).one()
    return counts


def verbatim_page(
    session: Session,
    wave: Wave,
    side: str,
    items: Sequence[Item],
    filters: Sequence[ResolvedFilter],
    verbatim_threshold: int,
    page: int = 1,
    item: Item | None = None,
) -> VerbatimPage:
    """One page of a side's verbatims, for one item or all."""
    if verbatims_hidden(session, wave, side, filters, verbatim_threshold):
        return VerbatimPage(side=side, verbatims=[], total=0, page=1, hidden=True)
    conditions = list(_written(wave, side))
    if item is not None:
        conditions.append(Answer.item_id == item.id)
    if filters:
        conditions.append(answer_condition(filters))
    total = session.exec(select(func.count()).select_from(Answer).where(*conditions)).one()
    page = min(max(page, 1), max(1, -(-total // PAGE_SIZE)))
    by_id = {candidate.id: candidate for candidate in items}
    if side == "customer":
        statement = (
            select(Answer.item_id, Answer.text, Answer.value, Response.submitted_on)
            .join(Response, Response.id == Answer.response_id)
            .where(*conditions)
            .order_by(Answer.id.desc())  # type: ignore[union-attr]
        )
    else:
        statement = (
            select(Answer.item_id, Answer.text, Answer.value, null())
            .where(*conditions)
            .order_by(Answer.text, Answer.item_id)
        )
    rows = session.exec(statement.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    shown = [
        Verbatim(item=by_id[item_id], text=text, value=value, submitted_on=day)
        for item_id, text, value, day in rows
        if item_id in by_id
    ]
    return VerbatimPage(side=side, verbatims=shown, total=total, page=page, hidden=False)
