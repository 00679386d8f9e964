"""A believable demo company: a French regional bank, its customers and its staff.

Staff over-rate some items (blind spots: first-contact resolution, effort, knowing the
customer, the recommendation) and under-rate others (hidden strengths: empathy, fee
transparency); the rest agree within noise. Running it again adds nothing.
"""

from __future__ import annotations

import os
import random
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlmodel import Session, select

from perception.accounts import create_account
from perception.db import session_scope
from perception.models import (
    Account,
    Alert,
    Answer,
    CallbackRequest,
    Idea,
    IdeaComparison,
    IdeaDecision,
    IdeaSupport,
    Item,
    Response,
    ResponseSegment,
    Story,
    StoryPerson,
    Wave,
)
from perception.scales import SCALES
from perception.segments import DeclaredAttribute, declared
from perception.surveys import items_of, parse_definition, store_definition
from perception.waves import create_wave, find_survey, open_wave

COMPANY = "Banque des Trois Rivières"
DEMO_SLUG = "six-pillars"
DOMAIN = "trois-rivieres.example"
ROLE_ACCOUNTS = (
    ("admin", f"admin@{DOMAIN}", "Camille Admin"),
    ("lead", f"lead@{DOMAIN}", "Claire Dubois"),
    ("leader", f"leader@{DOMAIN}", "Marc Lefèvre"),
    ("employee", f"employee@{DOMAIN}", "Sami Benali"),
)
# Where the staff's estimate sits against the customers' answers, in scale points.
EMPLOYEE_SHIFT = {
    "resolution_first_contact": 1.3,
    "effort": 1.8,
    "time_no_repeat": 1.1,
    "personal_knows_me": 1.2,
    "recommend": 2.0,
    "integrity_transparency": -0.9,
    "empathy_understands": -0.8,
    "empathy_cares": -0.9,
}
# What customers felt change in the second wave, once an idea was implemented in between: the
# shared file means they no longer send the same papers twice (see DEMO_IDEAS).
CUSTOMER_PROGRESS = {"time_no_repeat": 0.9}
# How much each item follows a customer's overall mood, and so their recommendation (default 0.3):
# first-contact resolution and effort matter most here, which makes them blind spots to fix first.
LOADING = {
    "recommend": 0.95,
    "resolution_first_contact": 0.8,
    "effort": 0.75,
    "resolution_satisfaction": 0.7,
    "empathy_understands": 0.65,
    "integrity_trust": 0.6,
    "time_no_repeat": 0.55,
    "expectations_met": 0.5,
}
CUSTOMER_MEAN = {"likert5": 3.4, "csat": 3.7, "ces": 4.1, "nps": 7.0}
SPREAD = {"likert5": 0.9, "csat": 0.9, "ces": 1.3, "nps": 2.0}
VERBATIMS = (
    "Conseillère très à l'écoute, mais j'ai dû rappeler trois fois pour mon prêt.",
    "L'application est pratique, les frais restent opaques.",
    "On me redemande toujours les mêmes justificatifs.",
    "Très bon accueil en agence, merci à l'équipe de Saumur.",
    "Difficile de joindre quelqu'un au téléphone le samedi.",
    "My adviser knew exactly what I needed for the mortgage.",
)
# What staff think customers would tell us: the same subjects in part, never the repeated paperwork.
EMPLOYEE_VERBATIMS = (
    "Les clients trouvent nos frais opaques.",
    "Ils trouvent l'application pratique.",
    "Difficile de nous joindre au téléphone le samedi.",
    "Les clients apprécient l'accueil en agence.",
    "Ils voudraient un conseiller qui connaît leur dossier.",
    "Customers would say the app is easy to use.",
    "Les frais de tenue de compte reviennent souvent.",
)
EMPLOYEE_WRITES_EVERY = 4  # one employee response in four carries a verbatim
SEGMENTS = {
    "employee": {
        "department": ["Agences", "Centre de relation client", "Crédit", "Back-office"],
        "customer_facing": ["oui", "non"],
    },
    "customer": {"customer_type": ["Particulier", "Professionnel"], "region": ["Anjou", "Touraine", "Berry"]},
}
# How often each value is drawn, in the order above.
SEGMENT_WEIGHTS = {
    "department": (45, 30, 15, 10),
    "customer_facing": (70, 30),
    "customer_type": (80, 20),
    "region": (50, 30, 20),
}
WAVES = (
    ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30), 260, 70),
    ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31), 320, 85),
)


def _answer(rng: random.Random, item: Item, side: str, wave_index: int, mood: float) -> int:
    """One answer: the respondent's overall mood weighs on each item as much as the item matters."""
    scale = SCALES[item.scale]
    mean = CUSTOMER_MEAN[item.scale]
    if side == "employee":
        mean += EMPLOYEE_SHIFT.get(item.key, 0.0)
    mean += 0.15 * wave_index  # customers see a little progress from one quarter to the next
    if side == "customer" and wave_index > 0:
        mean += CUSTOMER_PROGRESS.get(item.key, 0.0)
    weight = LOADING.get(item.key, 0.3)
    noise = weight * mood + (1 - weight**2) ** 0.5 * rng.gauss(0, 1)
    value = round(mean + SPREAD[item.scale] * noise)
    return min(max(value, scale.low or 0), scale.high or 0)


def _seed_answers(
    session: Session,
    wave_id: int,
    items: list[Item],
    side: str,
    count: int,
    on: date,
    wave_index: int,
    rng: random.Random,
    segments: list[DeclaredAttribute],
) -> None:
    for index in range(count):
        response = Response(
            wave_id=wave_id,
            side=side,
            submitted_on=on,
            language=None if side == "employee" else rng.choice(("fr", "fr", "fr", "en")),
        )
        session.add(response)
        session.flush()
        for attribute in segments:
            [(value_id, _value)] = rng.choices(attribute.values, weights=SEGMENT_WEIGHTS[attribute.name])
            session.add(ResponseSegment(response_id=response.id, attribute_id=attribute.id, value_id=value_id))
        mood = rng.gauss(0, 1)
        for item in items:
            if SCALES[item.scale].is_text:
                if side == "customer" and rng.random() < 0.15:
                    session.add(Answer(response_id=response.id, item_id=item.id, wave_id=wave_id, side=side,
                                       text=rng.choice(VERBATIMS)))  # fmt: skip
                elif side == "employee" and index % EMPLOYEE_WRITES_EVERY == 0:
                    text = EMPLOYEE_VERBATIMS[index // EMPLOYEE_WRITES_EVERY % len(EMPLOYEE_VERBATIMS)]
                    session.add(Answer(response_id=response.id, item_id=item.id, wave_id=wave_id, side=side, text=text))
                continue
            value = _answer(rng, item, side, wave_index, mood)
            session.add(Answer(response_id=response.id, item_id=item.id, wave_id=wave_id, side=side, value=value))


def _credentials(app: Flask) -> dict[str, str]:
    """Demo passwords, made once and kept in the instance folder so that a rerun shows the same."""
    path = Path(app.instance_path) / "demo-accounts.txt"
    known: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 3:
                known[parts[1]] = parts[2]
    missing = [email for _, email, _ in ROLE_ACCOUNTS if email not in known]
    if missing:
        for email in missing:
            known[email] = secrets.token_urlsafe(9)
        lines = [f"{role} {email} {known[email]}" for role, email, _ in ROLE_ACCOUNTS]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    return known


# The closed loop of the latest wave: (status, hours since opened, resolution, kept, contact).
DEMO_ALERTS = (
    (
        "resolved",
        30,
        "Rappelée le jour même ; frais remboursés et conseiller attitré désigné.",
        True,
        ("phone", "06 12 34 56 78"),
    ),
    ("in_progress", 20, None, None, ("email", "client.mecontent@example.com")),
    ("open", 60, None, None, None),
    ("closed_without_contact", 70, "Aucune coordonnée laissée ; remonté à l'équipe crédit.", None, None),
)
DEMO_STORIES = (
    (
        "Le prêt débloqué un samedi",
        "Empathy",
        "Une cliente devait signer l'achat de sa maison le lundi ; son prêt était bloqué par une pièce manquante.",
        "Sami a repéré l'alerte vendredi soir, a appelé la cliente samedi et obtenu la pièce auprès du notaire.",
        "Le prêt a été débloqué à temps ; la cliente a écrit pour remercier l'agence.",
        "Une alerte lue le jour même vaut mieux qu'un processus parfait lu le lundi.",
    ),
    (
        "Trois appels pour un même dossier",
        "Resolution",
        "Un client a dû raconter trois fois son litige de carte à trois conseillers différents.",
        "Claire a pris le dossier en main, l'a résolu en un appel et a ajouté une note partagée.",
        "Le client a été remboursé en 48 heures et recommande désormais l'agence.",
        "Le dossier suit le client, pas l'inverse : la note partagée est devenue la règle.",
    ),
)


def _seed_closed_loop(session: Session, wave: Wave, items: list[Item]) -> None:
    """A few alerts on the latest wave's detractors, and best-failure stories told from them."""
    recommend = next((item for item in items if item.scale == "nps"), None)
    if recommend is None:
        return
    detractors = session.exec(
        select(Answer.response_id)
        .where(Answer.wave_id == wave.id, Answer.item_id == recommend.id, Answer.side == "customer", Answer.value <= 6)  # type: ignore[operator]
        .order_by(Answer.response_id)
        .limit(len(DEMO_ALERTS))
    ).all()
    lead = session.exec(select(Account).where(Account.role == "lead")).first()
    employee = session.exec(select(Account).where(Account.role == "employee")).first()
    now = datetime.now(UTC)
    alerts = []
    for response_id, (status, hours, resolution, kept, contact) in zip(detractors, DEMO_ALERTS, strict=False):
        value = session.exec(
            select(Answer.value).where(Answer.response_id == response_id, Answer.item_id == recommend.id)
        ).one()
        opened = now - timedelta(hours=hours)
        closed = opened + timedelta(hours=hours // 2) if status in ("resolved", "closed_without_contact") else None
        alert = Alert(
            kind="answer", survey_id=wave.survey_id, wave_id=wave.id, item_id=recommend.id,  # type: ignore[arg-type]
            response_id=response_id, value=value, touchpoint=recommend.touchpoint, dimension=recommend.dimension,
            status=status, owner_id=lead.id if lead and status != "open" else None, opened_at=opened,
            due_at=opened + timedelta(hours=48), closed_at=closed, resolution=resolution, customer_kept=kept,
            minutes_to_close=(hours // 2) * 60 if closed else None,
        )  # fmt: skip
        session.add(alert)
        if contact is not None:
            session.add(CallbackRequest(response_id=response_id, how=contact[0], address=contact[1]))
        alerts.append(alert)
    session.flush()
    for index, (title, dimension, problem, action, outcome, lesson) in enumerate(DEMO_STORIES):
        story = Story(
            author_id=(employee or lead).id if (employee or lead) else None, title=title, problem=problem,
            action=action, outcome=outcome, lesson=lesson, dimension=dimension, state="published",
            alert_id=alerts[0].id if index == 0 and alerts else None, touchpoint=recommend.touchpoint,
            created_at=now - timedelta(days=3), submitted_at=now - timedelta(days=2),
            published_at=now - timedelta(days=1, hours=index), published_by=lead.id if lead else None,
        )  # fmt: skip
        session.add(story)
        session.flush()
        if lead is not None:
            session.add(StoryPerson(story_id=story.id, account_id=lead.id))  # type: ignore[arg-type]


def seed_demo(app: Flask) -> list[tuple[str, str, str]]:
    """Create what is missing of the demo; return (role, email, password) for each account."""
    passwords = _credentials(app)
    registries = app.extensions["perception"].registries
    with session_scope(app) as session:
        for role, email, name in ROLE_ACCOUNTS:
            account = session.exec(select(Account).where(Account.email == email)).first()
            if account is None:
                create_account(
                    session,
                    email,
                    role,
                    passwords[email],
                    name=name,
                    language="fr" if role != "admin" else "en",
                )
        if find_survey(session, DEMO_SLUG) is None:
            definition = dict(registries.survey_templates["six-pillars"].definition)
            definition["slug"] = DEMO_SLUG
            definition["segments"] = SEGMENTS
            definition["title"] = {
                "en": f"{COMPANY}: customer experience barometer",
                "fr": f"{COMPANY} : baromètre de l'expérience client",
            }
            survey = store_definition(session, parse_definition(definition, registries.scoring_models))
            items = items_of(session, survey)
            rng = random.Random(2026)
            for index, (name, opens_on, closes_on, customers, employees) in enumerate(WAVES):
                wave = create_wave(session, survey, name, "cold", opens_on, closes_on)
                wave.state = "closed" if closes_on < datetime.now(UTC).date() or index == 0 else "draft"
                if wave.state == "draft":
                    open_wave(wave)
                day = min(closes_on, datetime.now(UTC).date())
                for side, count in (("customer", customers), ("employee", employees)):
                    segments = declared(session, survey, side)
                    _seed_answers(session, wave.id, items, side, count, day, index, rng, segments)
            _seed_closed_loop(session, wave, items)
            accounts = {
                account.role: account.id for account in session.exec(select(Account)) if account.email.endswith(DOMAIN)
            }
            _seed_ideas(session, survey.id, accounts)
    return [(role, email, passwords[email]) for role, email, _ in ROLE_ACCOUNTS]


# The idea box of the demo: ideas on the blind spots, in French and English, one of them
# implemented between the two waves, so that its page shows the gap before and after.
DEMO_IDEAS = (
    {
        "title": "Ne plus redemander les justificatifs déjà fournis",
        "body": "Les clients nous envoient **trois fois** les mêmes pièces. Un dossier partagé entre agence, "
        "crédit et back-office éviterait de les redemander.",
        "item": "time_no_repeat",
        "decisions": (
            ("under_review", date(2026, 8, 4), "Le back-office chiffre le dossier partagé."),
            ("accepted", date(2026, 8, 25), "Validé par le comité de direction."),
            ("implemented", date(2026, 9, 20), "Le dossier partagé est en service dans toutes les agences."),
        ),
        "supporters": ("lead", "leader"),
    },
    {
        "title": "Un seul numéro pour joindre son conseiller",
        "body": "Aujourd'hui un client compose en moyenne deux numéros avant de parler à la bonne personne.",
        "item": "resolution_first_contact",
        "decisions": (("in_progress", date(2026, 11, 3), "Pilote en Touraine jusqu'à fin décembre."),),
        "supporters": ("employee", "lead"),
    },
    {
        "title": "Rappeler sous 24 heures toute réclamation",
        "body": "Un engagement simple, affiché en agence et tenu : un appel dans la journée.",
        "dimension": "Resolution",
        "anonymous": True,
        "supporters": ("leader",),
    },
    {
        "title": "Show the fee schedule in the app before each operation",
        "body": "Customers find our fees opaque. Showing the fee *before* they confirm would settle most complaints.",
        "item": "integrity_transparency",
        "decisions": (("under_review", date(2026, 11, 20), "The digital team is looking at it."),),
        "supporters": ("employee",),
    },
    {
        "title": "Ouvrir le centre de relation client le samedi matin",
        "body": "Beaucoup de clients ne peuvent appeler que le samedi.",
        "dimension": "Time and Effort",
        "supporters": (),
    },
)


def _seed_ideas(session: Session, survey_id: int, accounts: dict[str, int]) -> None:
    """Ideas, supports, decisions and pairwise answers, each once."""
    items = {item.key: item for item in session.exec(select(Item).where(Item.survey_id == survey_id))}
    ideas = []
    for spec in DEMO_IDEAS:
        item = items.get(spec.get("item", ""))
        idea = Idea(
            title=spec["title"],
            body=spec["body"],
            author_id=None if spec.get("anonymous") else accounts["employee"],
            survey_id=survey_id,
            item_id=item.id if item else None,
            dimension=item.dimension if item else spec.get("dimension"),
            touchpoint=item.touchpoint if item else None,
            created_on=date(2026, 7, 20),
        )
        session.add(idea)
        session.flush()
        ideas.append(idea)
        for role in spec["supporters"]:
            session.add(IdeaSupport(idea_id=idea.id, account_id=accounts[role], created_at=datetime.now(UTC)))
        for state, day, answer in spec.get("decisions", ()):
            decision = IdeaDecision(
                idea_id=idea.id,
                lead_id=accounts["lead"],
                from_state=idea.state,
                to_state=state,
                answer=answer,
                created_at=datetime(day.year, day.month, day.day, 10, tzinfo=UTC),
            )
            idea.state = state
            session.add_all([idea, decision])
    # Pairwise answers drawn from preferences 3 : 2 : 1 among the ideas still open to votes.
    rng = random.Random(2027)
    open_ideas = [idea for idea in ideas if idea.state in ("submitted", "under_review")]
    strength = {idea.id: 3 - index for index, idea in enumerate(open_ideas)}
    for _ in range(24):
        first, second = rng.sample(open_ideas, 2)
        chance = strength[first.id] / (strength[first.id] + strength[second.id])
        winner, loser = (first, second) if rng.random() < chance else (second, first)
        session.add(IdeaComparison(winner_id=winner.id, loser_id=loser.id, created_on=date(2026, 11, 25)))
