"""A lead prints the wave's public link as a QR code on an A4 poster, in French or English."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import segno
from flask import Flask
from sqlmodel import select

from perception import Delivery
from perception.db import session_scope
from perception.models import Wave
from tests.conftest import sign_in


def public_link(app: Flask) -> str:
    with session_scope(app) as session:
        token = session.exec(select(Wave.public_token)).one()
    return f"http://localhost/p/{token}"


def test_the_lead_gets_the_public_link_as_a_qr_code(app: Flask, core_wave: tuple[str, str]) -> None:
    lead = sign_in(app, "lead")
    page = lead.get("/surveys/core/waves/w1/sending").get_data(as_text=True)
    assert "/surveys/core/waves/w1/qr.svg" in page and "poster.pdf?language=fr" in page
    svg = lead.get("/surveys/core/waves/w1/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    link = public_link(app)
    body = svg.get_data(as_text=True)
    assert f"<title>{link}</title>" in body
    size = (segno.make(link, error="q", micro=False).symbol_size(scale=8, border=4))[0]
    assert f'width="{size}"' in body  # drawn from the code of exactly this link
    assert sign_in(app, "leader").get("/surveys/core/waves/w1/qr.svg").status_code == 403


def test_the_poster_is_an_a4_pdf_with_the_words_the_code_and_the_link(
    app: Flask, core_wave: tuple[str, str], tmp_path: Path
) -> None:
    lead = sign_in(app, "lead")
    response = lead.get("/surveys/core/waves/w1/poster.pdf?language=fr")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename="core-poster-fr.pdf"' in response.headers["Content-Disposition"]
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert "Votre avis sur" in text and "Scannez le code" in text
    assert public_link(app) in text.replace("\n", "").replace(" ", "")
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert "(A4)" in info and re.search(r"^Pages:\s+1$", info, flags=re.MULTILINE)
    english = lead.get("/surveys/core/waves/w1/poster.pdf?language=en")
    pdf.write_bytes(english.data)
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert "Your opinion on" in text


def test_the_qr_channel_delivers_the_code_of_the_link(app: Flask) -> None:
    channel = app.extensions["perception"].registries.channels["qr"]
    uri = channel.deliver(Delivery(url="https://s.example/p/abc", side="customer", language="en", survey_title="S"))
    assert uri.startswith("data:image/svg+xml;base64,") and channel.address_kind is None
