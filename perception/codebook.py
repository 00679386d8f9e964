"""The codebook: what each column of a responses export means (items, scales, labels, segments).

Exports in CSV, XLSX and SPSS carry the same codebook, and the API serves it, so that a BI or
research tool reading an export never has to guess what `effort` or `segment:region` holds.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from perception.exports import export_columns
from perception.models import Survey
from perception.scales import SCALES
from perception.segments import declared
from perception.surveys import items_of, segments_of
from perception.types import LANGUAGES, SIDES

FIXED_COLUMNS: dict[str, dict[str, str]] = {
    "response": {"en": "Response number (customer side only)", "fr": "Numéro de la réponse (côté client seulement)"},
    "submitted_on": {"en": "Day the response was submitted", "fr": "Jour de la réponse"},
    "language": {"en": "Language the customer answered in", "fr": "Langue de la réponse du client"},
}


def value_labels(scale_name: str) -> list[dict[str, Any]]:
    """Each value of a scale, with its label in each language where the scale names it (the ends)."""
    scale = SCALES[scale_name]
    labels = []
    for value in scale.values:
        label = {}
        for language in LANGUAGES:
            low, high = scale.end_labels(language)
            if value == scale.low and low:
                label[language] = low
            elif value == scale.high and high:
                label[language] = high
        labels.append({"value": value, "label": label})
    return labels


def codebook(session: Session, survey: Survey) -> dict[str, Any]:
    """The survey's codebook, one entry per item and per segment attribute, in column order."""
    items = [
        {
            "key": item.key,
            "dimension": item.dimension,
            "touchpoint": item.touchpoint,
            "scale": item.scale,
            "scale_label": SCALES[item.scale].label("en"),
            "model": item.model,
            "required": item.required,
            "wording": {side: {language: item.wording(side, language) for language in LANGUAGES} for side in SIDES},
            "values": value_labels(item.scale),
        }
        for item in items_of(session, survey)
    ]
    segments = segments_of(session, survey)
    return {
        "survey": survey.slug,
        "title": {"en": survey.title_en, "fr": survey.title_fr},
        "items": items,
        "segments": [
            {
                "side": side,
                "column": f"segment:{attribute.name}",
                "name": attribute.name,
                "values": list(segments.get(side, {}).get(attribute.name, ())),
            }
            for side in SIDES
            for attribute in declared(session, survey, side)
        ],
        "columns": {side: export_columns(session, survey, side) for side in SIDES},
        "fixed_columns": FIXED_COLUMNS,
    }
