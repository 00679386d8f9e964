"""Reaching people, as a core plugin: the ``contacts`` commands and the contacts and unsubscribe pages.

It registers through the same hooks as any plugin, so the rest of the core does not import it.
"""

from __future__ import annotations

import io

import click
from flask import Blueprint, Flask
from flask.cli import with_appcontext

from perception.audit import record
from perception.cli import ready_app
from perception.contacts import (
    ContactError,
    find_contact,
    forget_contact,
    forgotten_target,
    import_contacts,
    import_detail,
    parse_mapping,
)
from perception.db import session_scope
from perception.dispatch import start_dispatch
from perception.hookspecs import hookimpl
from perception.imports import ImportRefused
from perception.invitations import InvitationError, Sample, plan_invitations, plan_reminders, progress
from perception.outbox import Drainer
from perception.types import LANGUAGES, SIDES
from perception.waves import find_survey, find_wave


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
    app = ready_app()
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
        record(session, None, "contacts.import", f"{kind} contacts", import_detail(summary, survey))
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
    app = ready_app()
    with session_scope(app) as session:
        try:
            found = find_contact(session, address, kind)
        except ContactError as error:
            raise click.BadParameter(str(error), param_hint="ADDRESS") from None
        if not found:
            raise click.ClickException(f"no contact with the address {address}")
        target = forgotten_target(found)
        for contact in found:
            forget_contact(session, contact)
        record(session, None, "contacts.forget", target, {"count": len(found)})
    click.echo(f"Forgot {len(found)} contact(s) with the address {address}")


def _wave_named(session, slug: str, name: str):  # type: ignore[no-untyped-def]
    survey = find_survey(session, slug)
    wave = find_wave(session, survey, name) if survey else None
    if wave is None:
        raise click.ClickException(f"no wave {name!r} in a survey {slug!r}")
    return wave


@click.command("invite")
@click.argument("slug")
@click.argument("wave_name")
@click.option("--side", required=True, type=click.Choice(SIDES), help="Invite customers or employees.")
@click.option("--channel", default="email", show_default=True, help="A channel that reaches contacts (email, sms).")
@click.option("--share", type=click.FloatRange(0, 100, min_open=True), default=None, help="Invite this % of them.")
@click.option("--count", type=click.IntRange(1), default=None, help="Or this many of them, chosen at random.")
@with_appcontext
def invite_command(slug: str, wave_name: str, side: str, channel: str, share: float | None, count: int | None) -> None:
    """Invite a wave's contacts (in the background: see `perception sending` for the progress)."""
    app = ready_app()
    channels = app.extensions["perception"].registries.channels
    if channel not in channels:
        raise click.BadParameter(f"no channel {channel!r} (installed: {', '.join(sorted(channels))})")
    with session_scope(app) as session:
        wave = _wave_named(session, slug, wave_name)
        try:
            sample = Sample(share=share / 100 if share is not None else None, size=count)
            dispatch = plan_invitations(app, session, wave, side, channels[channel], sample=sample)
        except InvitationError as error:
            raise click.ClickException(str(error)) from None
    start_dispatch(app, dispatch)
    _echo_progress(app, slug, wave_name)


@click.command("remind")
@click.argument("slug")
@click.argument("wave_name")
@click.option("--side", required=True, type=click.Choice(SIDES))
@with_appcontext
def remind_command(slug: str, wave_name: str, side: str) -> None:
    """Remind the wave's invited contacts who have not answered."""
    app = ready_app()
    with session_scope(app) as session:
        wave = _wave_named(session, slug, wave_name)
        try:
            dispatch = plan_reminders(app, session, wave, side)
        except InvitationError as error:
            raise click.ClickException(str(error)) from None
    start_dispatch(app, dispatch)
    _echo_progress(app, slug, wave_name)


def _echo_progress(app: Flask, slug: str, wave_name: str) -> None:
    with session_scope(app) as session:
        for row in progress(session, _wave_named(session, slug, wave_name)):
            skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(row.skipped.items()))
            click.echo(
                f"#{row.dispatch.id} {row.dispatch.purpose} {row.dispatch.side} via {row.dispatch.channel}: "
                f"{row.pending + row.sending} pending, {row.sent} sent, {row.failed} failed, "
                f"{row.skipped_total} skipped{f' ({skipped})' if skipped else ''}"
            )


@click.command("sending")
@click.argument("slug")
@click.argument("wave_name")
@with_appcontext
def sending_command(slug: str, wave_name: str) -> None:
    """Progress of a wave's invitations and reminders."""
    _echo_progress(ready_app(), slug, wave_name)


@click.command("worker")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Threads.")
@with_appcontext
def worker_command(workers: int) -> None:
    """Run a task-queue consumer (with PERCEPTION_QUEUE_URL=redis://..., as many as you like, anywhere),
    and beside it a drainer that hands the outbox's response events to the plugins."""
    app = ready_app()
    consumer = app.extensions["perception"].queue.create_consumer(workers=workers, worker_type="thread", periodic=True)
    drainer = Drainer(app).start()
    try:
        consumer.run()
    finally:
        drainer.stop()


@hookimpl
def perception_register_commands(cli: click.Group) -> None:
    for command in (contacts_group, invite_command, remind_command, sending_command, worker_command):
        cli.add_command(command)


@hookimpl
def perception_register_blueprints(app: Flask) -> list[Blueprint]:
    from perception.web import contacts, dispatch, kiosk

    return [contacts.blueprint, dispatch.blueprint, kiosk.blueprint]
