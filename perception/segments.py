"""Segments: cutting a report by the attributes of responses, without exposing small groups.

Employees must be able to trust that a report cannot single them out. Three rules protect them:
a group below the reporting threshold shows neither score nor count; when a group among siblings
(the values of one attribute) is hidden, the next-smallest sibling is hidden too, so that the
total minus the shown groups does not give the hidden one away; and a filter whose group differs
from a broader one by fewer responses than the threshold is refused, because comparing the two
reports would describe those few people.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, func, select

from perception.models import Answer, Response, ResponseSegment, SegmentAttribute, SegmentValue, Survey, Wave
from perception.types import SIDES


class SegmentError(ValueError):
    """A segment filter names something the survey does not have, or would expose a small group."""


@dataclass(frozen=True)
class SegmentFilter:
    side: str
    name: str
    value: str

    def __str__(self) -> str:
        return f"{self.side}:{self.name}={self.value}"


@dataclass(frozen=True)
class ResolvedFilter(SegmentFilter):
    """A filter checked against the survey, with the ids the queries use."""

    attribute_id: int
    value_id: int


@dataclass(frozen=True)
class DeclaredAttribute:
    id: int
    name: str
    values: tuple[tuple[int, str], ...]  # (value id, value)

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").replace("-", " ").capitalize()


def declared(session: Session, survey: Survey, side: str) -> list[DeclaredAttribute]:
    """The segment attributes a side's respondents choose from, with their values, in order."""
    statement = (
        select(SegmentAttribute.id, SegmentAttribute.name, SegmentValue.id, SegmentValue.value)
        .join(SegmentValue, SegmentValue.attribute_id == SegmentAttribute.id)
        .where(SegmentAttribute.survey_id == survey.id, SegmentAttribute.side == side)
        .order_by(SegmentAttribute.position, SegmentValue.position)
    )
    attributes: dict[int, tuple[str, list[tuple[int, str]]]] = {}
    for attribute_id, name, value_id, value in session.exec(statement):
        attributes.setdefault(attribute_id, (name, []))[1].append((value_id, value))
    return [
        DeclaredAttribute(id=attribute_id, name=name, values=tuple(values))
        for attribute_id, (name, values) in attributes.items()
    ]


def parse_filter(text: str) -> SegmentFilter:
    """``side:name=value``, as on the command line."""
    side, _, rest = text.partition(":")
    name, _, value = rest.partition("=")
    if side not in SIDES or not name or not value:
        raise SegmentError(f"{text!r} is not a segment filter; write side:name=value, e.g. employee:department=Support")
    return SegmentFilter(side=side, name=name.strip(), value=value.strip())


def resolve(session: Session, survey: Survey, filters: Iterable[SegmentFilter]) -> list[ResolvedFilter]:
    """Check each filter against the survey's declared segments, naming what is allowed when not."""
    resolved = []
    seen: set[tuple[str, str]] = set()
    for segment in filters:
        if (segment.side, segment.name) in seen:
            raise SegmentError(f"{segment.side}:{segment.name} is filtered twice; a response has one value of it")
        seen.add((segment.side, segment.name))
        attribute = session.exec(
            select(SegmentAttribute).where(
                SegmentAttribute.survey_id == survey.id,
                SegmentAttribute.side == segment.side,
                SegmentAttribute.name == segment.name,
            )
        ).first()
        if attribute is None:
            declared = session.exec(
                select(SegmentAttribute.name).where(
                    SegmentAttribute.survey_id == survey.id, SegmentAttribute.side == segment.side
                )
            ).all()
            known = ", ".join(declared) or "none"
            raise SegmentError(
                f"survey {survey.slug!r} has no {segment.side} segment {segment.name!r} (it has: {known})"
            )
        values = {
            value.value: value
            for value in session.exec(select(SegmentValue).where(SegmentValue.attribute_id == attribute.id)).all()
        }
        if segment.value not in values:
            raise SegmentError(
                f"{segment.side}:{segment.name} has no value {segment.value!r} (it has: {', '.join(values)})"
            )
        resolved.append(
            ResolvedFilter(segment.side, segment.name, segment.value, attribute.id, values[segment.value].id)  # type: ignore[arg-type]
        )
    return resolved


def _has(attribute_id: int, value_id: int) -> ColumnElement[bool]:
    return Response.id.in_(  # type: ignore[union-attr]
        select(ResponseSegment.response_id).where(
            ResponseSegment.attribute_id == attribute_id, ResponseSegment.value_id == value_id
        )
    )


def response_condition(filters: Sequence[ResolvedFilter]) -> ColumnElement[bool]:
    """Responses kept by the filters: a filter on one side leaves the other side whole."""
    conditions = [
        or_(Response.side != segment.side, _has(segment.attribute_id, segment.value_id)) for segment in filters
    ]
    return and_(True, *conditions)


def answer_condition(filters: Sequence[ResolvedFilter]) -> ColumnElement[bool]:
    """The same on answers, which carry their response's side: no join to the responses."""
    conditions = [
        or_(
            Answer.side != segment.side,
            Answer.response_id.in_(  # type: ignore[attr-defined]
                select(ResponseSegment.response_id).where(
                    ResponseSegment.attribute_id == segment.attribute_id, ResponseSegment.value_id == segment.value_id
                )
            ),
        )
        for segment in filters
    ]
    return and_(True, *conditions)


def group_size(session: Session, wave: Wave, side: str, filters: Sequence[ResolvedFilter]) -> int:
    statement = (
        select(func.count(Response.id))
        .where(Response.wave_id == wave.id, Response.side == side)
        .where(response_condition([segment for segment in filters if segment.side == side]))
    )
    return session.exec(statement).one()


def sibling_sizes(
    session: Session, wave: Wave, side: str, attribute_id: int, filters: Sequence[ResolvedFilter]
) -> dict[int, int]:
    """Responses per value of one attribute, within the other filters of the side."""
    statement = (
        select(ResponseSegment.value_id, func.count(Response.id))
        .join(Response, Response.id == ResponseSegment.response_id)
        .where(Response.wave_id == wave.id, Response.side == side, ResponseSegment.attribute_id == attribute_id)
        .where(response_condition([segment for segment in filters if segment.side == side]))
        .group_by(ResponseSegment.value_id)
    )
    return dict(session.exec(statement).all())


def hidden_groups(sizes: Mapping[int, int], all_values: Iterable[int], threshold: int) -> set[int]:
    """Groups to hide among siblings: those below the threshold, then the next-smallest one.

    An empty group gives nothing away and hides no sibling; a small one does, so the smallest
    shown sibling is hidden with it and the total can no longer be used to recover it.
    """
    counts = {value: sizes.get(value, 0) for value in all_values}
    small = {value for value, count in counts.items() if 0 < count < threshold}
    hidden = small | {value for value, count in counts.items() if count == 0}
    if small:
        shown = sorted((count, value) for value, count in counts.items() if value not in hidden)
        if shown:
            hidden.add(shown[0][1])
    return hidden


def protect(session: Session, wave: Wave, filters: Sequence[ResolvedFilter], threshold: int) -> bool:
    """Check employee filters against differencing; True when the filtered employee group must be hidden.

    Raises SegmentError when the filtered group differs from a broader one by fewer than the
    threshold (but more than zero) responses.
    """
    employee_filters = [segment for segment in filters if segment.side == "employee"]
    if not employee_filters:
        return False
    size = group_size(session, wave, "employee", employee_filters)
    hide = False
    for segment in employee_filters:
        others = [other for other in employee_filters if other is not segment]
        broader = group_size(session, wave, "employee", others)
        if 0 < broader - size < threshold:
            raise SegmentError(
                f"refused: the employees with {segment} differ from those without this filter by fewer than "
                f"{threshold} responses, so comparing the two reports would describe those few people"
            )
        all_values = session.exec(
            select(SegmentValue.id).where(SegmentValue.attribute_id == segment.attribute_id)
        ).all()
        sizes = sibling_sizes(session, wave, "employee", segment.attribute_id, others)
        if segment.value_id in hidden_groups(sizes, all_values, threshold):
            hide = True
    return hide or size < threshold
