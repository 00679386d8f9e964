"""Responses through the API: import answers gathered elsewhere, export a wave's responses."""

from __future__ import annotations

from typing import Literal

from flask import Response, current_app, g
from pydantic import BaseModel, Field

from perception.audit import record
from perception.db import get_session
from perception.exports import ExportRefused, ExportUnavailable, export_responses, export_sav, export_xlsx
from perception.imports import ImportRefused, import_responses
from perception.web.api.base import ApiProblem, operation
from perception.web.api.surveys import survey_or_404
from perception.web.api.waves import wave_or_404


class Imported(BaseModel):
    imported: int = Field(description="Responses stored.")


class ExportQuery(BaseModel):
    format: Literal["csv", "xlsx", "sav"] = Field(
        default="csv",
        description="csv; xlsx (a sheet of responses and the codebook); sav (SPSS, with variable and value "
        "labels, when the server has the optional extra perception[spss]).",
    )


SIDE = "<any(customer, employee):side>"


@operation(
    "POST", f"/surveys/<slug>/waves/<name>/responses/{SIDE}", summary="Import responses from CSV",
    tag="responses", scope="responses:import", body_media="text/csv", response=Imported, status=201,
    description="One row per response, one column per item key, optional `submitted_at` (ISO 8601) and "
    "`segment:NAME` columns; comma or semicolon separated, UTF-8. A file with any bad cell is refused whole "
    "(422), each fault named with its line and column.",
)  # fmt: skip
def import_(slug: str, name: str, side: str, body: str) -> Imported:
    survey = survey_or_404(slug)
    wave = wave_or_404(survey, name)
    session = get_session()
    try:
        count = import_responses(session, survey, wave, side, body)
    except ImportRefused as error:
        session.rollback()
        shown = "; ".join(error.problems[:5]) + ("; ..." if len(error.problems) > 5 else "")
        raise ApiProblem(
            422, f"Nothing was imported: {shown}",
            errors=[{"field": "body", "message": problem} for problem in error.problems],
        ) from None  # fmt: skip
    record(session, g.api_token, "responses.import", f"{survey.slug} / {wave.name}",
           {"side": side, "count": count, "via": "api"})  # fmt: skip
    session.commit()
    return Imported(imported=count)


FORMATS = {
    "csv": (export_responses, "text/csv"),
    "xlsx": (export_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "sav": (export_sav, "application/x-spss-sav"),
}


@operation(
    "GET", f"/surveys/<slug>/waves/<name>/responses/{SIDE}", summary="Export a wave's responses of one side",
    tag="responses", scope="responses:export", query=ExportQuery,
    response_media=tuple(media for _write, media in FORMATS.values()), extra_statuses=(409, 501),
    description="Customers with their segments; employees still anonymous: refused (409) below the reporting "
    "threshold, rare combinations of segment values blanked, verbatims left out below the verbatim threshold. "
    "The codebook says what each column means.",
)  # fmt: skip
def export(slug: str, name: str, side: str, query: ExportQuery) -> Response:
    survey = survey_or_404(slug)
    wave = wave_or_404(survey, name)
    write, media = FORMATS[query.format]
    try:
        content = write(
            get_session(), survey, wave, side,
            current_app.config["REPORTING_THRESHOLD"], current_app.config["VERBATIM_THRESHOLD"],
        )  # fmt: skip
    except ExportRefused as error:
        raise ApiProblem(409, str(error)) from None
    except ExportUnavailable as error:
        raise ApiProblem(501, str(error)) from None
    session = get_session()
    record(session, g.api_token, "responses.export", f"{survey.slug} / {wave.name}",
           {"side": side, "format": query.format, "via": "api"})  # fmt: skip
    session.commit()
    filename = f"{survey.slug}-{wave.name}-{side}.{query.format}".replace(" ", "_")
    return Response(content, mimetype=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
