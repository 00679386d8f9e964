"""Reports through the API: the wave's gap report, the same JSON as `perception report --format json`."""

from __future__ import annotations

from typing import Literal

from flask import current_app
from pydantic import BaseModel, Field

from perception.db import get_session
from perception.report import gap_report, report_json
from perception.segments import SegmentError, parse_filter, resolve
from perception.surveys import items_of
from perception.waves import find_survey, find_wave
from perception.web.api.base import ApiProblem, operation

Verdict = Literal["blind_spot", "hidden_strength", "aligned", "insufficient_data"]


class SideFigures(BaseModel):
    n: int | None = Field(description="Answers counted; null when the side is hidden.")
    score: float | None
    ci95: list[float] | None = Field(description="95% interval of the score.")
    suppressed: bool = Field(description="True when the side is below the reporting threshold.")


class GapFigures(BaseModel):
    value: float = Field(description="Employee score minus customer score, in the score's unit.")
    ci95: list[float] | None
    p: float | None
    q: float | None = Field(description="p corrected by Benjamini-Hochberg over the report's items.")
    effect: float | None = Field(description="Cliff's delta, positive when employees answer higher.")
    effect_size: str | None
    hedges_g: float | None
    mann_whitney_p: float | None
    method: str


class ItemFigures(BaseModel):
    key: str
    dimension: str
    touchpoint: str | None
    scale: str
    model: str
    unit: str
    customer: SideFigures
    employee: SideFigures
    gap: GapFigures | None = Field(description="Null when either side is hidden.")
    verdict: Verdict


class GroupFigures(BaseModel):
    name: str
    items: list[str]
    customer: float | None
    employee: float | None
    gap: float | None
    verdicts: dict[str, int]


class Report(BaseModel):
    """A wave's gap report (docs/report-format.md)."""

    survey: str
    wave: str
    threshold: int
    filters: list[str]
    responses: dict[str, int | None] = Field(description="Responses per side; null for a hidden side.")
    items: list[ItemFigures]
    dimensions: list[GroupFigures]
    touchpoints: list[GroupFigures]


class ReportQuery(BaseModel):
    segment: list[str] = Field(
        default_factory=list, description="Segment filters as SIDE:NAME=VALUE, e.g. customer:region=North; repeatable."
    )


@operation(
    "GET", "/surveys/<slug>/waves/<name>/report",
    summary="The gap report of a wave", tag="reports", scope="reports:read",
    query=ReportQuery, response=Report, extra_statuses=(400,),
    description="The same figures as the report page and `perception report --format json`; groups below the "
    "reporting threshold are hidden.",
)  # fmt: skip
def report(slug: str, name: str, query: ReportQuery) -> dict:
    session = get_session()
    survey = find_survey(session, slug)
    wave = find_wave(session, survey, name) if survey else None
    if survey is None or wave is None:
        raise ApiProblem(404, f"No wave {name!r} in survey {slug!r}.")
    try:
        filters = resolve(session, survey, [parse_filter(text) for text in query.segment])
        built = gap_report(
            session, survey, wave, items_of(session, survey, wave),
            current_app.extensions["perception"].registries.scoring_models,
            current_app.config["REPORTING_THRESHOLD"], filters,
        )  # fmt: skip
    except SegmentError as error:
        raise ApiProblem(400, str(error)) from None
    return report_json(built)
