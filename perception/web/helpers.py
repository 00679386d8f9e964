"""Template helpers: the current language, translated labels, number formatting, direction isolates."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l

from perception.bidi import isolate, isolate_text

ROLE_LABELS = {"admin": _l("admin"), "lead": _l("lead"), "leader": _l("leader"), "employee": _l("employee")}
STATE_LABELS = {"draft": _l("draft"), "open": _l("open"), "closed": _l("closed")}
KIND_LABELS = {"cold": _l("cold"), "hot": _l("hot")}
VERDICT_LABELS = {
    "blind_spot": _l("blind spot"),
    "hidden_strength": _l("hidden strength"),
    "aligned": _l("aligned"),
    "insufficient_data": _l("insufficient data"),
}


QUADRANT_LABELS = {
    "fix_first": _l("fix first: important, and staff overrate it"),
    "keep": _l("keep: important, and staff see it as customers do or better"),
    "watch": _l("watch: staff overrate it, but it moves recommendation less"),
    "secondary": _l("secondary"),
}


def format_p(name: str, value: float) -> str:
    """A p or q value with its name: three decimals, or an upper bound when smaller."""
    if value < 0.001:
        return f"{name} < {format_decimal(0.001, format='0.000')}"
    return f"{name} = {format_decimal(value, format='0.000')}"


def current_locale() -> str:
    return str(get_locale() or "en")


def localized(obj: Any, field: str) -> str:
    """The field in the current language, else in the other one."""
    language = current_locale()
    other = "en" if language == "fr" else "fr"
    return getattr(obj, f"{field}_{language}", "") or getattr(obj, f"{field}_{other}", "")


def format_score(value: float, unit: str, with_unit: bool = True, signed: bool = False) -> str:
    """Points and % with one decimal, means with two; the unit after, the sign when asked."""
    digits = 2 if unit == "" else 1
    pattern = "#,##0." + "0" * digits
    text = format_decimal(abs(value) if signed else value, format=pattern)
    if signed:
        text = ("+" if value > 0 else "\u2212" if value < 0 else "±") + text
    elif text.startswith("-"):
        text = "\u2212" + text[1:]  # a true minus sign, as in the gaps
    if with_unit and unit == "%" and signed:
        text += " pts"  # a difference of two percentages is in percentage points
    elif with_unit and unit == "%":
        text += "\u202f%" if current_locale() == "fr" else "%"
    elif with_unit and unit == "points":
        text += " pts"
    return text


def register(app: Flask) -> None:
    app.jinja_env.filters.update(isolate=isolate, isolate_text=isolate_text)
    app.jinja_env.globals.update(
        current_locale=current_locale,
        localized=localized,
        format_score=format_score,
        role_label=lambda role: ROLE_LABELS.get(role, role),
        state_label=lambda state: STATE_LABELS.get(state, state),
        kind_label=lambda kind: KIND_LABELS.get(kind, kind),
        verdict_label=lambda verdict: VERDICT_LABELS.get(verdict, verdict),
        format_p=format_p,
        quadrant_label=lambda quadrant: QUADRANT_LABELS.get(quadrant, quadrant),
    )
