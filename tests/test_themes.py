"""Themes in verbatims: known themes found in French and English, linked to the scores they explain,
customers beside staff, and nothing read of an employee group below the verbatim threshold."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlmodel import select

from perception import TextAnalyser, Theme, WrittenText, create_app, hookimpl
from perception.db import session_scope
from perception.models import Answer, Item, Response, ResponseSegment, SegmentValue
from perception.plugins import PluginError
from perception.surveys import items_of, parse_definition, store_definition
from perception.themes import theme_report
from perception.waves import create_wave, find_survey, find_wave, open_wave
from perception_plugins.themes import KeyPhraseThemes
from tests.conftest import sign_in

FRENCH = (
    "Les frais bancaires sont trop élevés.",
    "Des frais cachés sur mon compte, inadmissible.",
    "Frais de tenue de compte injustifiés.",
    "Impossible de joindre un conseiller au téléphone.",
    "J'ai attendu quarante minutes au téléphone.",
    "Le téléphone sonne dans le vide, personne ne répond.",
    "Ma conseillère est très à l'écoute.",
    "Conseillère à l'écoute et disponible, merci.",
)
ENGLISH = (
    "The mobile app keeps crashing.",
    "The app crashes every time I log in.",
    "Great app, very easy to use.",
    "Hidden fees everywhere.",
    "The fees are far too high.",
)


def themes_of(texts: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    return {theme.key: theme.mentions for theme in KeyPhraseThemes().themes([WrittenText(text) for text in texts])}


def test_known_french_and_english_themes_are_found_with_the_verbatims_that_mention_them() -> None:
    found = themes_of(FRENCH + ENGLISH)
    assert found["fr:frais"] == (0, 1, 2)
    assert found["fr:téléphone"] == (3, 4, 5)
    assert found["fr:écoute"] == (6, 7) or found["fr:conseiller écoute"] == (6, 7)
    assert set(found["fr:conseiller"]) >= {6, 7}  # "conseillère" and "conseiller" are one lemma
    assert found["en:app"] == (8, 9, 10)
    assert found["en:fee"] == (11, 12)  # "fees", lemmatised
    assert not any(key.split(":")[1] in {"les", "the", "très", "very", "être"} for key in found)  # stop words


def test_the_same_verbatims_give_the_same_themes() -> None:
    texts = [WrittenText(text) for text in FRENCH + ENGLISH]
    assert KeyPhraseThemes().themes(texts) == KeyPhraseThemes().themes(list(texts))


def test_a_verbatim_too_short_to_tell_its_language_follows_the_respondents_page() -> None:
    analyser = KeyPhraseThemes()
    themes = analyser.themes([WrittenText("Chat!", "en"), WrittenText("Chat!", "en")])
    assert [theme.key for theme in themes] == ["en:chat"]


DEFINITION = {
    "slug": "bank",
    "title": {"en": "Bank", "fr": "Banque"},
    "items": [
        {"key": "easy", "dimension": "Time and Effort", "scale": "ces",
         "customer": {"en": "Easy?"}, "employee": {"en": "Easy for customers?"}},
        {"key": "recommend", "dimension": "Loyalty", "scale": "nps",
         "customer": {"en": "Recommend?"}, "employee": {"en": "Would they recommend?"}},
        {"key": "comment", "dimension": "Verbatim", "scale": "text", "required": False,
         "customer": {"en": "Anything else?"}, "employee": {"en": "What would customers say?"}},
    ],
    "segments": {"employee": {"team": ["Counter", "Phone", "Legal"]}},
}  # fmt: skip
# Customers: (comment, recommendation). Fees and the phone go with low scores, the adviser with high.
CUSTOMERS = (
    (FRENCH[0], 2),
    (FRENCH[1], 1),
    (FRENCH[2], 3),
    (FRENCH[3], 4),
    (FRENCH[4], 3),
    (FRENCH[5], 5),
    (FRENCH[6], 10),
    (FRENCH[7], 9),
    ("Conseiller aimable et à l'écoute.", 10),
)
# Staff think customers speak of the branch and of fees, never of the phone.
STAFF = ("Les clients parlent des horaires de l'agence.", "L'agence ferme trop tôt.", "Les frais, sûrement.")


def seed(app: Flask, employees: list[str], customers=CUSTOMERS, staff=STAFF) -> None:  # type: ignore[no-untyped-def]
    models = app.extensions["perception"].registries.scoring_models
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(DEFINITION, models))
        wave = create_wave(session, survey, "w1")
        open_wave(wave)
        items = {item.key: item.id for item in session.exec(select(Item)).all()}
        values = {value.value: value for value in session.exec(select(SegmentValue)).all()}

        def respond(side: str, answers: dict[str, int | str], team: str | None = None) -> None:
            response = Response(wave_id=wave.id, side=side, submitted_on=date(2027, 2, 1),
                                language="fr" if side == "customer" else None)  # fmt: skip
            session.add(response)
            session.flush()
            for key, answer in answers.items():
                value, text = (answer, None) if isinstance(answer, int) else (None, answer)
                session.add(Answer(response_id=response.id, item_id=items[key], wave_id=wave.id, side=side,
                                   value=value, text=text))  # fmt: skip
            if team:
                value = values[team]
                session.add(
                    ResponseSegment(response_id=response.id, attribute_id=value.attribute_id, value_id=value.id)
                )

        for text, recommendation in customers:
            respond("customer", {"recommend": recommendation, "comment": text})
        for index, team in enumerate(employees):
            respond("employee", {"recommend": 8, "comment": staff[index % len(staff)]}, team)


def report(app: Flask, filters=()):  # type: ignore[no-untyped-def]
    with session_scope(app) as session:
        survey = find_survey(session, "bank")
        wave = find_wave(session, survey, "w1")
        analyser = app.extensions["perception"].registries.text_analysers["key-phrases"]
        return theme_report(session, wave, items_of(session, survey, wave), filters, 10, analyser)


def test_themes_carry_their_volume_and_the_average_recommendation_they_explain(app: Flask) -> None:
    seed(app, ["Counter"] * 6 + ["Phone"] * 6)
    found = report(app)
    rows = {row.key: row for row in found.themes}
    fees = rows["fr:frais"].customer
    assert (fees.volume, fees.scored) == (3, 3)
    assert fees.mean == pytest.approx(2.0)  # NPS 2, 1, 3 on a 0-10 scale
    assert rows["fr:téléphone"].customer.mean == pytest.approx(4.0)
    # Listening advisers please (10, 9, 10); "conseiller" alone also counts one who could not be reached.
    assert "écoute" in found.happiest[0].key and found.happiest[0].customer.mean == pytest.approx(29 / 3)
    assert {row.key for row in found.irritating} >= {"fr:frais", "fr:téléphone"}
    assert "fr:frais" not in {row.key for row in found.happiest}


def test_a_why_follow_up_explains_the_score_of_its_own_item(app: Flask) -> None:
    seed(app, ["Counter"] * 12, customers=())
    with session_scope(app) as session:
        survey = find_survey(session, "bank")
        wave = find_wave(session, survey, "w1")
        easy = session.exec(select(Item).where(Item.key == "easy")).one()
        for value in (1, 1, 7):  # CES 1-7: 1 is 0 out of 10, 7 is 10
            response = Response(wave_id=wave.id, side="customer", submitted_on=date(2027, 2, 1), language="fr")
            session.add(response)
            session.flush()
            session.add(Answer(response_id=response.id, item_id=easy.id, wave_id=wave.id, side="customer",
                               value=value, text="Démarches compliquées"))  # fmt: skip
    row = next(row for row in report(app).themes if "démarche" in row.key)
    assert row.customer.mean == pytest.approx(10 / 3)


def test_weak_signals_are_rare_themes_with_extreme_scores(app: Flask) -> None:
    many = tuple((f"Accueil correct, dossier numéro {index}.", 7) for index in range(40))
    rare = (("Carte bloquée à l'étranger.", 0), ("Ma carte bloquée en vacances.", 1))
    seed(app, ["Counter"] * 12, customers=many + rare)
    found = report(app)
    assert [row.label for row in found.weak_signals] == ["carte bloquée"]
    assert "fr:accueil" not in {row.key for row in found.weak_signals}


def test_staff_themes_stand_beside_customers_themes(app: Flask) -> None:
    seed(app, ["Counter"] * 6 + ["Phone"] * 6)
    found = report(app)
    mirror = {row.key: row for row in found.side_by_side}
    assert mirror["fr:agence"].employee.volume == 8 and mirror["fr:agence"].customer.volume == 0
    assert mirror["fr:téléphone"].employee.volume == 0 and mirror["fr:téléphone"].customer.share == pytest.approx(3 / 9)
    assert mirror["fr:frais"].employee.volume == 4
    page = sign_in(app, "leader").get("/surveys/bank/waves/w1/themes").get_data(as_text=True)
    assert "What customers talk about, and what staff think they talk about" in page
    assert "agence" in page


def test_a_group_of_three_employees_shows_nothing_of_what_they_wrote(app: Flask) -> None:
    seed(app, ["Counter"] * 6 + ["Phone"] * 6 + ["Legal"] * 3)
    leader = sign_in(app, "leader")
    whole = leader.get("/surveys/bank/waves/w1/themes").get_data(as_text=True)
    assert "agence" in whole  # fifteen employees: their themes show
    asked = leader.get("/surveys/bank/waves/w1/themes?segment=employee:team=Legal")
    text = asked.get_data(as_text=True)
    assert asked.status_code in (200, 400)
    assert "agence" not in text and "horaires" not in text
    with session_scope(app) as session:
        from perception.segments import SegmentFilter, resolve

        filters = resolve(session, find_survey(session, "bank"), [SegmentFilter("employee", "team", "Legal")])
    found = report(app, filters)
    assert found.employee_hidden and found.side_by_side == []
    assert all(row.employee is None for row in found.themes)


def test_three_employees_in_all_are_never_read(app: Flask) -> None:
    seed(app, ["Counter"] * 3)
    found = report(app)
    assert found.verbatims["employee"] is None
    assert "fr:agence" not in {row.key for row in found.themes}
    page = sign_in(app, "lead").get("/surveys/bank/waves/w1/themes").get_data(as_text=True)
    assert "at least 10 responses" in page and "agence" not in page


def test_hostile_verbatims_are_shown_as_text(app: Flask) -> None:
    hostile = '<script>alert("frais")</script> Frais <img src=x onerror=alert(1)>'
    seed(app, ["Counter"] * 12, customers=((hostile, 0), (hostile, 1), *CUSTOMERS))
    page = sign_in(app, "leader").get("/surveys/bank/waves/w1/themes").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert" in page


def test_the_themes_page_speaks_french_and_is_linked_from_the_report_and_the_verbatims(app: Flask) -> None:
    seed(app, ["Counter"] * 12)
    leader = sign_in(app, "leader", language="fr")
    page = leader.get("/surveys/bank/waves/w1/themes")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Thèmes des verbatims" in text and "Ce qui rend les clients les plus heureux" in text
    link = "/surveys/bank/waves/w1/themes"
    assert link in leader.get("/surveys/bank/waves/w1/report").get_data(as_text=True)
    assert link in leader.get("/surveys/bank/waves/w1/verbatims").get_data(as_text=True)
    assert sign_in(app, "employee").get(link).status_code == 403
    assert leader.get(link + "?segment=employee:nothing=x").status_code == 400


class Letters(TextAnalyser):
    """Groups verbatims by their first letter: a theme any test can predict."""

    name = "first-letter"
    label = {"en": "First letter", "fr": "Première lettre"}

    def themes(self, texts: list[WrittenText]) -> list[Theme]:  # type: ignore[override]
        groups: dict[str, list[int]] = {}
        for index, text in enumerate(texts):
            groups.setdefault(text.text[:1].lower(), []).append(index)
        return [Theme(f"en:{letter}", letter.upper(), "en", tuple(held)) for letter, held in sorted(groups.items())]


class LettersPlugin:
    @hookimpl
    def perception_register_text_analysers(self) -> list[TextAnalyser]:
        return [Letters()]


def test_hook_perception_register_text_analysers(app_config: dict) -> None:
    app = create_app({**app_config, "TEXT_ANALYSER": "first-letter"}, plugins=[LettersPlugin()])
    assert set(app.extensions["perception"].registries.text_analysers) == {"first-letter", "key-phrases"}
    seed(app, ["Counter"] * 12)
    page = sign_in(app, "leader").get("/surveys/bank/waves/w1/themes").get_data(as_text=True)
    assert "Themes found by: First letter." in page
    with pytest.raises(PluginError, match="two plugins register a text analyser named 'first-letter'"):
        create_app(app_config, plugins=[LettersPlugin(), type("Again", (LettersPlugin,), {})()])


@pytest.mark.browser
def test_the_themes_page_has_no_accessibility_violations(app: Flask, browser, live_server: str) -> None:  # type: ignore[no-untyped-def]
    from tests.browsing import new_context
    from tests.conftest import make_account
    from tests.test_accessibility import violations
    from tests.test_browser import PHONE
    from tests.test_browser import sign_in as sign_in_page

    seed(app, ["Counter"] * 6 + ["Phone"] * 6)
    email = make_account(app, "leader")
    for options in (PHONE, {"viewport": {"width": 1280, "height": 900}}):
        context = new_context(browser, live_server, locale="en-US", **options)
        page = context.new_page()
        sign_in_page(page, email)
        page.goto("/surveys/bank/waves/w1/themes")
        assert violations(page) == [], options
        context.close()
