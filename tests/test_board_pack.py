"""The board pack: the gap report as an A4 PDF for the board, in the reader's language.

The PDF is read back with poppler (``pdftotext``, ``pdfinfo``), the way a reader's viewer sees
it: what it says, in which language, on how many pages, and that text typed into a survey is
printed as text and never makes the renderer fetch anything.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask, has_request_context
from flask_babel import force_locale
from sqlmodel import select

from perception import board_pack
from perception.board_pack import OfflineFetchError, board_pack_filename, board_pack_pdf, data_only_fetcher
from perception.charts import dumbbell_svg
from perception.db import session_scope
from perception.models import Item, Survey
from perception.report import GapReport, gap_report, importance
from perception.segments import ResolvedFilter
from perception.surveys import items_of
from perception.waves import find_survey, find_wave
from perception.web.figures import chart_rows, chart_text, priority_chart_svg
from perception.web.helpers import current_locale
from tests.test_report import ALL, report_for, seed

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None,
    reason="needs poppler-utils (pdftotext, pdfinfo)",
)

HOSTILE = '<img src="http://127.0.0.1:9/x"> <script>alert(1)</script>'


def chart(report: GapReport, language: str) -> str:
    """The report's dumbbell chart, drawn as the web page draws it (needs an app context)."""
    with force_locale(language):
        return dumbbell_svg(chart_rows(report, language), chart_text(report))


def render(app: Flask, report: GapReport, language: str = "en") -> bytes:
    """Render the pack from an app context only: board_pack_pdf pushes its own request context."""
    with app.app_context():
        assert not has_request_context()
        return board_pack_pdf(report, chart(report, language), language)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "pack.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60)
    return " ".join(result.stdout.split())  # lines wrapped by the layout read as one


def page_count(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True, timeout=60).stdout
    match = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    assert match, info
    return int(match.group(1))


def retitle(app: Flask, title: str) -> None:
    with session_scope(app) as session:
        session.exec(select(Survey).where(Survey.slug == "gaps")).one().title_en = title


def test_the_pack_says_what_the_report_says_on_a_few_pages(app: Flask, tmp_path: Path) -> None:
    seed(app, ALL)
    retitle(app, "Loire branches barometer")
    pdf = render(app, report_for(app))
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)

    assert text.count("Loire branches barometer") >= 3  # the cover, then the header of each page
    assert "Perception gaps, wave w1" in text
    assert "Staff think customers answer 50.0 pts to “Recommend?”; customers say −5.0 pts." in text
    assert "We care." in text  # an item wording
    for label in ("blind spot", "hidden strength", "aligned"):
        assert label in text
    assert "▲" in text and "▼" in text  # verdicts read in black and white too
    assert "How to read this report" in text
    assert "page 1 / " in text
    pages = page_count(pdf, tmp_path)
    assert 3 <= pages <= 8
    assert f"page {pages} / {pages}" in text


def test_the_pack_is_in_the_language_asked_for(app: Flask, tmp_path: Path) -> None:
    seed(app, ALL)
    report = report_for(app)
    # A request in English still gets the French pack, and keeps its own language afterwards.
    with app.test_request_context("/?lang=en"):
        assert current_locale() == "en"
        pdf = board_pack_pdf(report, chart(report, "fr"), "fr")
        assert current_locale() == "en"
    text = pdf_text(pdf, tmp_path)
    assert "Écarts de perception, vague w1" in text
    assert "Clients" in text and "Salariés" in text
    assert "Perception gaps" not in text


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every URL the renderer asks the pack's fetcher for, and whether it was served."""
    seen: list[tuple[str, bool]] = []

    def spying_fetcher():  # type: ignore[no-untyped-def]
        fetcher = data_only_fetcher()
        real_fetch = fetcher.fetch

        def fetch(url, headers=None):  # type: ignore[no-untyped-def]
            try:
                response = real_fetch(url, headers)
            except OfflineFetchError:
                seen.append((url, False))
                raise
            seen.append((url, True))
            return response

        fetcher.fetch = fetch
        return fetcher

    monkeypatch.setattr(board_pack, "data_only_fetcher", spying_fetcher)
    return seen


def test_labels_are_printed_as_text_and_nothing_is_fetched(
    app: Flask, tmp_path: Path, fetched: list[tuple[str, bool]]
) -> None:
    seed(app, ALL)
    retitle(app, f"Gaps {HOSTILE}")
    with session_scope(app) as session:
        survey = session.exec(select(Survey).where(Survey.slug == "gaps")).one()
        item = session.exec(select(Item).where(Item.survey_id == survey.id, Item.key == "recommend")).one()
        item.customer_en = f"Recommend? {HOSTILE}"
    pdf = render(app, report_for(app))

    squeezed = "".join(pdf_text(pdf, tmp_path).split())
    assert squeezed.count("".join(f"Recommend? {HOSTILE}".split())) >= 2  # summary and item table
    assert "".join(f"Gaps {HOSTILE}".split()) in squeezed  # the cover
    assert [served for _, served in fetched] == [True], "only the chart is loaded, through the fetcher"
    assert fetched[0][0].startswith("data:image/svg+xml;base64,")


def test_the_fetcher_refuses_every_url_but_data(app: Flask, fetched: list[tuple[str, bool]]) -> None:
    fetcher = data_only_fetcher()
    for url in ("http://127.0.0.1:9/x", "https://example.com/a.css", "file:///etc/passwd", "ftp://example.com/x"):
        with pytest.raises(OfflineFetchError):
            fetcher.fetch(url)
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"

    # A chart that points outside itself is refused, and no connection reaches a listening port.
    seed(app, ALL)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.2)
        outside = f"http://127.0.0.1:{listener.getsockname()[1]}/x.png"
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            'width="100px" height="50px" viewBox="0 0 100 50">'
            f'<image href="{outside}" width="50" height="50"/>'
            '<image xlink:href="file:///etc/passwd" x="50" width="50" height="50"/></svg>'
        )
        with app.app_context():
            pdf = board_pack_pdf(report_for(app), svg, "en")
        with pytest.raises(TimeoutError):
            listener.accept()
    assert pdf.startswith(b"%PDF")
    refused = [url for url, served in fetched if not served]
    assert refused == [outside, "file:///etc/passwd"]


def test_hidden_sides_and_filters_are_said(app: Flask, tmp_path: Path) -> None:
    few = {key: {"customer": values["customer"], "employee": values["employee"][:4]} for key, values in ALL.items()}
    seed(app, few)
    report = dataclasses.replace(
        report_for(app), filters=(ResolvedFilter("customer", "customer_type", "Particulier", 1, 1),)
    )
    text = pdf_text(render(app, report), tmp_path)
    assert "Customers: Customer type = Particulier" in text
    assert "too few to show" in text
    assert "None in this wave." in text
    assert "insufficient data" in text


def test_the_file_name_is_safe() -> None:
    def name(slug: str, wave: str) -> str:
        return board_pack_filename(SimpleNamespace(survey=SimpleNamespace(slug=slug), wave=SimpleNamespace(name=wave)))  # type: ignore[arg-type]

    assert name("six-pillars", "2026-Q4") == "six-pillars-2026-Q4-board-pack.pdf"
    assert name("six-pillars", "2026 Q4") == "six-pillars-2026_Q4-board-pack.pdf"
    odd = name("six-pillars", 'été "Q4"/../x;\r\n')
    assert re.fullmatch(r"[A-Za-z0-9._-]+", odd), odd
    assert odd.startswith("six-pillars-ete_") and odd.endswith("-board-pack.pdf")


def test_the_demo_pack_renders_whole(app: Flask, tmp_path: Path) -> None:
    """Its speed is measured by benchmarks/report_speed.py; here, that it is complete."""
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    models = app.extensions["perception"].registries.scoring_models
    with app.app_context():
        with session_scope(app) as session:
            survey = find_survey(session, "six-pillars")
            wave = find_wave(session, survey, "2026-Q4")
            report = gap_report(
                session, survey, wave, items_of(session, survey), models, app.config["REPORTING_THRESHOLD"]
            )
            priorities = importance(session, wave, items_of(session, survey), report)
        with app.test_request_context():
            priority_map = priority_chart_svg(report, priorities, "en")
        pdf = board_pack_pdf(report, chart(report, "en"), "en", priority_map)
    assert board_pack_filename(report) == "six-pillars-2026-Q4-board-pack.pdf"
    assert 5 <= page_count(pdf, tmp_path) <= 9
    text = pdf_text(pdf, tmp_path)
    assert "customer experience barometer" in text and "Perception gaps, wave 2026-Q4" in text
    assert "What to fix first" in text and "Fix first" in text  # the page, and the map's own words


def test_the_board_pack_is_downloaded_from_the_report_and_written_by_the_command(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import sign_in

    seed(app, ALL)
    leader = sign_in(app, "leader")
    assert "/surveys/gaps/waves/w1/report.pdf" in leader.get("/surveys/gaps/waves/w1/report").get_data(as_text=True)
    download = leader.get("/surveys/gaps/waves/w1/report.pdf?lang=fr")
    assert download.mimetype == "application/pdf" and download.data.startswith(b"%PDF")
    assert 'filename="gaps-w1-board-pack.pdf"' in download.headers["Content-Disposition"]
    assert sign_in(app, "employee").get("/surveys/gaps/waves/w1/report.pdf").status_code == 403
    target = tmp_path / "pack.pdf"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["report", "--survey", "gaps", "--wave", "w1", "--format", "pdf", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"%PDF")
    to_terminal = runner.invoke(args=["report", "--survey", "gaps", "--wave", "w1", "--format", "pdf"])
    assert to_terminal.exit_code == 2 and "a PDF goes to a file" in to_terminal.output
