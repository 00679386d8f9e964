"""The gap table: per item, the customer score, the employee score and the gap between them.

Counts come from one SQL ``GROUP BY`` (a histogram per item and side); the scoring models
compute scores from those histograms, never from answer rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, func, select

from perception.models import Answer, Item, Response, Wave
from perception.types import SIDES, Score, ScoringModel


@dataclass(frozen=True)
class SideFigures:
    n: int
    score: Score | None
    suppressed: bool


@dataclass(frozen=True)
class ItemRow:
    item: Item
    model: ScoringModel
    customer: SideFigures
    employee: SideFigures

    @property
    def gap(self) -> float | None:
        if self.customer.suppressed or self.employee.suppressed:
            return None
        if self.customer.score is None or self.employee.score is None:
            return None
        if self.customer.score.value is None or self.employee.score.value is None:
            return None
        return self.employee.score.value - self.customer.score.value


@dataclass(frozen=True)
class GapTable:
    wave: Wave
    threshold: int
    rows: list[ItemRow]
    responses: Mapping[str, int]


def histograms(session: Session, wave: Wave) -> dict[tuple[int, str], dict[int, int]]:
    """Counts of each answer value per (item id, side) for the wave, from one GROUP BY."""
    statement = (
        select(Answer.item_id, Response.side, Answer.value, func.count())
        .join(Response, Response.id == Answer.response_id)
        .where(Response.wave_id == wave.id, Answer.value.is_not(None))  # type: ignore[union-attr]
        .group_by(Answer.item_id, Response.side, Answer.value)
    )
    counts: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)
    for item_id, side, value, count in session.exec(statement):
        counts[(item_id, side)][value] = count
    return counts


def response_counts(session: Session, wave: Wave) -> dict[str, int]:
    statement = select(Response.side, func.count()).where(Response.wave_id == wave.id).group_by(Response.side)
    counts = dict.fromkeys(SIDES, 0)
    counts.update({side: count for side, count in session.exec(statement)})
    return counts


def gap_table(
    session: Session,
    wave: Wave,
    items: list[Item],
    scoring_models: Mapping[str, ScoringModel],
    threshold: int,
) -> GapTable:
    counts = histograms(session, wave)
    rows = []
    for item in items:
        if item.model is None:
            continue
        model = scoring_models.get(item.model)
        if model is None:
            raise LookupError(f"item {item.key!r} is scored by {item.model!r}, which no installed plugin provides")
        figures = {}
        for side in SIDES:
            histogram = counts.get((item.id, side), {})
            n = sum(histogram.values())
            suppressed = n < threshold
            figures[side] = SideFigures(
                n=n, score=None if suppressed else model.score(histogram), suppressed=suppressed
            )
        rows.append(ItemRow(item=item, model=model, **figures))
    return GapTable(wave=wave, threshold=threshold, rows=rows, responses=response_counts(session, wave))
