"""The gap report: per item, each side's score, the gap, its test and its verdict.

Counts come from one SQL ``GROUP BY`` (a histogram per item and side); scores, tests and effect
sizes are computed from those histograms, never from answer rows, so a report over millions of
answers costs one aggregate query.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, any_, case, delete
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import aliased
from sqlmodel import Session, func, select

from perception.models import Answer, ImportanceState, ImportanceSums, Item, Response, Survey, Wave
from perception.scales import SCALES
from perception.segments import ResolvedFilter, SegmentError, answer_condition, protect, response_condition
from perception.statistics import benjamini_hochberg, cliffs_delta, effect_label, hedges_g, mann_whitney, recode
from perception.types import SIDES, Score, ScoringModel

VERDICTS = ("blind_spot", "hidden_strength", "aligned", "insufficient_data")
FALSE_DISCOVERY_RATE = 0.05
SMALL_EFFECT = 0.147  # |Cliff's delta| from which an effect counts as at least small


@dataclass(frozen=True)
class SideFigures:
    """One side of one item; a suppressed side shows neither score nor count."""

    n: int | None
    score: Score | None
    suppressed: bool


@dataclass(frozen=True)
class Gap:
    value: float
    ci95: tuple[float, float] | None
    p: float | None
    q: float | None
    effect: float  # Cliff's delta, employees against customers, on the recoded answers
    effect_size: str
    hedges_g: float | None
    mann_whitney_p: float | None
    method: str


@dataclass(frozen=True)
class ItemRow:
    item: Item
    model: ScoringModel
    customer: SideFigures
    employee: SideFigures
    gap: Gap | None
    verdict: str


@dataclass(frozen=True)
class DimensionRow:
    """A dimension's items rolled up: the mean of their scores rescaled to 0-100, per side."""

    name: str
    item_keys: tuple[str, ...]
    customer: float | None
    employee: float | None
    verdicts: Mapping[str, int]

    @property
    def gap(self) -> float | None:
        if self.customer is None or self.employee is None:
            return None
        return self.employee - self.customer


@dataclass(frozen=True)
class GapReport:
    survey: Survey
    wave: Wave
    threshold: int
    rows: list[ItemRow]
    dimensions: list[DimensionRow]
    responses: Mapping[str, int]
    touchpoints: list[DimensionRow] = field(default_factory=list)
    filters: tuple[ResolvedFilter, ...] = ()
    hidden_sides: frozenset[str] = frozenset()
    # The counts the report was computed from, per (item id, side): the trend reuses them.
    histograms: Mapping[tuple[int, str], Mapping[int, int]] = field(default_factory=dict)

    def shown_responses(self, side: str) -> int | None:
        """Responses of a side, or None when the group is hidden (no count is shown then)."""
        count = self.responses[side]
        return None if side in self.hidden_sides or count < self.threshold else count

    def ranked(self, verdict: str) -> list[ItemRow]:
        """Rows with this verdict, the largest effect first."""
        rows = [row for row in self.rows if row.verdict == verdict and row.gap is not None]
        return sorted(rows, key=lambda row: -abs(row.gap.effect))  # type: ignore[union-attr]


def answers_to_survey(session: Session, survey_id: int) -> ColumnElement[bool]:
    """Answers to any item the survey has had: the first column of the answers' report index.

    PostgreSQL reads that index in order for ``= ANY(ARRAY(...))``; for ``IN (...)`` it joins, then
    hashes every answer to group it (2.5 times as long on a million answers).
    """
    items = select(Item.id).where(Item.survey_id == survey_id).scalar_subquery()
    if session.get_bind().dialect.name == "postgresql":
        return Answer.item_id == any_(func.array(items))
    return Answer.item_id.in_(items)  # type: ignore[attr-defined,no-any-return]


def histograms(
    session: Session, wave: Wave, filters: Sequence[ResolvedFilter] = ()
) -> dict[tuple[int, str], dict[int, int]]:
    """Counts of each answer value per (item id, side) for the wave, from one GROUP BY."""
    statement = (
        select(Answer.item_id, Answer.side, Answer.value, func.count())
        .where(
            answers_to_survey(session, wave.survey_id),
            Answer.wave_id == wave.id,
            Answer.value.is_not(None),  # type: ignore[union-attr]
        )
        .group_by(Answer.item_id, Answer.side, Answer.value)  # the index's order: no sort
    )
    if filters:
        statement = statement.where(answer_condition(filters))
    counts: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)
    for item_id, side, value, count in session.exec(statement):
        counts[(item_id, side)][value] = count
    return counts


def response_counts(session: Session, wave: Wave, filters: Sequence[ResolvedFilter] = ()) -> dict[str, int]:
    statement = select(Response.side, func.count()).where(Response.wave_id == wave.id).group_by(Response.side)
    if filters:
        statement = statement.where(response_condition(filters))
    counts = dict.fromkeys(SIDES, 0)
    counts.update({side: count for side, count in session.exec(statement)})
    return counts


SUPPRESSED = SideFigures(n=None, score=None, suppressed=True)


def _side(model: ScoringModel, histogram: Mapping[int, int], threshold: int) -> SideFigures:
    n = sum(histogram.values())
    if n < threshold:
        return SUPPRESSED
    return SideFigures(n=n, score=model.score(histogram), suppressed=False)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _gap(model: ScoringModel, employee: Mapping[int, int], customer: Mapping[int, int]) -> Gap:
    test = model.compare(employee, customer)
    employee_codes = recode(employee, model.recode)
    customer_codes = recode(customer, model.recode)
    _, mann_whitney_p = mann_whitney(employee_codes, customer_codes)
    effect = cliffs_delta(employee_codes, customer_codes)
    return Gap(
        value=test.difference,
        ci95=test.ci95,
        p=_finite(test.p),
        q=None,
        effect=effect,
        effect_size=effect_label(effect),
        hedges_g=_finite(hedges_g(employee_codes, customer_codes)),
        mann_whitney_p=_finite(mann_whitney_p),
        method=test.method,
    )


def verdict(gap: Gap | None) -> str:
    """Blind spot or hidden strength only when the corrected test says so and the effect is not negligible."""
    if gap is None:
        return "insufficient_data"
    if gap.q is not None and gap.q < FALSE_DISCOVERY_RATE and abs(gap.effect) >= SMALL_EFFECT:
        return "blind_spot" if gap.value > 0 else "hidden_strength"
    return "aligned"


def rescale(model: ScoringModel, item: Item, value: float) -> float:
    """A score on 0-100, with the model's range on the item's scale."""
    scale = SCALES[item.scale]
    low, high = model.score_range(scale.low or 0, scale.high or 0)
    return 100.0 * (value - low) / (high - low)


def _rescaled(model: ScoringModel, item: Item, figures: SideFigures) -> float | None:
    if figures.suppressed or figures.score is None or figures.score.value is None:
        return None
    return rescale(model, item, figures.score.value)


def rescaled_interval(row: ItemRow, side: str) -> tuple[float, float] | None:
    figures: SideFigures = getattr(row, side)
    if figures.suppressed or figures.score is None or figures.score.ci95 is None:
        return None
    low, high = figures.score.ci95
    return rescale(row.model, row.item, low), rescale(row.model, row.item, high)


def rescaled_score(row: ItemRow, side: str) -> float | None:
    return _rescaled(row.model, row.item, getattr(row, side))


def _roll_up(rows: list[ItemRow], group_of: Callable[[Item], str | None]) -> list[DimensionRow]:
    """Items grouped (by dimension, by touchpoint), each group's scores the mean of its items' on 0-100."""
    grouped: dict[str, list[ItemRow]] = {}
    for row in rows:
        group = group_of(row.item)
        if group:
            grouped.setdefault(group, []).append(row)
    dimensions = []
    for name, members in grouped.items():
        both = [
            (_rescaled(row.model, row.item, row.customer), _rescaled(row.model, row.item, row.employee))
            for row in members
        ]
        both = [(customer, employee) for customer, employee in both if customer is not None and employee is not None]
        verdicts = dict.fromkeys(VERDICTS, 0)
        for row in members:
            verdicts[row.verdict] += 1
        dimensions.append(
            DimensionRow(
                name=name,
                item_keys=tuple(row.item.key for row in members),
                customer=sum(c for c, _ in both) / len(both) if both else None,
                employee=sum(e for _, e in both) / len(both) if both else None,
                verdicts=verdicts,
            )
        )
    return dimensions


def gap_report(
    session: Session,
    survey: Survey,
    wave: Wave,
    items: list[Item],
    scoring_models: Mapping[str, ScoringModel],
    threshold: int,
    filters: Sequence[ResolvedFilter] = (),
) -> GapReport:
    """The report, on the responses the filters keep; raises SegmentError for a filter that would expose people."""
    hidden_sides = frozenset({"employee"}) if protect(session, wave, filters, threshold) else frozenset()
    counts = histograms(session, wave, filters)
    partial = []
    for item in items:
        if item.model is None:
            continue
        model = scoring_models.get(item.model)
        if model is None:
            raise LookupError(f"item {item.key!r} is scored by {item.model!r}, which no installed plugin provides")
        employee = counts.get((item.id, "employee"), {})
        customer = counts.get((item.id, "customer"), {})
        figures = {
            "customer": _side(model, customer, threshold),
            "employee": SUPPRESSED if "employee" in hidden_sides else _side(model, employee, threshold),
        }
        both_shown = not (figures["customer"].suppressed or figures["employee"].suppressed)
        partial.append((item, model, figures, _gap(model, employee, customer) if both_shown else None))

    tested = [index for index, (*_, gap) in enumerate(partial) if gap is not None and gap.p is not None]
    q_values = benjamini_hochberg([partial[index][3].p for index in tested])  # type: ignore[union-attr,misc]
    corrected = dict(zip(tested, q_values, strict=True))
    rows = []
    for index, (item, model, figures, gap) in enumerate(partial):
        if gap is not None and index in corrected:
            gap = Gap(**{**vars(gap), "q": corrected[index]})
        rows.append(ItemRow(item=item, model=model, gap=gap, verdict=verdict(gap), **figures))
    return GapReport(
        survey=survey,
        wave=wave,
        threshold=threshold,
        rows=rows,
        dimensions=_roll_up(rows, lambda item: item.dimension),
        touchpoints=_roll_up(rows, lambda item: item.touchpoint),
        responses=response_counts(session, wave, filters),
        filters=tuple(filters),
        hidden_sides=hidden_sides,
        histograms=counts,
    )


def _group_json(group: DimensionRow) -> dict[str, Any]:
    return {
        "name": group.name,
        "items": list(group.item_keys),
        "customer": group.customer,
        "employee": group.employee,
        "gap": group.gap,
        "verdicts": dict(group.verdicts),
    }


def _side_json(figures: SideFigures) -> dict[str, Any]:
    if figures.suppressed or figures.score is None:
        return {"n": None, "score": None, "ci95": None, "suppressed": True}
    ci95 = list(figures.score.ci95) if figures.score.ci95 else None
    return {"n": figures.n, "score": figures.score.value, "ci95": ci95, "suppressed": False}


def report_json(report: GapReport) -> dict[str, Any]:
    """The report in the documented JSON shape (docs/report-format.md)."""
    return {
        "survey": report.survey.slug,
        "wave": report.wave.name,
        "threshold": report.threshold,
        "filters": [str(segment) for segment in report.filters],
        "responses": {side: report.shown_responses(side) for side in SIDES},
        "items": [
            {
                "key": row.item.key,
                "dimension": row.item.dimension,
                "touchpoint": row.item.touchpoint,
                "scale": row.item.scale,
                "model": row.model.name,
                "unit": row.model.unit,
                "customer": _side_json(row.customer),
                "employee": _side_json(row.employee),
                "gap": None
                if row.gap is None
                else {
                    "value": row.gap.value,
                    "ci95": list(row.gap.ci95) if row.gap.ci95 else None,
                    "p": row.gap.p,
                    "q": row.gap.q,
                    "effect": row.gap.effect,
                    "effect_size": row.gap.effect_size,
                    "hedges_g": row.gap.hedges_g,
                    "mann_whitney_p": row.gap.mann_whitney_p,
                    "method": row.gap.method,
                },
                "verdict": row.verdict,
            }
            for row in report.rows
        ],
        "dimensions": [_group_json(dimension) for dimension in report.dimensions],
        "touchpoints": [_group_json(touchpoint) for touchpoint in report.touchpoints],
    }


CSV_COLUMNS = (
    "key", "dimension", "touchpoint", "scale", "model", "unit",
    "customer_n", "customer_score", "customer_ci_low", "customer_ci_high",
    "employee_n", "employee_score", "employee_ci_low", "employee_ci_high",
    "gap", "gap_ci_low", "gap_ci_high", "p", "q", "effect", "effect_size", "verdict",
)  # fmt: skip


def report_rows(report: GapReport) -> list[dict[str, Any]]:
    """The report's items flattened to one row each, for CSV and spreadsheets."""
    rows = []
    for item in report_json(report)["items"]:
        row: dict[str, Any] = {key: item[key] for key in ("key", "dimension", "touchpoint", "scale", "model", "unit")}
        for side in SIDES:
            figures = item[side]
            ci95 = figures["ci95"] or (None, None)
            row.update({f"{side}_n": figures["n"], f"{side}_score": figures["score"],
                        f"{side}_ci_low": ci95[0], f"{side}_ci_high": ci95[1]})  # fmt: skip
        gap = item["gap"] or {}
        ci95 = gap.get("ci95") or (None, None)
        row.update({"gap": gap.get("value"), "gap_ci_low": ci95[0], "gap_ci_high": ci95[1], "p": gap.get("p"),
                    "q": gap.get("q"), "effect": gap.get("effect"), "effect_size": gap.get("effect_size"),
                    "verdict": item["verdict"]})  # fmt: skip
        rows.append({key: spreadsheet_safe(value) for key, value in row.items()})
    return rows


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# Importance: which items move the customers' recommendation (key-driver analysis).


@dataclass(frozen=True)
class Importance:
    item_key: str
    r: float  # Pearson correlation with the recommendation item, customers side
    n: int
    quadrant: str  # fix_first, keep, watch, secondary


def median(values: Sequence[float]) -> float:
    """The median, 0.0 for no values: where the priority map splits important from less important."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def recommendation_item(items: Sequence[Item]) -> Item | None:
    """The item customers' loyalty is read from: the first NPS-scaled item."""
    return next((item for item in items if item.scale == "nps"), None)


def importance_threshold(correlations: Sequence[float]) -> float:
    """The correlation from which an item counts as important: the items' median, but never below
    zero. An item that goes with recommending less (r <= 0) does not drive it, whatever the others do."""
    return max(median(correlations), 0.0) if correlations else 0.0


def importance(
    session: Session, wave: Wave, items: Sequence[Item], report: GapReport, filters: Sequence[ResolvedFilter] = ()
) -> list[Importance]:
    """Correlation of each item with the recommendation item on the customers side, from SQL sums.

    An item counts as important when its correlation is positive and at least the median of the
    items'; important blind spots are what to fix first.
    """
    anchor = recommendation_item(items)
    if anchor is None:
        return []
    sums = _correlation_sums(session, wave, anchor, filters) if filters else importance_sums(session, wave, anchor)
    keys = {item.id: item.key for item in items}
    verdicts = {row.item.key: row.verdict for row in report.rows}
    correlations: list[tuple[str, float, int]] = []
    for item_id, (n, sx, sy, sxy, sxx, syy) in sums.items():
        if n < max(report.threshold, 3) or item_id not in keys or keys[item_id] not in verdicts:
            continue
        n, sx, sy, sxy, sxx, syy = int(n), float(sx), float(sy), float(sxy), float(sxx), float(syy)
        spread = (n * sxx - sx * sx) * (n * syy - sy * sy)
        if spread <= 0:
            continue
        correlations.append((keys[item_id], (n * sxy - sx * sy) / math.sqrt(spread), n))
    if not correlations:
        return []
    threshold = importance_threshold([r for _, r, _ in correlations])
    result = []
    for key, r, n in correlations:
        important = r > 0 and r >= threshold
        blind = verdicts[key] == "blind_spot"
        quadrant = ("fix_first" if blind else "keep") if important else ("watch" if blind else "secondary")
        result.append(Importance(item_key=key, r=r, n=n, quadrant=quadrant))
    return sorted(result, key=lambda entry: -entry.r)


Sums = tuple[int, int, int, int, int, int]  # n, sum x, sum y, sum xy, sum xx, sum yy


def _correlation_sums(
    session: Session, wave: Wave, anchor: Item, filters: Sequence[ResolvedFilter] = (), after: int | None = None
) -> dict[int, Sums]:
    """Per item, the sums over the wave's customers who answered it and the recommendation item
    (only responses after the id ``after`` when given), in one SQL aggregate."""
    other = aliased(Answer)
    x, y = Answer.value, other.value
    statement = (
        select(
            Answer.item_id,
            func.count(),
            func.sum(x),
            func.sum(y),
            func.sum(x * y),
            func.sum(x * x),
            func.sum(y * y),
        )
        # Driven from the wave's customer responses: each one's answers, then its recommendation.
        .select_from(Response)
        .join(Answer, Answer.response_id == Response.id)
        .join(other, and_(other.response_id == Response.id, other.item_id == anchor.id))
        .where(
            Response.wave_id == wave.id,
            Response.side == "customer",
            Answer.item_id != anchor.id,
            Answer.value.is_not(None),  # type: ignore[union-attr]
            other.value.is_not(None),  # type: ignore[union-attr]
        )
        .group_by(Answer.item_id)
    )
    if after is not None:
        statement = statement.where(Response.id > after)
    if filters:
        statement = statement.where(answer_condition(filters))
    return {
        item_id: (int(n), int(sx), int(sy), int(sxy), int(sxx), int(syy))
        for item_id, n, sx, sy, sxy, sxx, syy in session.exec(statement)
    }


def importance_sums(session: Session, wave: Wave, anchor: Item) -> dict[int, Sums]:
    """The wave's correlation sums, kept in the database and brought up to date.

    Sums add up, so the stored ones only need the customer responses that came after the last one
    they cover. When a covered response has gone (an erasure) or the recommendation item changed,
    they are computed again from all the wave's answers. Storing is best effort: a concurrent
    writer or a read-only database costs speed, never a wrong figure.
    """
    state = session.get(ImportanceState, wave.id)
    covered = state.last_response_id if state is not None else -1
    total, last, still_covered = session.exec(
        select(
            func.count(),
            func.max(Response.id),
            func.sum(case((Response.id <= covered, 1), else_=0)),
        ).where(Response.wave_id == wave.id, Response.side == "customer")
    ).one()
    last = int(last or 0)
    if state is not None and state.anchor_id == anchor.id and int(still_covered or 0) == state.responses:
        if last <= state.last_response_id:
            stored = session.exec(select(ImportanceSums).where(ImportanceSums.wave_id == wave.id)).all()
            return {row.item_id: (row.n, row.sx, row.sy, row.sxy, row.sxx, row.syy) for row in stored}
        sums = {
            row.item_id: (row.n, row.sx, row.sy, row.sxy, row.sxx, row.syy)
            for row in session.exec(select(ImportanceSums).where(ImportanceSums.wave_id == wave.id))
        }
        for item_id, added in _correlation_sums(session, wave, anchor, after=state.last_response_id).items():
            before = sums.get(item_id, (0, 0, 0, 0, 0, 0))
            sums[item_id] = tuple(a + b for a, b in zip(before, added, strict=True))  # type: ignore[assignment]
    else:
        sums = _correlation_sums(session, wave, anchor)
    _store_importance_sums(session, wave, anchor, int(total), last, sums)
    return sums


def _store_importance_sums(
    session: Session, wave: Wave, anchor: Item, responses: int, last_response_id: int, sums: Mapping[int, Sums]
) -> None:
    try:
        with Session(session.get_bind()) as writer, writer.begin():
            writer.execute(delete(ImportanceSums).where(ImportanceSums.wave_id == wave.id))  # type: ignore[arg-type]
            writer.execute(delete(ImportanceState).where(ImportanceState.wave_id == wave.id))  # type: ignore[arg-type]
            writer.add(
                ImportanceState(
                    wave_id=wave.id, anchor_id=anchor.id, responses=responses, last_response_id=last_response_id
                )
            )
            writer.add_all(
                ImportanceSums(wave_id=wave.id, item_id=item_id, n=n, sx=sx, sy=sy, sxy=sxy, sxx=sxx, syy=syy)
                for item_id, (n, sx, sy, sxy, sxx, syy) in sums.items()
            )
    except (IntegrityError, OperationalError):
        return


# Trend: the same items across the survey's waves.


@dataclass(frozen=True)
class TrendPoint:
    wave: Wave
    customer: SideFigures
    employee: SideFigures
    gap: float | None
    # Change of each side's score since the previous wave shown, when significant (q < 0.05).
    customer_change: float | None
    employee_change: float | None


@dataclass(frozen=True)
class TrendRow:
    item: Item
    model: ScoringModel
    points: list[TrendPoint]


def trend(
    session: Session,
    survey: Survey,
    items: Sequence[Item],
    scoring_models: Mapping[str, ScoringModel],
    threshold: int,
    filters: Sequence[ResolvedFilter] = (),
    until: GapReport | None = None,
) -> list[TrendRow]:
    """Each item's scores across the waves, a change flagged only when the corrected test says so.

    With ``until``, the waves up to that report's wave, on its filters, reusing its counts: the
    report page shows where its wave stands without counting its answers twice.
    """
    waves = waves_in_order(session, survey)
    if until is not None:
        waves = waves[: next(index for index, wave in enumerate(waves) if wave.id == until.wave.id) + 1]
        filters = until.filters
    counts: dict[tuple[int, int, str], Mapping[int, int]] = {}
    for wave in waves:  # a wave each: each one reads its stretch of the answers' index in order
        if until is None or wave.id != until.wave.id:
            for (item_id, side), histogram in histograms(session, wave, filters).items():
                counts[(wave.id, item_id, side)] = histogram  # type: ignore[index]
    if until is not None:
        for (item_id, side), histogram in until.histograms.items():
            counts[(until.wave.id, item_id, side)] = histogram
    hidden = {wave.id: _employees_hidden(session, wave, filters, threshold) for wave in waves}

    tests: list[tuple[int, int, str, float, float | None]] = []  # (row, point, side, difference, p)
    rows = []
    for item in items:
        if item.model is None or item.model not in scoring_models:
            continue
        model = scoring_models[item.model]
        points: list[dict[str, Any]] = []
        previous: dict[str, Mapping[int, int] | None] = {"customer": None, "employee": None}
        for wave in waves:
            figures = {}
            for side in SIDES:
                histogram = counts.get((wave.id, item.id, side), {})
                shown = not (side == "employee" and hidden[wave.id])
                figures[side] = _side(model, histogram, threshold) if shown else SUPPRESSED
                if not figures[side].suppressed:
                    if previous[side] is not None:
                        test = model.compare(histogram, previous[side])  # type: ignore[arg-type]
                        tests.append((len(rows), len(points), side, test.difference, _finite(test.p)))
                    previous[side] = histogram
            shown_both = not (figures["customer"].suppressed or figures["employee"].suppressed)
            gap = figures["employee"].score.value - figures["customer"].score.value if shown_both else None  # type: ignore[union-attr,operator]
            points.append({"wave": wave, **figures, "gap": gap, "customer_change": None, "employee_change": None})
        rows.append((item, model, points))

    tested = [test for test in tests if test[4] is not None]
    for (row, point, side, difference, _p), q in zip(
        tested,
        benjamini_hochberg([test[4] for test in tested]),
        strict=True,  # type: ignore[misc]
    ):
        if q < FALSE_DISCOVERY_RATE:
            rows[row][2][point][f"{side}_change"] = difference
    return [
        TrendRow(item=item, model=model, points=[TrendPoint(**point) for point in points])
        for item, model, points in rows
    ]


def waves_in_order(session: Session, survey: Survey) -> list[Wave]:
    """The survey's waves in the order they ran: by opening day, then by creation."""
    waves = session.exec(select(Wave).where(Wave.survey_id == survey.id)).all()
    return sorted(waves, key=lambda wave: (wave.opens_on is None, wave.opens_on or date.min, wave.created_at))


def _employees_hidden(session: Session, wave: Wave, filters: Sequence[ResolvedFilter], threshold: int) -> bool:
    """Whether a wave's employees are hidden under the filters; a filter refused there hides them too."""
    try:
        return protect(session, wave, filters, threshold)
    except SegmentError:
        return True


def latest_changes(rows: Sequence[TrendRow]) -> list[tuple[TrendRow, str, float]]:
    """The significant changes of the last wave shown since the one before: (row, side, change)."""
    changes = []
    for row in rows:
        if len(row.points) < 2:
            continue
        last = row.points[-1]
        for side in SIDES:
            change = getattr(last, f"{side}_change")
            if change is not None:
                changes.append((row, side, change))
    return changes


@dataclass(frozen=True)
class DimensionTrendPoint:
    wave: Wave
    customer: float | None
    employee: float | None

    @property
    def gap(self) -> float | None:
        if self.customer is None or self.employee is None:
            return None
        return self.employee - self.customer


def dimension_trend(rows: Sequence[TrendRow]) -> list[tuple[str, list[DimensionTrendPoint]]]:
    """Dimensions across waves, rolled up as in a report: the mean of their items on 0-100.

    Each wave keeps the items shown on both sides, so that a hidden side never moves a dimension.
    """
    grouped: dict[str, list[TrendRow]] = {}
    for row in rows:
        grouped.setdefault(row.item.dimension, []).append(row)
    result = []
    for name, members in grouped.items():
        points = []
        for index, wave in enumerate(point.wave for point in members[0].points):
            pairs = []
            for row in members:
                point = row.points[index]
                customer = _rescaled(row.model, row.item, point.customer)
                employee = _rescaled(row.model, row.item, point.employee)
                if customer is not None and employee is not None:
                    pairs.append((customer, employee))
            points.append(
                DimensionTrendPoint(
                    wave=wave,
                    customer=sum(c for c, _ in pairs) / len(pairs) if pairs else None,
                    employee=sum(e for _, e in pairs) / len(pairs) if pairs else None,
                )
            )
        result.append((name, points))
    return result


# The three-way picture: the same items, each group of one attribute beside the other side.


@dataclass(frozen=True)
class BreakdownGroup:
    value: str
    report: GapReport | None  # None when the group is hidden or refused
    reason: str | None = None


def breakdown(
    session: Session,
    survey: Survey,
    wave: Wave,
    items: list[Item],
    scoring_models: Mapping[str, ScoringModel],
    threshold: int,
    side: str,
    attribute: str,
    filters: Sequence[ResolvedFilter] = (),
) -> list[BreakdownGroup]:
    """One report per value of ``side:attribute`` (e.g. front-line staff, management), each against
    the whole other side; a group that would expose people is hidden, never shown smaller."""
    from perception.segments import SegmentError, SegmentFilter, declared, resolve

    match = next((entry for entry in declared(session, survey, side) if entry.name == attribute), None)
    if match is None:
        raise SegmentError(f"survey {survey.slug!r} has no {side} segment {attribute!r}")
    others = [segment for segment in filters if (segment.side, segment.name) != (side, attribute)]
    groups = []
    for _value_id, value in match.values:
        try:
            [chosen] = resolve(session, survey, [SegmentFilter(side, attribute, value)])
            report = gap_report(session, survey, wave, items, scoring_models, threshold, [*others, chosen])
        except SegmentError as error:
            groups.append(BreakdownGroup(value=value, report=None, reason=str(error)))
            continue
        hidden = side in report.hidden_sides or report.shown_responses(side) is None
        groups.append(BreakdownGroup(value=value, report=None if hidden else report))
    return groups
