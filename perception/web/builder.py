"""The survey builder: leads create and edit a mirrored survey in the browser, without JavaScript.

The whole survey travels in one form. Moving an item, adding or removing one re-shows the form with
the change (nothing is stored until "Save"), so a lead never loses what they typed; saving checks the
survey whole with the same rules as a survey file and stores it as :func:`perception.surveys.revise`
does, keeping answered items' meaning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from perception.accounts import role_required
from perception.db import get_session
from perception.scales import SCALES
from perception.surveys import (
    SurveyFileError,
    definition_of,
    parse_definition,
    read_definition,
    revise,
    store_definition,
)
from perception.types import LANGUAGES, SIDES
from perception.waves import find_survey
from perception.web.helpers import current_locale
from perception.web.respond import preview_page

blueprint = Blueprint("builder", __name__, url_prefix="/surveys")

ITEM_FIELDS = ("key", "dimension", "touchpoint", "scale", "customer_en", "customer_fr", "employee_en", "employee_fr")
ACTION = re.compile(r"^(up|down|remove)-(\d{1,3})$")
MAX_FILE = 500_000
WHERE = re.compile(r"^(?:line \d+, )?item (\d+)\b")
SEGMENT_LINE = re.compile(r"^([^:]+):(.*)$")


def _models() -> Any:
    return current_app.extensions["perception"].registries.scoring_models


def blank_item() -> dict[str, Any]:
    return {field: "" for field in ITEM_FIELDS} | {
        "scale": "likert5",
        "required": True,
        "why": False,
        "options_en": "",
        "options_fr": "",
        "model": "",
    }


def rows_from_definition(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The items of a definition (as in a file) as the builder's rows."""
    rows = []
    for item in data.get("items") or []:
        options = item.get("options") or []
        rows.append(
            {
                "key": item.get("key", ""),
                "dimension": item.get("dimension", ""),
                "touchpoint": item.get("touchpoint") or "",
                "scale": item.get("scale", ""),
                "model": item.get("model") or "",
                "required": item.get("required", item.get("scale") != "text"),
                "why": bool(item.get("why")),
                **{
                    f"{side}_{language}": (item.get(side) or {}).get(language, "")
                    for side in ("customer", "employee")
                    for language in LANGUAGES
                },
                **{
                    f"options_{language}": "\n".join(option.get(language, "") for option in options)
                    for language in LANGUAGES
                },
            }
        )
    return rows


def segment_texts(segments: Mapping[str, Mapping[str, Any]] | None) -> dict[str, str]:
    """Each side's segment attributes as the builder shows them: ``name: value, value`` a line."""
    return {
        f"segments_{side}": "\n".join(
            f"{name}: {', '.join(values)}" for name, values in ((segments or {}).get(side) or {}).items()
        )
        for side in SIDES
    }


def segments_from_form(form: Mapping[str, str]) -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    """The segment attributes typed in the builder, per side, and what could not be read in them."""
    side_names = {"customer": _("Customer segments"), "employee": _("Staff segments")}
    segments: dict[str, dict[str, list[str]]] = {}
    problems: list[str] = []
    for side in SIDES:
        attributes: dict[str, list[str]] = {}
        for number, line in enumerate(form.get(f"segments_{side}", "").splitlines()[:100], start=1):
            if not line.strip():
                continue
            match = SEGMENT_LINE.match(line.strip())
            if match is None or not match.group(1).strip():
                problems.append(
                    _(
                        "%(side)s, line %(number)d: write the attribute's name, a colon, then its values "
                        "separated by commas.",
                        side=side_names[side],
                        number=number,
                    )
                )
                continue
            name, values = match.group(1).strip(), match.group(2)
            if name in attributes:
                problems.append(
                    _(
                        "%(side)s, line %(number)d: %(name)s is already declared.",
                        side=side_names[side],
                        number=number,
                        name=name,
                    )
                )
            else:
                attributes[name] = [value.strip() for value in values.split(",") if value.strip()]
        if attributes:
            segments[side] = attributes
    return segments, problems


def rows_from_form(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    """The rows as posted: ``items-N-field``, in N order."""
    count = min(int(form.get("count", "0") or 0) if form.get("count", "").isdigit() else 0, 200)
    rows = []
    for index in range(count):
        prefix = f"items-{index}-"
        row = {field: form.get(prefix + field, "").strip() for field in ITEM_FIELDS}
        row["model"] = form.get(prefix + "model", "").strip()
        row["required"] = form.get(prefix + "required") == "on"
        row["why"] = form.get(prefix + "why") == "on"
        for language in LANGUAGES:
            row[f"options_{language}"] = form.get(f"{prefix}options_{language}", "")
        rows.append(row)
    return rows


def definition_from(head: Mapping[str, Any], rows: list[dict[str, Any]], segments: Any) -> dict[str, Any]:
    """The survey definition the builder's form describes, in the shape of a survey file."""
    items = []
    for row in rows:
        item: dict[str, Any] = {
            "key": row["key"],
            "dimension": row["dimension"],
            "scale": row["scale"],
            "required": row["required"],
            "customer": {
                language: row[f"customer_{language}"] for language in LANGUAGES if row[f"customer_{language}"]
            },
            "employee": {
                language: row[f"employee_{language}"] for language in LANGUAGES if row[f"employee_{language}"]
            },
        }
        if row["touchpoint"]:
            item["touchpoint"] = row["touchpoint"]
        if row.get("model") and row["scale"] in SCALES and SCALES[row["scale"]].is_score:
            item["model"] = row["model"]
        if row["why"] and row["scale"] in SCALES and SCALES[row["scale"]].is_score:
            item["why"] = True
        if row["scale"] == "choice":
            lines = {language: row[f"options_{language}"].splitlines() for language in LANGUAGES}
            length = max(len(lines_of) for lines_of in lines.values())
            item["options"] = [
                {
                    language: lines[language][index].strip()
                    for language in LANGUAGES
                    if index < len(lines[language]) and lines[language][index].strip()
                }
                for index in range(length)
                if any(index < len(lines[language]) and lines[language][index].strip() for language in LANGUAGES)
            ]
        items.append(item)
    return {
        "slug": head["slug"],
        "title": {language: head[f"title_{language}"] for language in LANGUAGES if head[f"title_{language}"]},
        "default_language": head["default_language"],
        "items": items,
        **({"segments": segments} if segments else {}),
    }


def _apply(action: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Move, add or remove a row, as the button pressed says."""
    if action == "add":
        return [*rows, blank_item()]
    match = ACTION.match(action)
    if not match:
        return rows
    verb, index = match.group(1), int(match.group(2))
    if not 0 <= index < len(rows):
        return rows
    if verb == "remove":
        return rows[:index] + rows[index + 1 :]
    other = index - 1 if verb == "up" else index + 1
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    return rows


def _split_problems(problems: list[str]) -> tuple[list[str], dict[int, list[str]]]:
    """Problems of the survey as a whole, and those of each item (by index from 0)."""
    general: list[str] = []
    per_item: dict[int, list[str]] = {}
    for problem in problems:
        match = WHERE.match(problem)
        if match:
            per_item.setdefault(int(match.group(1)) - 1, []).append(problem)
        else:
            general.append(problem)
    return general, per_item


def _render(head: dict[str, Any], rows: list[dict[str, Any]], creating: bool, problems: list[str], status: int = 200):  # type: ignore[no-untyped-def]
    general, per_item = _split_problems(problems)
    models = _models()
    return render_template(
        "surveys/builder.html",
        head=head,
        rows=rows,
        creating=creating,
        problems=problems,
        general=general,
        per_item=per_item,
        scales=SCALES,
        models=sorted(models.items()),
        language=current_locale(),
    ), status


@blueprint.route("/build", methods=["GET", "POST"])
@role_required("lead")
def create() -> Any:
    """A new survey from scratch: one empty item to start from."""
    if request.method == "GET":
        head = {
            "slug": request.args.get("slug", "").strip(),
            "title_en": request.args.get("title_en", "").strip(),
            "title_fr": request.args.get("title_fr", "").strip(),
            "default_language": request.args.get("default_language") or current_locale(),
            **segment_texts(None),
        }
        return _render(head, [blank_item()], True, [])
    return _submitted(None)


@blueprint.route("/<slug>/edit", methods=["GET", "POST"])
@role_required("lead")
def edit(slug: str) -> Any:
    survey = find_survey(get_session(), slug)
    if survey is None:
        return redirect(url_for("builder.create", slug=slug))
    if request.method == "GET":
        data = definition_of(get_session(), survey).to_dict()
        head = {
            "slug": survey.slug,
            "title_en": survey.title_en,
            "title_fr": survey.title_fr,
            "default_language": survey.default_language,
            **segment_texts(data.get("segments")),
        }
        return _render(head, rows_from_definition(data), False, [])
    return _submitted(slug)


def _submitted(slug: str | None) -> str | WerkzeugResponse | tuple[str, int]:
    session = get_session()
    survey = find_survey(session, slug) if slug else None
    form = request.form
    head = {
        "slug": survey.slug if survey else form.get("slug", "").strip(),
        "title_en": form.get("title_en", "").strip(),
        "title_fr": form.get("title_fr", "").strip(),
        "default_language": form.get("default_language", "en") if form.get("default_language") in LANGUAGES else "en",
        **{f"segments_{side}": form.get(f"segments_{side}", "") for side in SIDES},
    }
    rows = rows_from_form(form)
    action = form.get("action", "save")
    creating = survey is None
    if action != "save":
        return _render(head, _apply(action, rows), creating, [])
    segments, unread = segments_from_form(form)
    try:
        definition = parse_definition(definition_from(head, rows, segments), _models())
    except SurveyFileError as error:
        return _render(head, rows, creating, [*unread, *error.problems], 422)
    if unread:
        return _render(head, rows, creating, unread, 422)
    try:
        if survey is None:
            survey = store_definition(session, definition)
            message = _("Survey created. Preview it, then create a wave.")
        else:
            revision = revise(session, survey, definition)
            if revision.new_version:
                message = _(
                    "Saved as version %(version)d: the changed items have answers, so waves already opened keep "
                    "the earlier wording; new waves ask this one.",
                    version=revision.version,
                )
            else:
                message = _("Saved.")
    except SurveyFileError as error:
        session.rollback()
        return _render(head, rows, creating, error.problems, 422)
    session.commit()
    flash(message, "info")
    return redirect(url_for("builder.edit", slug=survey.slug))


@blueprint.route("/<slug>/preview/<any(customer, employee):side>", methods=["GET", "POST"])
@role_required("lead", "leader")
def preview(slug: str, side: str) -> tuple[str, int]:
    """Each side in each language exactly as respondents see it (the language from ``?lang=``)."""
    survey = find_survey(get_session(), slug)
    if survey is None:
        abort(404)
    return preview_page(survey, side)


@blueprint.route("/import", methods=["POST"])
@role_required("lead")
def import_file() -> str | WerkzeugResponse | tuple[str, int]:
    """A new survey from a file (YAML or JSON, as exported); a bad file is refused whole, with where."""
    upload = request.files.get("file")
    text = upload.read(MAX_FILE + 1) if upload else b""
    problems: list[str] = []
    if not text:
        problems = [_("Choose a survey file (YAML or JSON) to import.")]
    elif len(text) > MAX_FILE:
        problems = [_("The file is larger than %(size)d kB.", size=MAX_FILE // 1000)]
    else:
        session = get_session()
        try:
            survey = store_definition(session, read_definition(text.decode("utf-8", errors="replace"), _models()))
        except SurveyFileError as error:
            session.rollback()
            problems = error.problems
        else:
            session.commit()
            flash(_("Survey imported. Check it here, preview it, then create a wave."), "info")
            return redirect(url_for("builder.edit", slug=survey.slug))
    return render_template("surveys/import_refused.html", problems=problems), 422
