"""Themes in verbatims: what customers talk about, how it goes with their scores, and what staff
think customers talk about.

The database hands over only the wave's written answers (from the index of written answers),
each with the score it explains: the score given to the same item when the verbatim is a "why?"
follow-up, or the response's answer to the recommendation item when it is a standalone comment.
A text analyser (a plugin) finds the themes; this module counts them per side. Scores of different
scales are put on one footing, 0 to 10 (0 the scale's lowest answer, 10 its highest).

Employees' verbatims reach the analyser only when their group holds the verbatim threshold (and
the filters pass the differencing check): below it, nothing of what they wrote is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, null
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from perception.models import Answer, Item, Response, Wave
from perception.report import recommendation_item
from perception.scales import SCALES
from perception.segments import ResolvedFilter, answer_condition
from perception.types import SIDES, TextAnalyser, Theme, WrittenText
from perception.verbatims import _written, verbatims_hidden

DEFAULT_ANALYSER = "key-phrases"
TOP = 5  # happiest and most irritating themes shown
SIDE_BY_SIDE = 10  # most talked-about themes of each side, put side by side
EXAMPLES = 2
# A theme is frequent from this many scored mentions, or this share of the side's verbatims.
FREQUENT_MENTIONS = 3
FREQUENT_SHARE = 0.05
# A weak signal: a rare theme (two mentions or more) whose average score is this extreme, out of 10.
WEAK_LOW = 3.0
WEAK_HIGH = 9.0


@dataclass(frozen=True)
class WrittenAnswer:
    text: str
    score: float | None  # out of 10
    language: str | None


@dataclass(frozen=True)
class ThemeCount:
    """One theme on one side."""

    volume: int  # verbatims that mention it
    share: float  # of the side's verbatims, 0-1
    scored: int  # of those, the ones linked to a score
    mean: float | None  # their average score, out of 10


@dataclass(frozen=True)
class ThemeRow:
    key: str
    label: str
    language: str
    customer: ThemeCount
    employee: ThemeCount | None  # None while employees' verbatims are hidden
    examples: tuple[str, ...]  # a few customers' verbatims that mention it, shortest first


@dataclass
class ThemeReport:
    analyser: TextAnalyser | None
    verbatims: dict[str, int | None]  # per side; None for a hidden side
    themes: list[ThemeRow] = field(default_factory=list)
    average: float | None = None  # customers' average score over their scored verbatims
    happiest: list[ThemeRow] = field(default_factory=list)
    irritating: list[ThemeRow] = field(default_factory=list)
    weak_signals: list[ThemeRow] = field(default_factory=list)
    side_by_side: list[ThemeRow] = field(default_factory=list)

    @property
    def employee_hidden(self) -> bool:
        return self.verbatims["employee"] is None


def out_of_ten(value: int, scale_name: str) -> float | None:
    scale = SCALES[scale_name]
    if scale.low is None or scale.high is None or scale.high == scale.low:
        return None
    return 10 * (value - scale.low) / (scale.high - scale.low)


def written_answers(
    session: Session, wave: Wave, side: str, items: Sequence[Item], filters: Sequence[ResolvedFilter]
) -> list[WrittenAnswer]:
    """A side's written answers, oldest first, each with the score it explains (SQL does the linking)."""
    anchor = recommendation_item(items)
    recommended = aliased(Answer)
    language = Response.language if side == "customer" else null()
    statement = (
        select(Answer.text, Answer.value, Item.scale, recommended.value if anchor else null(), language)
        .join(Item, Item.id == Answer.item_id)  # type: ignore[arg-type]
        .where(*_written(wave, side))
    )
    if anchor is not None:
        statement = statement.outerjoin(
            recommended, and_(recommended.response_id == Answer.response_id, recommended.item_id == anchor.id)
        )
    if side == "customer":
        statement = statement.join(Response, Response.id == Answer.response_id)  # type: ignore[arg-type]
    if filters:
        statement = statement.where(answer_condition(filters))
    rows = session.exec(statement.order_by(Answer.id)).all()  # type: ignore[arg-type]
    answers = []
    for text, value, scale, recommendation, spoken in rows:
        if value is not None:
            score = out_of_ten(value, scale)
        elif recommendation is not None and anchor is not None:
            score = out_of_ten(recommendation, anchor.scale)
        else:
            score = None
        answers.append(WrittenAnswer(text=text, score=score, language=spoken))
    return answers


def choose_analyser(analysers: dict[str, TextAnalyser], name: str | None = None) -> TextAnalyser | None:
    """The analyser a setting names, the built-in one, or else the first by name."""
    for wanted in (name, DEFAULT_ANALYSER):
        if wanted and wanted in analysers:
            return analysers[wanted]
    return analysers[min(analysers)] if analysers else None


def _count(theme: Theme, positions: range, answers: list[WrittenAnswer], total: int) -> ThemeCount:
    mentioned = [answers[index - positions.start] for index in theme.mentions if index in positions]
    scores = [answer.score for answer in mentioned if answer.score is not None]
    return ThemeCount(
        volume=len(mentioned),
        share=len(mentioned) / total if total else 0.0,
        scored=len(scores),
        mean=sum(scores) / len(scores) if scores else None,
    )


def theme_report(
    session: Session,
    wave: Wave,
    items: Sequence[Item],
    filters: Sequence[ResolvedFilter],
    verbatim_threshold: int,
    analyser: TextAnalyser | None,
) -> ThemeReport:
    answers: dict[str, list[WrittenAnswer]] = {}
    for side in SIDES:
        if not verbatims_hidden(session, wave, side, filters, verbatim_threshold):
            answers[side] = written_answers(session, wave, side, items, filters)
    report = ThemeReport(
        analyser=analyser, verbatims={side: len(answers[side]) if side in answers else None for side in SIDES}
    )
    if analyser is None:
        return report
    customers = answers["customer"]
    employees = answers.get("employee", [])
    texts = [WrittenText(answer.text, answer.language) for answer in customers + employees]
    positions = {"customer": range(len(customers)), "employee": range(len(customers), len(texts))}
    rows = []
    for theme in analyser.themes(texts):
        examples: list[str] = []
        for index in sorted((index for index in theme.mentions if index in positions["customer"]),
                            key=lambda index: (len(customers[index].text), index)):  # fmt: skip
            if len(examples) < EXAMPLES and customers[index].text not in examples:
                examples.append(customers[index].text)
        row = ThemeRow(
            key=theme.key,
            label=theme.label,
            language=theme.language,
            customer=_count(theme, positions["customer"], customers, len(customers)),
            employee=None
            if report.employee_hidden
            else _count(theme, positions["employee"], employees, len(employees)),
            examples=tuple(examples),
        )
        if row.customer.volume or (row.employee and row.employee.volume):
            rows.append(row)
    rows.sort(key=lambda row: (-row.customer.volume, -(row.employee.volume if row.employee else 0), row.key))
    report.themes = rows
    scores = [answer.score for answer in customers if answer.score is not None]
    report.average = sum(scores) / len(scores) if scores else None
    frequent = max(FREQUENT_MENTIONS, round(FREQUENT_SHARE * len(customers)))
    common = [row for row in rows if row.customer.mean is not None and row.customer.scored >= frequent]
    if report.average is not None:
        average = report.average
        report.happiest = sorted(
            (row for row in common if row.customer.mean > average),  # type: ignore[operator]
            key=lambda row: (-row.customer.mean, row.key),
        )[:TOP]  # type: ignore[operator]
        report.irritating = sorted((row for row in common if row.customer.mean < average),  # type: ignore[operator]
                                   key=lambda row: (row.customer.mean, row.key))[:TOP]  # fmt: skip
    report.weak_signals = sorted(
        (
            row
            for row in rows
            if 2 <= row.customer.scored < frequent
            and row.customer.mean is not None
            and (row.customer.mean <= WEAK_LOW or row.customer.mean >= WEAK_HIGH)
        ),
        key=lambda row: (-abs(row.customer.mean - 5), row.key),  # type: ignore[operator]
    )[:TOP]
    if not report.employee_hidden:
        talked = {row.key for row in rows[:SIDE_BY_SIDE]}
        by_staff = sorted((row for row in rows if row.employee and row.employee.volume),
                          key=lambda row: (-row.employee.volume, row.key))[:SIDE_BY_SIDE]  # type: ignore[union-attr]  # fmt: skip
        talked |= {row.key for row in by_staff}
        report.side_by_side = sorted(
            (row for row in rows if row.key in talked and (row.customer.volume or row.employee.volume)),  # type: ignore[union-attr]
            key=lambda row: (-row.customer.share, -row.employee.share, row.key),  # type: ignore[union-attr]
        )
    return report
