"""Reaching people, as a core plugin: the ``contacts`` commands and the contacts and unsubscribe pages.

It registers through the same hooks as any plugin, so the rest of the core does not import it.
"""

from __future__ import annotations

import io

import click
from flask import Blueprint, Flask, current_app
from flask.cli import with_appcontext

from perception.contacts import (
    ContactError,
    find_contact,
    forget_contact,
    import_contacts,
    parse_mapping,
)
from perception.db import DatabaseNotReady, check_ready, session_scope
from perception.hookspecs import hookimpl
from perception.imports import ImportRefused
from perception.types import LANGUAGES, SIDES
from perception.waves import find_survey


def _ready_app() -> Flask:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        check_ready(app)
    except DatabaseNotReady as error:
        raise click.ClickException(str(error)) from None
    return app


@click.group("contacts")
def contacts_group() -> None:
    """Customers and employees to invite: import, forget."""


@contacts_group.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--kind", required=True, type=click.Choice(SIDES), help="Whether the file lists customers or employees.")
@click.option(
    "--map",
    "pairs",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Which column holds a field: email, phone, language or segment:NAME (repeatable). "
    "Without it, columns are recognised by name.",
)
@click.option("--survey", "slug", default=None, help="Check segment values against this survey's (default: any's).")
@click.option("--language", default="en", type=click.Choice(LANGUAGES), show_default=True, help="For rows without one.")
@with_appcontext
def contacts_import(
    file: io.BufferedReader, kind: str, pairs: tuple[str, ...], slug: str | None, language: str
) -> None:
    """Import contacts from a CSV file (UTF-8, comma or semicolon): all lines, or none when one is bad."""
    app = _ready_app()
    try:
        mapping = parse_mapping(pairs) or None
    except ContactError as error:
        raise click.BadParameter(str(error), param_hint="--map") from None
    name = getattr(file, "name", "the file")
    with session_scope(app) as session:
        survey = None
        if slug:
            survey = find_survey(session, slug)
            if survey is None:
                raise click.ClickException(f"no survey {slug!r}")
        try:
            summary = import_contacts(session, kind, file.read(), mapping, survey, language)
        except ImportRefused as error:
            session.rollback()
            click.echo(f"{name}: refused, nothing was imported ({len(error.problems)} problems):", err=True)
            for problem in error.problems:
                click.echo(f"  {problem}", err=True)
            raise SystemExit(1) from None
    click.echo(
        f"Imported {summary.created + summary.updated} {kind}s from {name}: {summary.created} new, "
        f"{summary.updated} updated, {summary.merged_lines} duplicate lines merged"
    )
    if summary.ignored_columns:
        click.echo(f"Columns not imported: {', '.join(summary.ignored_columns)}")


@contacts_group.command("forget")
@click.argument("address")
@click.option("--kind", type=click.Choice(SIDES), default=None, help="Only the customer or the employee contact.")
@with_appcontext
def contacts_forget(address: str, kind: str | None) -> None:
    """Erase a person (GDPR): the contact goes, the anonymous counts stay."""
    app = _ready_app()
    with session_scope(app) as session:
        try:
            found = find_contact(session, address, kind)
        except ContactError as error:
            raise click.BadParameter(str(error), param_hint="ADDRESS") from None
        if not found:
            raise click.ClickException(f"no contact with the address {address}")
        for contact in found:
            forget_contact(session, contact)
    click.echo(f"Forgot {len(found)} contact(s) with the address {address}")


@hookimpl
def perception_register_commands(cli: click.Group) -> None:
    cli.add_command(contacts_group)


@hookimpl
def perception_register_blueprints(app: Flask) -> list[Blueprint]:
    from perception.web import contacts

    return [contacts.blueprint]
