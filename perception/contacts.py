"""Contacts: the customers and employees a company may invite, imported from CSV.

A file is checked whole before anything is stored, and every bad line is reported with its number
(as a spreadsheet numbers it, the header being line 1) and the reason; a file with any fault
stores nothing. Lines naming the same person (the same email, or the same phone without an email)
are merged, later cells winning, and a person already known is updated rather than duplicated.
A good file is stored with a few bulk statements, not an object per row, so that a base of a
hundred thousand contacts imports in seconds.

Unsubscribing is honoured at once (every send checks it), and forgetting a contact deletes the
person while the responses, which never point at a contact, keep the aggregates whole.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlmodel import Session, func

from perception.imports import ImportRefused, decode_csv, sniff_delimiter
from perception.models import Contact, ContactSegment, SegmentAttribute, SegmentValue, Survey
from perception.signing import sign_id, signed_id
from perception.types import LANGUAGES, SIDES

FIELDS: tuple[str, ...] = ("email", "phone", "language")
SEGMENT_PREFIX = "segment:"
CHUNK_ROWS = 5000
MAX_FILE_BYTES = 64 * 1024 * 1024

# What a lead's spreadsheet is likely to call each field, when no mapping is given.
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "mail", "courriel", "email address", "adresse e-mail"),
    "phone": ("phone", "mobile", "telephone", "téléphone", "portable", "phone number"),
    "language": ("language", "lang", "langue", "locale"),
}
LANGUAGE_NAMES: Mapping[str, str] = {
    "en": "en",
    "english": "en",
    "anglais": "en",
    "fr": "fr",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
}
EMAIL_PATTERN = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{4,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
PHONE_SEPARATORS = re.compile(r"[\s.()\-/\u00a0]")
E164_PATTERN = re.compile(r"^\+[1-9][0-9]{7,14}$")


class ContactError(ValueError):
    """A contact or a mapping cannot be used as given."""


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    merged_lines: int  # lines that named a person already named higher up in the file
    ignored_columns: tuple[str, ...]


def normalise_email(raw: str) -> str:
    """The address in lower case; ContactError when it is not one."""
    value = raw.strip()
    if not EMAIL_PATTERN.match(value) or ".." in value:
        raise ContactError(f"{raw!r} is not an email address")
    return value.lower()


def normalise_phone(raw: str) -> str:
    """The number in E.164 (``+33612345678``); spaces, dots, dashes and brackets are dropped."""
    value = PHONE_SEPARATORS.sub("", raw)
    if value.startswith("00"):
        value = "+" + value[2:]
    if not E164_PATTERN.match(value):
        raise ContactError(f"{raw!r} is not a phone number in international form, like +33 6 12 34 56 78")
    return value


def normalise_language(raw: str) -> str:
    value = raw.strip().lower()
    language = LANGUAGE_NAMES.get(value) or LANGUAGE_NAMES.get(value.replace("_", "-").split("-")[0])
    if language is None:
        raise ContactError(f"{raw!r} is not a language perception speaks (en or fr)")
    return language


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """``field=Column`` pairs (``email=E-mail``, ``segment:region=Region``) as a mapping."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        target, sep, column = pair.partition("=")
        target, column = target.strip(), column.strip()
        if not sep or not target or not column:
            raise ContactError(f"{pair!r} is not a mapping; write field=Column, e.g. email=E-mail")
        if target not in FIELDS and not (target.startswith(SEGMENT_PREFIX) and len(target) > len(SEGMENT_PREFIX)):
            raise ContactError(f"{target!r} is not a contact field; map email, phone, language or segment:NAME")
        if target in mapping:
            raise ContactError(f"{target} is mapped twice")
        mapping[target] = column
    return mapping


def declared_segments(session: Session, kind: str, survey: Survey | None = None) -> dict[str, dict[str, str]]:
    """Segment attributes declared for a side (by one survey, or by any), with their values.

    Values map from their lower-case form to the declared spelling, so ``paris`` is stored as ``Paris``.
    """
    statement = (
        select(SegmentAttribute.name, SegmentValue.value)
        .join(SegmentValue, SegmentValue.attribute_id == SegmentAttribute.id)
        .where(SegmentAttribute.side == kind)
    )
    if survey is not None:
        statement = statement.where(SegmentAttribute.survey_id == survey.id)
    segments: dict[str, dict[str, str]] = {}
    for name, value in session.execute(statement):
        segments.setdefault(name, {})[value.lower()] = value
    return segments


@dataclass
class _Record:
    line: int
    email: str | None
    phone: str | None
    language: str | None
    segments: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Layout:
    columns: Mapping[str, int]  # field or segment:NAME -> column index
    ignored: tuple[str, ...]
    width: int


def _layout(header: Sequence[str], mapping: Mapping[str, str] | None, segments: Mapping[str, object]) -> _Layout:
    names = [name.strip() for name in header]
    position = {name.lower(): index for index, name in enumerate(names) if name}
    problems = []
    columns: dict[str, int] = {}
    if mapping:
        for target, column in mapping.items():
            index = position.get(column.lower())
            if index is None:
                problems.append(f"line 1: no column {column!r} (for {target}); the file has: {', '.join(names)}")
                continue
            columns[target] = index
    else:
        for target, aliases in FIELD_ALIASES.items():
            for alias in aliases:
                if alias in position:
                    columns[target] = position[alias]
                    break
        for name in segments:
            for candidate in (name.lower(), f"{SEGMENT_PREFIX}{name.lower()}"):
                if candidate in position and position[candidate] not in columns.values():
                    columns[f"{SEGMENT_PREFIX}{name}"] = position[candidate]
    for target in columns:
        if target.startswith(SEGMENT_PREFIX) and target[len(SEGMENT_PREFIX) :] not in segments:
            known = ", ".join(sorted(segments)) or "none"
            problems.append(
                f"line 1: no survey declares the segment {target[len(SEGMENT_PREFIX) :]!r} (declared: {known})"
            )
    if "email" not in columns and "phone" not in columns and not problems:
        problems.append(
            f"line 1: no email or phone column; name one email or phone, or map it (the file has: {', '.join(names)})"
        )
    if problems:
        raise ImportRefused(problems)
    used = set(columns.values())
    ignored = tuple(name for index, name in enumerate(names) if index not in used and name)
    return _Layout(columns=columns, ignored=ignored, width=len(names))


def _read(
    text: str, mapping: Mapping[str, str] | None, segments: Mapping[str, Mapping[str, str]]
) -> tuple[_Layout, list[_Record], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text), strict=True)
    problems: list[str] = []
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ImportRefused([f"line 1: {error}"]) from None
    if not header or not any(cell.strip() for cell in header):
        raise ImportRefused(["line 1: the file is empty; its first line must name the columns"])
    layout = _layout(header, mapping, segments)
    columns = layout.columns
    email_at, phone_at, language_at = columns.get("email"), columns.get("phone"), columns.get("language")
    segment_at = [
        (name[len(SEGMENT_PREFIX) :], index, segments[name[len(SEGMENT_PREFIX) :]])
        for name, index in columns.items()
        if name.startswith(SEGMENT_PREFIX)
    ]
    records: list[_Record] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(f"line {reader.line_num}: {error}")
            break
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != layout.width:
            problems.append(f"line {line}: {len(row)} cells where the header names {layout.width}")
            continue
        reasons = []
        email = phone = language = None
        if email_at is not None and row[email_at].strip():
            try:
                email = normalise_email(row[email_at])
            except ContactError as error:
                reasons.append(str(error))
        if phone_at is not None and row[phone_at].strip():
            try:
                phone = normalise_phone(row[phone_at])
            except ContactError as error:
                reasons.append(str(error))
        if language_at is not None and row[language_at].strip():
            try:
                language = normalise_language(row[language_at])
            except ContactError as error:
                reasons.append(str(error))
        values = {}
        for name, index, allowed in segment_at:
            cell = row[index].strip()
            if not cell:
                continue
            canonical = allowed.get(cell.lower())
            if canonical is None:
                reasons.append(f"{cell!r} is not a value of {name} (it has: {', '.join(allowed.values())})")
            else:
                values[name] = canonical
        if email is None and phone is None and not reasons:
            reasons.append("neither an email nor a phone number")
        if reasons:
            problems.append(f"line {line}: {'; '.join(reasons)}")
            continue
        records.append(_Record(line, email, phone, language, values))
    return layout, records, problems


def _merge(records: list[_Record], problems: list[str]) -> tuple[list[_Record], int]:
    """One record per person: lines with the same email, or with the same phone and no email, are one.

    A phone can be one person's only: a line without an email whose phone another line gives with
    an email is that person; two different emails with one phone are a fault.
    """
    people: dict[str, _Record] = {}
    duplicates = 0
    for record in records:
        key = record.email or f"tel:{record.phone}"
        same = people.get(key)
        if same is None:
            people[key] = record
            continue
        duplicates += 1
        same.phone = record.phone or same.phone
        same.language = record.language or same.language
        same.segments.update(record.segments)
        same.line = record.line
    owners: dict[str, _Record] = {}
    refused: set[int] = set()
    for record in people.values():
        if record.email and record.phone:
            owner = owners.get(record.phone)
            if owner is not None:
                problems.append(
                    f"line {record.line}: {record.phone} is also the phone of {owner.email} (line {owner.line})"
                )
                refused.add(id(record))
            else:
                owners[record.phone] = record
    merged = []
    for record in people.values():
        if id(record) in refused:
            continue
        if not record.email and record.phone in owners:
            owner = owners[record.phone]  # type: ignore[index]
            duplicates += 1
            owner.language = record.language or owner.language
            owner.segments.update(record.segments)
            continue
        merged.append(record)
    return merged, duplicates


def _known(connection: Connection, kind: str) -> tuple[dict[str, int], dict[str, int], set[int]]:
    """Contacts of the kind by email and by phone, and those that have an email."""
    table = Contact.__table__  # type: ignore[attr-defined]
    by_email: dict[str, int] = {}
    by_phone: dict[str, int] = {}
    for contact_id, email, phone in connection.execute(
        select(table.c.id, table.c.email, table.c.phone).where(table.c.kind == kind)
    ):
        if email:
            by_email[email] = contact_id
        if phone:
            by_phone[phone] = contact_id
    return by_email, by_phone, set(by_email.values())


def _line_of(problem: str) -> int:
    number = problem.split(":", 1)[0].removeprefix("line ")
    return int(number) if number.isdigit() else 0


def _chunks(rows: Sequence[object]) -> Iterable[Sequence[object]]:
    for start in range(0, len(rows), CHUNK_ROWS):
        yield rows[start : start + CHUNK_ROWS]


def import_contacts(
    session: Session,
    kind: str,
    data: bytes,
    mapping: Mapping[str, str] | None = None,
    survey: Survey | None = None,
    default_language: str = "en",
) -> ImportSummary:
    """Check a CSV file of contacts whole, then store it in the session's transaction (or nothing).

    ``mapping`` names the column of each field (``{"email": "E-mail", "segment:region": "Region"}``);
    without it, columns are recognised by their usual names and by the segment names surveys declare.
    Segment values are checked against the segments of ``survey`` (of any survey when None).
    """
    if kind not in SIDES:
        raise ContactError(f"contacts are customers or employees, not {kind!r}")
    if default_language not in LANGUAGES:
        raise ContactError(f"the default language is en or fr, not {default_language!r}")
    if len(data) > MAX_FILE_BYTES:
        raise ImportRefused([f"the file holds {len(data)} bytes; import at most {MAX_FILE_BYTES} bytes at a time"])
    text = decode_csv(data)
    segments = declared_segments(session, kind, survey)
    layout, records, problems = _read(text, mapping, segments)
    records, duplicates = _merge(records, problems)
    connection = session.connection()
    by_email, by_phone, emailed = _known(connection, kind)
    creates: list[_Record] = []
    updates: list[tuple[int, _Record]] = []
    for record in records:
        known_email = by_email.get(record.email) if record.email else None
        known_phone = by_phone.get(record.phone) if record.phone else None
        if known_email is not None and known_phone is not None and known_email != known_phone:
            problems.append(f"line {record.line}: {record.phone} is the phone of another contact than {record.email}")
        elif known_email is None and known_phone is not None and record.email and known_phone in emailed:
            problems.append(f"line {record.line}: {record.phone} is the phone of a contact with another email")
        elif known_email is not None or known_phone is not None:
            updates.append((known_email if known_email is not None else known_phone, record))  # type: ignore[arg-type]
        else:
            creates.append(record)
    if problems:
        problems.sort(key=_line_of)
        raise ImportRefused(problems)
    if not records:
        raise ImportRefused(["the file has a header but no contacts"])
    _store(connection, kind, default_language, creates, updates, layout)
    return ImportSummary(
        created=len(creates), updated=len(updates), merged_lines=duplicates, ignored_columns=layout.ignored
    )


def _store(
    connection: Connection,
    kind: str,
    default_language: str,
    creates: list[_Record],
    updates: list[tuple[int, _Record]],
    layout: _Layout,
) -> None:
    table = Contact.__table__  # type: ignore[attr-defined]
    segment_table = ContactSegment.__table__  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    rows = [
        {
            "kind": kind,
            "email": record.email,
            "phone": record.phone,
            "language": record.language or default_language,
            "created_at": now,
        }
        for record in creates
    ]
    for chunk in _chunks(rows):
        connection.execute(insert(table), chunk)
    if updates:
        statement = (
            update(table)
            .where(table.c.id == bindparam("contact_id"))
            .values(
                email=func.coalesce(bindparam("new_email"), table.c.email),
                phone=func.coalesce(bindparam("new_phone"), table.c.phone),
                language=func.coalesce(bindparam("new_language"), table.c.language),
            )
        )
        parameters = [
            {
                "contact_id": contact_id,
                "new_email": record.email,
                "new_phone": record.phone,
                "new_language": record.language,
            }
            for contact_id, record in updates
        ]
        for chunk in _chunks(parameters):
            connection.execute(statement, chunk)
    names = [target[len(SEGMENT_PREFIX) :] for target in layout.columns if target.startswith(SEGMENT_PREFIX)]
    if not names:
        return
    by_email, by_phone, _ = _known(connection, kind)
    segment_rows = []
    updated_ids = [contact_id for contact_id, _ in updates]
    for chunk in _chunks(updated_ids):
        connection.execute(
            delete(segment_table).where(segment_table.c.contact_id.in_(chunk), segment_table.c.name.in_(names))
        )
    for record in [*creates, *(record for _, record in updates)]:
        contact_id = by_email[record.email] if record.email else by_phone[record.phone]  # type: ignore[index]
        segment_rows.extend(
            {"contact_id": contact_id, "name": name, "value": value} for name, value in record.segments.items()
        )
    for chunk in _chunks(segment_rows):
        connection.execute(insert(segment_table), chunk)


# Consent, unsubscribe and erasure


def unsubscribe_token(secret_key: str, contact_id: int) -> str:
    """The contact's unsubscribe token: its id and a 128-bit signature, so it needs no storage."""
    return sign_id(secret_key, "unsubscribe", contact_id)


def contact_for_unsubscribe_token(session: Session, secret_key: str, token: str) -> Contact | None:
    contact_id = signed_id(secret_key, "unsubscribe", token)
    return session.get(Contact, contact_id) if contact_id is not None else None


def unsubscribe(session: Session, contact: Contact) -> None:
    """Stop every message to the contact from now on; the sending checks it before each message."""
    if contact.unsubscribed_at is None:
        contact.unsubscribed_at = datetime.now(UTC)
        session.add(contact)


def find_contact(session: Session, address: str, kind: str | None = None) -> list[Contact]:
    """Contacts with this email or phone (of one kind, or both)."""
    address = address.strip()
    try:
        email: str | None = normalise_email(address)
        phone = None
    except ContactError:
        email = None
        phone = normalise_phone(address)
    statement = select(Contact).where(Contact.email == email if email else Contact.phone == phone)
    if kind is not None:
        statement = statement.where(Contact.kind == kind)
    return list(session.execute(statement).scalars())


def forget_contact(session: Session, contact: Contact) -> None:
    """Erase the person (GDPR): the contact and its segments go; responses and counts stay.

    Nothing that stays names the person: responses never pointed at a contact, and the
    invitations sent to them lose their link to the contact when it is deleted.
    """
    from perception.models import CallbackRequest, DispatchItem

    addresses = [address for address in (contact.email, contact.phone) if address]
    session.execute(delete(CallbackRequest).where(CallbackRequest.address.in_(addresses)))  # type: ignore[attr-defined]
    # A sending error may quote the address ("refused the recipient ana@..."): it goes too.
    session.execute(update(DispatchItem).where(DispatchItem.contact_id == contact.id).values(error=None))  # type: ignore[arg-type]
    session.execute(delete(Contact).where(Contact.id == contact.id))  # type: ignore[arg-type]
    session.expunge(contact)


def import_detail(summary: ImportSummary, survey: Survey | None) -> dict[str, object]:
    """What the audit log keeps of an import: counts, never a row of the file."""
    detail: dict[str, object] = {"created": summary.created, "updated": summary.updated, "merged": summary.merged_lines}
    if survey is not None:
        detail["survey"] = survey.slug
    return detail


def forgotten_target(contacts: Sequence[Contact]) -> str:
    """How the audit log names an erasure: the kinds of contact only, since the person must be gone."""
    kinds = " and ".join(sorted({contact.kind for contact in contacts}))
    return f"{kinds} contact" if len(contacts) == 1 else f"{kinds} contacts"


@dataclass(frozen=True)
class ContactCounts:
    kind: str
    total: int
    with_email: int
    with_phone: int
    unsubscribed: int


def contact_counts(session: Session) -> list[ContactCounts]:
    """How many contacts of each kind, reachable how, counted in SQL."""
    statement = select(
        Contact.kind,
        func.count(Contact.id),
        func.count(Contact.email),
        func.count(Contact.phone),
        func.count(Contact.unsubscribed_at),
    ).group_by(Contact.kind)
    found = {row[0]: ContactCounts(*row) for row in session.execute(statement)}
    return [found.get(kind) or ContactCounts(kind, 0, 0, 0, 0) for kind in SIDES]
