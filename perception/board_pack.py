"""The board pack: the gap report as a printable PDF, in the reader's language.

The page is rendered from ``templates/board_pack.html`` with the app's Jinja environment (the same
helpers and translations as the on-screen report) and turned into a PDF by WeasyPrint. The PDF
must stand on its own and must never reach out: the stylesheet is read from the static folder
and inlined, the chart comes in as a ``data:`` URL, and the URL fetcher refuses everything else,
so text a respondent or a lead typed (item wordings, titles, segment values) can never make the
renderer open a file or a URL, whatever it contains.

WeasyPrint is imported inside the functions: importing it loads Pango, HarfBuzz and their
Python bindings, which most requests and CLI commands never need.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app, has_request_context, render_template
from flask_babel import force_locale, format_date
from markupsafe import Markup

from perception.report import VERDICTS, GapReport

__all__ = ["VERDICT_SYMBOLS", "OfflineFetchError", "board_pack_filename", "board_pack_pdf", "data_only_fetcher"]

STYLESHEET = "board_pack.css"
# The same symbols as the on-screen verdict badges, so the pack reads in black and white.
VERDICT_SYMBOLS = {"blind_spot": "▲", "hidden_strength": "▼", "aligned": "=", "insufficient_data": "…"}
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class OfflineFetchError(ValueError):
    """Raised for any URL but ``data:`` while a board pack is rendered."""


def data_only_fetcher() -> Any:
    """A WeasyPrint URL fetcher that serves ``data:`` URLs and refuses every other URL.

    WeasyPrint catches the error, logs a warning and leaves the resource out; nothing is
    fetched from the network or the file system.
    """
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # pragma: no cover - WeasyPrint before fetchers became classes
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
            _check_data_url(url)
            return default_url_fetcher(url, *args, **kwargs)

        return fetch

    class DataOnlyFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            _check_data_url(url)
            return super().fetch(url, headers)

    return DataOnlyFetcher(allowed_protocols=("data",), allow_redirects=False)


def _check_data_url(url: str) -> None:
    if not url.strip().lower().startswith("data:"):
        raise OfflineFetchError(f"the board pack loads nothing but data: URLs, not {url[:200]!r}")


def board_pack_pdf(report: GapReport, chart_svg: str, language: str, priority_svg: str | None = None) -> bytes:
    """The board pack of ``report`` as PDF bytes, in ``language`` ("en" or "fr").

    ``chart_svg`` is the dumbbell chart of the same report (``perception.charts.dumbbell_svg``),
    drawn by the caller in the same language; ``priority_svg``, when given, the priority map
    (``perception.charts.priority_svg``) for a page on what to fix first. Needs an application
    context; a request context
    is pushed when there is none, since templates and translations expect one.
    """
    from weasyprint import HTML

    with ExitStack() as stack:
        if not has_request_context():
            stack.enter_context(current_app.test_request_context())
        stack.enter_context(force_locale(language))
        static_folder = Path(current_app.static_folder or "")
        html = render_template(
            "board_pack.html",
            report=report,
            survey=report.survey,
            wave=report.wave,
            stylesheet=_inline_css((static_folder / STYLESHEET).read_text(encoding="utf-8")),
            chart_src=_data_uri(chart_svg),
            priority_src=_data_uri(priority_svg) if priority_svg else None,
            generated_on=format_date(date.today(), format="long"),
            verdict_counts={verdict: sum(row.verdict == verdict for row in report.rows) for verdict in VERDICTS},
            verdict_symbols=VERDICT_SYMBOLS,
            language=language,
        )
    # Relative references resolve under the static folder, where the fetcher refuses them anyway:
    # nothing in the pack should need one.
    document = HTML(string=html, base_url=static_folder.as_uri() + "/", url_fetcher=data_only_fetcher())
    return document.write_pdf()


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _inline_css(css: str) -> Markup:
    """Our own stylesheet, safe to put in a <style> element as it is (no HTML escaping there)."""
    return Markup(css.replace("</", "<\\/"))


def board_pack_filename(report: GapReport) -> str:
    """A download name such as ``six-pillars-2026-Q4-board-pack.pdf``: ASCII letters, digits, ``._-``."""
    name = f"{report.survey.slug}-{report.wave.name}".replace(" ", "_")
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = _UNSAFE_FILENAME.sub("_", name).strip("._") or "report"
    return f"{name}-board-pack.pdf"
