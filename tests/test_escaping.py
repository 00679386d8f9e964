"""What respondents write reaches exports as text, never as a spreadsheet formula."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from sqlmodel import select

from perception.db import session_scope
from perception.exports import export_responses
from perception.models import Survey, Wave
from perception.responses import check_answers, record_response
from perception.scales import SCALES
from perception.surveys import items_of
from tests.conftest import open_core_wave

HOSTILE = ['=HYPERLINK("http://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", '<script>alert("x")</script>']


@pytest.mark.parametrize("verbatim", HOSTILE)
def test_a_hostile_verbatim_is_exported_as_text(app: Flask, verbatim: str) -> None:
    open_core_wave(app)
    with session_scope(app) as session:
        survey = session.exec(select(Survey)).one()
        wave = session.exec(select(Wave)).one()
        items = items_of(session, survey)
        raw = {item.key: verbatim if SCALES[item.scale].is_text else SCALES[item.scale].values[0] for item in items}
        record_response(app, session, survey, wave, "customer", check_answers(items, raw), language="en")
    with session_scope(app) as session:
        survey = session.exec(select(Survey)).one()
        wave = session.exec(select(Wave)).one()
        text = export_responses(session, survey, wave, "customer", 5, 10)
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t"), cell
