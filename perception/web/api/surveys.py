"""Surveys through the API: list and read them, export and import their definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import current_app, g, url_for
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import func, select

from perception.audit import record
from perception.codebook import codebook
from perception.db import get_session
from perception.models import Item, Survey, Wave
from perception.surveys import SurveyFileError, definition_of, parse_definition, store_definition
from perception.waves import find_survey
from perception.web.api.base import ApiProblem, PageQuery, decode_cursor, operation, page, page_of

Text64 = Field(min_length=1, max_length=64)


class Wording(BaseModel):
    """One text per language; the survey's default language is required."""

    model_config = ConfigDict(extra="forbid")
    en: str | None = Field(default=None, max_length=1000)
    fr: str | None = Field(default=None, max_length=1000)


class Title(Wording):
    en: str | None = Field(default=None, max_length=200)
    fr: str | None = Field(default=None, max_length=200)


class SurveyFileItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    dimension: str = Field(min_length=1, max_length=64)
    touchpoint: str | None = Field(default=None, min_length=1, max_length=64)
    scale: Literal["nps", "csat", "ces", "likert5", "text"]
    model: str | None = Field(
        default=None, min_length=1, max_length=32, description="Scoring model; the scale's by default."
    )
    required: bool | None = Field(default=None, description="True by default, except for text items.")
    customer: Wording = Field(description="The customer wording.")
    employee: Wording = Field(description="The staff wording: how staff think customers experience it.")


SegmentValues = dict[str, list[str]]


class SurveyFile(BaseModel):
    """A survey file, as JSON: the same fields as the YAML file `perception survey import` reads."""

    model_config = ConfigDict(extra="forbid")
    slug: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: Title
    default_language: Literal["en", "fr"] = "en"
    items: list[SurveyFileItem] = Field(min_length=1, max_length=200)
    segments: dict[Literal["customer", "employee"], SegmentValues] | None = Field(
        default=None, description="Per side, each segment attribute with the values respondents choose from."
    )


class SurveySummary(BaseModel):
    slug: str
    title: dict[str, str]
    default_language: str
    created_at: datetime
    items: int
    waves: int


class CodebookValue(BaseModel):
    value: int
    label: dict[str, str] = Field(description="The value's label per language, where the scale names it.")


class CodebookItem(BaseModel):
    key: str = Field(description="The column of the item in an export.")
    dimension: str
    touchpoint: str | None
    scale: str
    scale_label: str
    model: str | None
    required: bool
    wording: dict[str, dict[str, str]] = Field(description="Per side, per language.")
    values: list[CodebookValue] = Field(description="The values an answer takes; empty for text items.")


class CodebookSegment(BaseModel):
    side: str
    column: str
    name: str
    values: list[str]


class Codebook(BaseModel):
    """What each column of a responses export means."""

    survey: str
    title: dict[str, str]
    items: list[CodebookItem]
    segments: list[CodebookSegment]
    columns: dict[str, list[str]] = Field(description="Per side, the columns of an export, in order.")
    fixed_columns: dict[str, dict[str, str]] = Field(description="Columns every export has, described per language.")


def survey_or_404(slug: str) -> Survey:
    survey = find_survey(get_session(), slug)
    if survey is None:
        raise ApiProblem(404, f"There is no survey {slug!r}.")
    return survey


def _summary(survey: Survey) -> SurveySummary:
    session = get_session()
    return SurveySummary(
        slug=survey.slug,
        title={language: text for language in ("en", "fr") if (text := getattr(survey, f"title_{language}"))},
        default_language=survey.default_language,
        created_at=survey.created_at,
        items=session.exec(select(func.count()).select_from(Item).where(Item.survey_id == survey.id)).one(),
        waves=session.exec(select(func.count()).select_from(Wave).where(Wave.survey_id == survey.id)).one(),
    )


@operation(
    "GET", "/surveys", summary="List the surveys", tag="surveys", scope="reports:read",
    paginated=True, response=page_of(SurveySummary),
)  # fmt: skip
def list_surveys(query: PageQuery) -> dict:
    after = decode_cursor("surveys", query.cursor)
    statement = select(Survey).order_by(Survey.slug).limit(query.limit + 1)
    if after is not None:
        statement = statement.where(Survey.slug > str(after))
    rows, cursor = page("surveys", list(get_session().exec(statement).all()), query.limit, lambda survey: survey.slug)
    return {"data": [_summary(survey).model_dump(mode="json") for survey in rows], "next_cursor": cursor}


@operation(
    "GET", "/surveys/<slug>", summary="Read a survey", tag="surveys", scope="reports:read", response=SurveySummary
)
def read_survey(slug: str) -> SurveySummary:
    return _summary(survey_or_404(slug))


@operation(
    "GET", "/surveys/<slug>/definition", summary="Export a survey's definition", tag="surveys",
    scope="reports:read", response=SurveyFile,
    description="The survey as a survey file, in JSON; POST it to /surveys on another instance to copy the survey.",
)  # fmt: skip
def export_definition(slug: str) -> dict:
    session = get_session()
    survey = survey_or_404(slug)
    definition = definition_of(session, survey).to_dict()
    record(session, g.api_token, "survey.export", survey.slug, {"via": "api"})
    session.commit()
    return definition


def _store(body: SurveyFile, replace: bool) -> Survey:
    session = get_session()
    registries = current_app.extensions["perception"].registries
    try:
        definition = parse_definition(body.model_dump(mode="json", exclude_none=True), registries.scoring_models)
    except SurveyFileError as error:
        session.rollback()
        raise ApiProblem(
            422, "The definition was refused: " + "; ".join(error.problems),
            errors=[{"field": "body", "message": problem} for problem in error.problems],
        ) from None  # fmt: skip
    try:
        survey = store_definition(session, definition, replace=replace)
    except SurveyFileError as error:
        session.rollback()
        raise ApiProblem(409, "; ".join(error.problems)) from None
    record(session, g.api_token, "survey.replace" if replace else "survey.create", survey.slug, {"via": "api"})
    session.commit()
    return survey


@operation(
    "POST", "/surveys", summary="Import a survey definition", tag="surveys", scope="surveys:manage",
    body=SurveyFile, response=SurveySummary, status=201, extra_statuses=(409,),
    description="Creates the survey; 409 when its slug is taken (replace it with PUT on its definition).",
)  # fmt: skip
def import_definition(body: SurveyFile):  # type: ignore[no-untyped-def]
    survey = _store(body, replace=False)
    return _summary(survey), {"Location": url_for("api.read_survey", slug=survey.slug)}


@operation(
    "PUT", "/surveys/<slug>/definition", summary="Replace a survey's definition", tag="surveys",
    scope="surveys:manage", body=SurveyFile, response=SurveySummary, extra_statuses=(409,),
    description="Only while no wave of the survey has responses (409 after).",
)  # fmt: skip
def replace_definition(slug: str, body: SurveyFile) -> SurveySummary:
    survey_or_404(slug)
    if body.slug != slug:
        raise ApiProblem(
            422, f"body.slug: {body.slug!r} is not the survey's slug {slug!r}",
            errors=[{"field": "body.slug", "message": f"must be {slug!r}"}],
        )  # fmt: skip
    return _summary(_store(body, replace=True))


@operation(
    "GET", "/surveys/<slug>/codebook", summary="The codebook of a survey's exports", tag="codebook",
    scope="reports:read", response=Codebook,
    description="Items with their wordings, scales and value labels, segment attributes with their values, and "
    "the columns of each side's export.",
)  # fmt: skip
def read_codebook(slug: str) -> dict:
    return codebook(get_session(), survey_or_404(slug))
