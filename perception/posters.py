"""QR codes of a wave's links, and a printable A4 poster that carries one, for a counter or a shop window.

The QR code is drawn by segno as SVG, so it stays sharp at any print size; the poster is HTML
rendered by WeasyPrint, with nothing fetched from outside (the code is inlined as a data URL).
"""

from __future__ import annotations

import base64
import io

import segno
from flask import render_template
from flask_babel import force_locale

from perception.board_pack import data_only_fetcher


def qr_svg(url: str, scale: int = 8) -> str:
    """The link as a QR code in SVG, with error correction high enough to survive a scuffed print."""
    code = segno.make(url, error="q", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True, title=url)
    return buffer.getvalue().decode("utf-8")


def qr_data_uri(url: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(url).encode("utf-8")).decode("ascii")


def poster_pdf(url: str, survey_title: str, language: str) -> bytes:
    """An A4 poster: the invitation in words, the QR code and the link (inside a request context)."""
    from weasyprint import HTML

    with force_locale(language):
        html = render_template(
            "dispatch/poster.html", url=url, survey_title=survey_title, qr_src=qr_data_uri(url), language=language
        )
    return HTML(string=html, url_fetcher=data_only_fetcher()).write_pdf()
