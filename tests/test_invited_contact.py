"""A customer invited at an address on record is offered it, masked, to be contacted about their answers,
instead of typing it again; the full address is read on the server, and public links ask as before."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlmodel import select

from perception import create_app
from perception.alerts import AlertError, KnownAddresses, UnknownContactChoice, check_callback
from perception.contacts import find_contact, forget_contact, import_contacts
from perception.db import session_scope
from perception.invitations import invitation_token, plan_invitations
from perception.models import CallbackRequest, Contact, ContactInvitation, Invitation, Response
from perception.surveys import items_of, parse_definition, store_definition
from perception.waves import create_wave, find_survey, find_wave, open_wave
from perception.web.respond import build_form, mask_email, mask_phone
from tests.conftest import post_form

DEFINITION = {
    "slug": "after",
    "title": {"en": "After your visit", "fr": "Après votre visite"},
    "items": [
        {"key": "recommend", "dimension": "Empathy", "scale": "nps",
         "customer": {"en": "Would you recommend us?", "fr": "Nous recommanderiez-vous ?"},
         "employee": {"en": "Would customers recommend us?", "fr": "Les clients nous recommanderaient-ils ?"}},
    ],
}  # fmt: skip
CONTACTS = (
    "email,phone,language\nana.lopez@example.com,+33 6 12 34 56 42,en\nbea@example.org,,en\n,+44 7700 900123,en\n"
)
BOTH, EMAIL_ONLY, PHONE_ONLY = "ana.lopez@example.com", "bea@example.org", "+447700900123"
ANA_PHONE = "+33612345642"
REFUSED = "Please choose one of the ways to contact you shown on this page."


@pytest.fixture
def invited(app_config: dict[str, object]) -> Iterator[Flask]:
    """A wave whose customers were invited: those with an email by email, the phone-only one by SMS."""
    app = create_app({**app_config, "BASE_URL": "http://perception.test"})
    channels = app.extensions["perception"].registries.channels
    with session_scope(app) as session:
        registries = app.extensions["perception"].registries
        survey = store_definition(session, parse_definition(DEFINITION, registries.scoring_models))
        open_wave(create_wave(session, survey, "w1"))
        import_contacts(session, "customer", CONTACTS.encode())
    for channel in ("email", "sms"):
        with session_scope(app) as session:
            wave = find_wave(session, find_survey(session, "after"), "w1")
            plan_invitations(app, session, wave, "customer", channels[channel])
    yield app
    app.extensions["perception"].engine.dispose()


def link_of(app: Flask, address: str) -> str:
    """The one-time link sent to the contact at this email address or phone number."""
    with session_scope(app) as session:
        salt = session.exec(
            select(ContactInvitation.salt)
            .join(Contact, Contact.id == ContactInvitation.contact_id)
            .where((Contact.email == address) | (Contact.phone == address))
        ).one()
    return f"/r/{invitation_token(app.config['SECRET_KEY'], salt)}"


def public_link(app: Flask) -> str:
    with session_scope(app) as session:
        return f"/p/{find_wave(session, find_survey(session, 'after'), 'w1').public_token}"


def offered(page: str) -> dict[str, str]:
    """The contact choices on the page: each radio button's value and the text of its label."""
    pattern = r'<label class="option"><input[^>]*name="contact_how"[^>]*value="([^"]*)"[^>]*>\s*([^<]*?)\s*</label>'
    return dict(re.findall(pattern, page))


def send(app: Flask, path: str, **contact: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    return post_form(client, path, {"item_recommend": 3, **contact})


def callbacks(app: Flask) -> list[tuple[str, str]]:
    with session_scope(app) as session:
        return [(row.how, row.address) for row in session.exec(select(CallbackRequest))]


def nothing_stored(app: Flask) -> bool:
    with session_scope(app) as session:
        responses = session.exec(select(Response)).all()
        used = session.exec(select(Invitation).where(Invitation.used.is_(True))).all()  # type: ignore[attr-defined]
        return not responses and not used and not session.exec(select(CallbackRequest)).all()


def test_an_invited_customer_chooses_their_email_on_record_and_the_callback_holds_it_in_full(invited: Flask) -> None:
    link = link_of(invited, EMAIL_ONLY)
    page = invited.test_client().get(link).get_data(as_text=True)
    assert offered(page) == {
        "no": "No, thank you",
        "known_email": "Yes, by email (\u2068b•••@example.org\u2069)",  # no phone on record: none offered
        "email": "Yes, by email, at another address",
        "phone": "Yes, by phone",
    }
    assert "Another email address or phone number" in page

    assert send(invited, link, contact_how="known_email").status_code == 302
    assert callbacks(invited) == [("email", EMAIL_ONLY)]


def test_the_address_on_record_is_read_on_the_server_never_from_the_form(invited: Flask) -> None:
    link = link_of(invited, EMAIL_ONLY)
    assert send(invited, link, contact_how="known_email", contact_address="someone.else@example.net").status_code == 302
    assert callbacks(invited) == [("email", EMAIL_ONLY)]


def test_a_contact_with_both_is_offered_both_and_may_be_called(invited: Flask) -> None:
    link = link_of(invited, BOTH)
    page = invited.test_client().get(link).get_data(as_text=True)
    assert list(offered(page).values()) == [
        "No, thank you",
        "Yes, by email (\u2068a•••@example.com\u2069)",
        "Yes, by phone (\u2068••• ••• 42\u2069)",
        "Yes, by email, at another address",
        "Yes, by phone, at another number",
    ]
    assert send(invited, link, contact_how="known_phone").status_code == 302
    assert callbacks(invited) == [("phone", ANA_PHONE)]


def test_a_phone_only_contact_is_offered_their_number(invited: Flask) -> None:
    link = link_of(invited, PHONE_ONLY)
    page = invited.test_client().get(link).get_data(as_text=True)
    assert offered(page) == {
        "no": "No, thank you",
        "known_phone": "Yes, by phone (\u2068••• ••• 23\u2069)",
        "email": "Yes, by email",  # typed in, as on a public link
        "phone": "Yes, by phone, at another number",
    }
    assert send(invited, link, contact_how="known_phone").status_code == 302
    assert callbacks(invited) == [("phone", PHONE_ONLY)]


def test_a_contact_who_prefers_another_address_types_it_and_it_is_checked(invited: Flask) -> None:
    link = link_of(invited, BOTH)
    refused = send(invited, link, contact_how="email", contact_address="not an address")
    assert refused.status_code == 422 and "such as name@example.com" in refused.get_data(as_text=True)
    assert nothing_stored(invited)
    assert send(invited, link, contact_how="email", contact_address="ana.work@example.net").status_code == 302
    assert callbacks(invited) == [("email", "ana.work@example.net")]


def test_a_public_link_still_asks_for_an_address_and_offers_none_on_record(invited: Flask) -> None:
    link = public_link(invited)
    page = invited.test_client().get(link).get_data(as_text=True)
    assert "May we contact you about your answers?" in page
    assert offered(page) == {"no": "No, thank you", "email": "Yes, by email", "phone": "Yes, by phone"}
    assert "Your email address or phone number" in page and "•••" not in page
    assert send(invited, link, contact_how="phone", contact_address="+33 6 00 00 00 01").status_code == 302
    assert callbacks(invited) == [("phone", "+33 6 00 00 00 01")]


@pytest.mark.parametrize(
    ("whose", "forged"),
    [(EMAIL_ONLY, "known_phone"), (PHONE_ONLY, "known_email"), (None, "known_email"), (BOTH, "fax")],
)
def test_a_forged_choice_is_refused_on_the_form_and_nothing_is_stored(
    invited: Flask, whose: str | None, forged: str
) -> None:
    link = link_of(invited, whose) if whose else public_link(invited)
    refused = send(invited, link, contact_how=forged, contact_address="+33 6 99 99 99 99")
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert page.count(REFUSED) == 2  # in the summary at the top, and by the question
    assert 'href="#contact_how-0"' in page
    assert nothing_stored(invited)
    assert send(invited, link, contact_how="no").status_code == 302  # the link still works


def test_the_addresses_on_record_never_show_in_full(invited: Flask) -> None:
    client = invited.test_client()
    link = link_of(invited, BOTH)
    pages = [
        client.get(link).get_data(as_text=True),
        client.get(f"{link}?lang=fr").get_data(as_text=True),
        send(invited, link, contact_how="fax").get_data(as_text=True),  # the page shown again, refused
    ]
    for page in pages:
        assert "a•••@example.com" in page and "••• ••• 42" in page
        for secret in ("ana.lopez", "lopez@", "612345642", "6 12 34", ANA_PHONE):
            assert secret not in page
    assert "Oui, par e-mail (\u2068a•••@example.com\u2069)" in pages[1]
    assert "Oui, par téléphone, à un autre numéro" in pages[1]


def test_a_forgotten_contact_s_link_asks_for_an_address_as_a_public_link_does(invited: Flask) -> None:
    link = link_of(invited, EMAIL_ONLY)
    with session_scope(invited) as session:
        forget_contact(session, find_contact(session, EMAIL_ONLY)[0])
    page = invited.test_client().get(link).get_data(as_text=True)
    assert list(offered(page)) == ["no", "email", "phone"]
    assert "Your email address or phone number" in page and "•••" not in page
    refused = send(invited, link, contact_how="known_email")
    assert refused.status_code == 422 and REFUSED in refused.get_data(as_text=True)


def test_contacts_with_the_same_channels_share_one_form_class_with_their_own_labels(invited: Flask) -> None:
    with session_scope(invited) as session:
        items = items_of(session, find_survey(session, "after"))
    with invited.test_request_context("/"):
        ana = build_form(items, "customer", "en", known=KnownAddresses(email="ana@example.com"))
        bob = build_form(items, "customer", "en", known=KnownAddresses(email="bob@example.net"))
        both = build_form(items, "customer", "en", known=KnownAddresses(email="c@example.com", phone="+3361"))
        public = build_form(items, "customer", "en")
        kiosk = build_form(items, "customer", "en", ask_contact=False, known=KnownAddresses(email="d@example.com"))
        assert type(ana) is type(bob)
        assert len({type(ana), type(both), type(public), type(kiosk)}) == 4
        assert "a•••@example.com" in str(ana.contact_how.choices[1].label)
        assert "b•••@example.net" in str(bob.contact_how.choices[1].label)
        assert [choice.value for choice in public.contact_how.choices] == ["no", "email", "phone"]
        assert "contact_how" not in kiosk


@pytest.mark.parametrize(
    ("address", "masked"),
    [("ana.lopez@example.com", "a•••@example.com"), ("x@y.fr", "x•••@y.fr")],
)
def test_an_email_is_masked_to_its_first_letter_and_domain(address: str, masked: str) -> None:
    assert mask_email(address) == masked


def test_a_phone_number_is_masked_to_its_last_two_digits() -> None:
    assert mask_phone("+33 6 12 34 56 42") == "••• ••• 42"


def test_a_choice_on_record_gives_the_full_address_on_record_or_is_refused() -> None:
    known = KnownAddresses(email="ana@example.com", phone="+33612345642")
    assert check_callback("known_email", "typed@example.net", known) == ("email", "ana@example.com")
    assert check_callback("known_phone", "", known) == ("phone", "+33612345642")
    assert check_callback("email", " other@example.net ", known) == ("email", "other@example.net")
    for how, on_record in (("known_email", None), ("known_phone", KnownAddresses(email="ana@example.com"))):
        with pytest.raises(UnknownContactChoice):
            check_callback(how, "", on_record)
    with pytest.raises(AlertError) as refused:
        check_callback("email", "not an address", known)
    assert not isinstance(refused.value, UnknownContactChoice)
