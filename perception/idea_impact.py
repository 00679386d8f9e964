"""The gap link: which ideas address a blind spot, and what changed once an idea was implemented.

"You said, we did, here is what changed": an implemented idea linked to an item shows that item's
gap in the wave before the idea was implemented and in the wave after, each with its interval, as
the comparison engine computes it for the whole wave's report. The impact is measured, never typed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, or_, select

from perception.models import Idea, IdeaDecision, Item, Survey, Wave
from perception.report import ItemRow, gap_report
from perception.surveys import items_of
from perception.types import ScoringModel


@dataclass(frozen=True)
class WaveGap:
    wave: Wave
    row: ItemRow


@dataclass(frozen=True)
class Impact:
    idea: Idea
    item: Item
    implemented_on: date
    before: WaveGap | None
    after: WaveGap | None


def ideas_addressing(session: Session, survey: Survey, items: Iterable[Item]) -> dict[int, list[Idea]]:
    """For each item, the visible ideas linked to it, or to its dimension or touchpoint in this survey."""
    items = list(items)
    if not items:
        return {}
    dimensions = {item.dimension for item in items}
    touchpoints = {item.touchpoint for item in items if item.touchpoint}
    statement = (
        select(Idea)
        .where(
            Idea.moderation == "visible",
            Idea.state != "merged",
            or_(
                col(Idea.item_id).in_([item.id for item in items]),
                (Idea.survey_id == survey.id) & col(Idea.item_id).is_(None) & col(Idea.dimension).in_(dimensions),
                (Idea.survey_id == survey.id) & col(Idea.item_id).is_(None) & col(Idea.touchpoint).in_(touchpoints),
            ),
        )
        .order_by(col(Idea.id).desc())
    )
    found: dict[int, list[Idea]] = defaultdict(list)
    for idea in session.exec(statement):
        for item in items:
            if idea.item_id == item.id or (
                idea.item_id is None
                and idea.survey_id == survey.id
                and (idea.dimension == item.dimension or (item.touchpoint and idea.touchpoint == item.touchpoint))
            ):
                found[item.id].append(idea)  # type: ignore[index]
    return dict(found)


def implemented_on(session: Session, idea: Idea) -> date | None:
    """The day of the latest decision that made the idea implemented."""
    decided = session.exec(
        select(IdeaDecision.created_at)
        .where(IdeaDecision.idea_id == idea.id, IdeaDecision.to_state == "implemented")
        .order_by(col(IdeaDecision.created_at).desc())
    ).first()
    return decided.date() if decided else None


def wave_start(wave: Wave) -> date:
    return wave.opens_on or wave.created_at.date()


def impact(session: Session, idea: Idea, scoring_models: Mapping[str, ScoringModel], threshold: int) -> Impact | None:
    """The linked item's gap in the last wave that started by the day the idea was implemented,
    and in the first wave that started after it; None unless the idea is implemented and linked
    to an item."""
    if idea.state != "implemented" or idea.item_id is None:
        return None
    item = session.get(Item, idea.item_id)
    day = implemented_on(session, idea)
    if item is None or day is None:
        return None
    survey = session.get(Survey, item.survey_id)
    if survey is None:
        return None
    waves = sorted(
        session.exec(select(Wave).where(Wave.survey_id == survey.id, Wave.state != "draft")).all(),
        key=lambda wave: (wave_start(wave), wave.created_at),
    )
    before = [wave for wave in waves if wave_start(wave) <= day]
    after = [wave for wave in waves if wave_start(wave) > day]
    items = items_of(session, survey)

    def gap_in(wave: Wave | None) -> WaveGap | None:
        if wave is None:
            return None
        report = gap_report(session, survey, wave, items, scoring_models, threshold)
        row = next((row for row in report.rows if row.item.id == item.id), None)
        return WaveGap(wave=wave, row=row) if row else None

    return Impact(
        idea=idea,
        item=item,
        implemented_on=day,
        before=gap_in(before[-1] if before else None),
        after=gap_in(after[0] if after else None),
    )
