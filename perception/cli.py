"""The ``perception`` command: Flask's CLI group bound to the factory, plus our commands."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from perception.accounts import AccountError, create_account, set_password
from perception.audit import record
from perception.db import DatabaseNotReady, check_ready, session_scope, upgrade
from perception.hookspecs import hookimpl
from perception.imports import import_responses_command
from perception.models import ROLES, Account, Survey, Wave
from perception.plugins import describe_plugins
from perception.surveys import (
    SurveyFileError,
    definition_of,
    dump_definition,
    read_definition,
    store_definition,
)
from perception.tasks import emit
from perception.types import WaveClosed, WaveOpened
from perception.waves import WaveError, close_wave, create_wave, find_survey, find_wave, open_wave


def ready_app() -> Flask:
    """The current application, once its database is migrated; a clear error otherwise."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        check_ready(app)
    except DatabaseNotReady as error:
        raise click.ClickException(str(error)) from None
    return app


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create the database, or upgrade it to this version."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    upgrade(app)
    app.extensions["perception"].database_ready = False
    check_ready(app)
    click.echo(f"Database ready: {app.config['DATABASE_URL']}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Web worker processes.")
@with_appcontext
def serve_command(host: str, port: int, workers: int) -> None:
    """Serve the application (gunicorn; runs the task-queue consumer too on the embedded queue)."""
    from perception.serve import serve

    serve(ready_app(), host, port, workers)


@click.command("demo")
@click.option(
    "--serve/--no-serve",
    "serve_after",
    default=True,
    show_default=True,
    help="Serve the app once the demo data is in place.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@with_appcontext
def demo_command(serve_after: bool, host: str, port: int) -> None:
    """Create a demo company (a French regional bank) with answers on both sides, then serve it."""
    from perception.demo import seed_demo

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    upgrade(app)
    credentials = seed_demo(app)
    click.echo("Demo accounts (also in %s):" % (Path(app.instance_path) / "demo-accounts.txt"))
    for role, email, password in credentials:
        click.echo(f"  {role:<9} {email:<32} {password}")
    if serve_after:
        from perception.serve import serve

        click.echo(f"Open http://{host}:{port}/ and sign in with one of the accounts above.")
        serve(ready_app(), host, port, workers=2)


@click.group("users")
def users_group() -> None:
    """Manage accounts."""


@users_group.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the account may do.")
@click.option("--name", default="", help="Display name.")
@click.option("--language", default="en", type=click.Choice(["en", "fr"]), show_default=True)
@click.password_option(help="At least 10 characters; asked for when not given.")
@with_appcontext
def users_create(email: str, role: str, name: str, language: str, password: str) -> None:
    """Create an account with a role: admin, lead, leader or employee."""
    app = ready_app()
    try:
        with session_scope(app) as session:
            account = create_account(session, email, role, password, name=name, language=language)
            record(session, None, "account.create", account.email, {"role": account.role})
            click.echo(f"Created {account.role} {account.email}")
    except AccountError as error:
        raise click.ClickException(str(error)) from None


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """List accounts with their roles."""
    from sqlmodel import select

    with session_scope(ready_app()) as session:
        for account in session.exec(select(Account).order_by(Account.email)).all():
            state = "" if account.active else " (disabled)"
            click.echo(f"{account.role:<9} {account.email}{state}")


@users_group.command("set-password")
@click.argument("email")
@click.password_option()
@with_appcontext
def users_set_password(email: str, password: str) -> None:
    """Set a new password for an account."""
    from sqlmodel import select

    try:
        with session_scope(ready_app()) as session:
            account = session.exec(select(Account).where(Account.email == email.strip().lower())).first()
            if account is None:
                raise click.ClickException(f"no account for {email}")
            set_password(account, password)
            record(session, None, "account.password", account.email)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Password changed for {email}")


@click.group("survey")
def survey_group() -> None:
    """Import, export and list surveys."""


@survey_group.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--replace", is_flag=True, help="Revise a survey; changed answered items start a new version.")
@with_appcontext
def survey_import(file: click.utils.LazyFile, replace: bool) -> None:
    """Import a survey definition (YAML or JSON); a bad file is refused whole."""
    app = ready_app()
    try:
        definition = read_definition(file.read(), app.extensions["perception"].registries.scoring_models)
        with session_scope(app) as session:
            version = store_definition(session, definition, replace=replace).version
            record(
                session, None, "survey.import", definition.slug, {"items": len(definition.items), "replace": replace}
            )
    except SurveyFileError as error:
        click.echo(f"{file.name}: refused, nothing was stored:", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    click.echo(f"Imported survey {definition.slug!r} with {len(definition.items)} items (version {version})")


@survey_group.command("export")
@click.argument("slug")
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File to write (default: standard output).",
)
@with_appcontext
def survey_export(slug: str, output: click.utils.LazyFile) -> None:
    """Write a survey's definition as YAML, in the format `survey import` reads."""
    with session_scope(ready_app()) as session:
        survey = find_survey(session, slug)
        if survey is None:
            raise click.ClickException(f"no survey {slug!r}")
        output.write(dump_definition(definition_of(session, survey)))
        record(session, None, "survey.export", survey.slug)


@survey_group.command("list")
@with_appcontext
def survey_list() -> None:
    """List surveys and their waves."""
    from sqlmodel import select

    with session_scope(ready_app()) as session:
        for survey in session.exec(select(Survey).order_by(Survey.slug)).all():
            click.echo(f"{survey.slug}: {survey.title_en or survey.title_fr}")
            for wave in session.exec(select(Wave).where(Wave.survey_id == survey.id)).all():
                click.echo(f"  {wave.name} ({wave.kind}, {wave.state})")


@survey_group.command("templates")
def survey_templates() -> None:
    """List the survey templates the plugins provide."""
    for name, template in sorted(current_app.extensions["perception"].registries.survey_templates.items()):
        click.echo(f"{name}: {template.label.get('en', name)}")


@click.group("wave")
def wave_group() -> None:
    """Create, open and close waves."""


def _survey_and_wave(session, slug: str, name: str) -> tuple[Survey, Wave]:  # type: ignore[no-untyped-def]
    survey = find_survey(session, slug)
    if survey is None:
        raise click.ClickException(f"no survey {slug!r} (see `perception survey list`)")
    wave = find_wave(session, survey, name)
    if wave is None:
        raise click.ClickException(f"survey {slug!r} has no wave {name!r}")
    return survey, wave


@wave_group.command("create")
@click.argument("slug")
@click.argument("name")
@click.option("--kind", type=click.Choice(["cold", "hot"]), default="cold", show_default=True)
@click.option("--touchpoint", default=None, help="The touchpoint a hot wave follows, e.g. delivery.")
@click.option("--opens", type=click.DateTime(["%Y-%m-%d"]), help="First day answers are accepted.")
@click.option("--closes", type=click.DateTime(["%Y-%m-%d"]), help="Last day answers are accepted.")
@with_appcontext
def wave_create(slug: str, name: str, kind: str, touchpoint, opens, closes) -> None:  # type: ignore[no-untyped-def]
    """Create a wave NAME of survey SLUG (draft until opened)."""
    try:
        with session_scope(ready_app()) as session:
            survey = find_survey(session, slug)
            if survey is None:
                raise click.ClickException(f"no survey {slug!r} (see `perception survey list`)")
            opens_on: date | None = opens.date() if opens else None
            closes_on: date | None = closes.date() if closes else None
            wave = create_wave(session, survey, name, kind, opens_on, closes_on, touchpoint)
            record(session, None, "wave.create", f"{survey.slug} / {wave.name}", {"kind": wave.kind})
    except WaveError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created wave {name!r} of {slug!r} (draft; `perception wave open {slug} {name!r}`)")


@wave_group.command("open")
@click.argument("slug")
@click.argument("name")
@with_appcontext
def wave_open(slug: str, name: str) -> None:
    """Open a wave for answers."""
    app = ready_app()
    try:
        with session_scope(app) as session:
            survey, wave = _survey_and_wave(session, slug, name)
            open_wave(wave)
            record(session, None, "wave.open", f"{survey.slug} / {wave.name}")
            event = WaveOpened(survey_slug=survey.slug, wave_name=wave.name, kind=wave.kind)
    except WaveError as error:
        raise click.ClickException(str(error)) from None
    emit(app, "perception_wave_opened", event)
    click.echo(f"Wave {name!r} of {slug!r} is open")


@wave_group.command("close")
@click.argument("slug")
@click.argument("name")
@with_appcontext
def wave_close(slug: str, name: str) -> None:
    """Close a wave: its links stop accepting answers."""
    app = ready_app()
    try:
        with session_scope(app) as session:
            survey, wave = _survey_and_wave(session, slug, name)
            close_wave(wave)
            record(session, None, "wave.close", f"{survey.slug} / {wave.name}")
            event = WaveClosed(survey_slug=survey.slug, wave_name=wave.name, kind=wave.kind)
    except WaveError as error:
        raise click.ClickException(str(error)) from None
    emit(app, "perception_wave_closed", event)
    click.echo(f"Wave {name!r} of {slug!r} is closed")


@wave_group.command("list")
@click.argument("slug")
@with_appcontext
def wave_list(slug: str) -> None:
    """List the waves of a survey."""
    from sqlmodel import select

    with session_scope(ready_app()) as session:
        survey = find_survey(session, slug)
        if survey is None:
            raise click.ClickException(f"no survey {slug!r}")
        for wave in session.exec(select(Wave).where(Wave.survey_id == survey.id)).all():
            dates = f" {wave.opens_on or '…'} to {wave.closes_on or '…'}" if wave.opens_on or wave.closes_on else ""
            click.echo(f"{wave.name} ({wave.kind}, {wave.state}){dates}")


def _report(app: Flask, session, survey: Survey, wave: Wave, filters):  # type: ignore[no-untyped-def]
    from perception.report import gap_report
    from perception.surveys import items_of

    models = app.extensions["perception"].registries.scoring_models
    return gap_report(
        session, survey, wave, items_of(session, survey, wave), models, app.config["REPORTING_THRESHOLD"], filters
    )


def _board_pack(report, language: str) -> bytes:  # type: ignore[no-untyped-def]
    from flask_babel import force_locale

    from perception.board_pack import board_pack_pdf
    from perception.report import importance
    from perception.surveys import items_of
    from perception.web.figures import gap_chart, priority_chart_svg

    with session_scope(current_app) as session:  # type: ignore[arg-type]
        items = items_of(session, report.survey, report.wave)
        priorities = importance(session, report.wave, items, report, report.filters)
    with current_app.test_request_context(), force_locale(language):
        chart = gap_chart(report, language)
        priority_map = priority_chart_svg(report, priorities, language) if priorities else None
    return board_pack_pdf(report, chart, language, priority_map)


@click.command("report")
@click.option("--survey", "slug", required=True, help="The survey's slug.")
@click.option("--wave", "wave_name", required=True, help="The wave's name.")
@click.option("--segment", "segments", multiple=True, metavar="SIDE:NAME=VALUE",
              help="Keep only responses of one side with this segment value (repeatable).")  # fmt: skip
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "csv", "pdf"]),
    default="json",
    show_default=True,
    help="json and csv as in docs/report-format.md; pdf, the board pack (give --output).",
)
@click.option("--language", type=click.Choice(["en", "fr"]), default="en", show_default=True,
              help="Language of the board pack.")  # fmt: skip
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default="-",
              help="File to write (default: standard output).")  # fmt: skip
@with_appcontext
def report_command(
    slug: str, wave_name: str, segments: tuple[str, ...], output_format: str, language: str, output: str
) -> None:
    """Write a wave's gap report: scores, gaps, tests and verdicts per item and dimension."""
    import csv

    from perception.report import CSV_COLUMNS, report_json, report_rows
    from perception.segments import SegmentError, parse_filter, resolve

    app = ready_app()
    with session_scope(app) as session:
        survey, wave = _survey_and_wave(session, slug, wave_name)
        try:
            filters = resolve(session, survey, [parse_filter(text) for text in segments])
            report = _report(app, session, survey, wave, filters)
        except SegmentError as error:
            raise click.ClickException(str(error)) from None
    if output_format == "pdf":
        if output == "-":
            raise click.UsageError("a PDF goes to a file: give --output FILE.pdf")
        Path(output).write_bytes(_board_pack(report, language))
        click.echo(f"Board pack written to {output}")
        return
    with click.open_file(output, "w", encoding="utf-8") as handle:
        if output_format == "json":
            handle.write(json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(report_rows(report))


@click.command("export-responses")
@click.option("--survey", "slug", required=True, help="The survey's slug.")
@click.option("--wave", "wave_name", required=True, help="The wave's name.")
@click.option("--side", type=click.Choice(["customer", "employee"]), required=True)
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx", "sav"]), default="csv", show_default=True,
              help="xlsx adds the codebook sheet; sav (SPSS) needs pip install 'perception[spss]'.")  # fmt: skip
@click.option("--output", "-o", type=click.File("wb"), default="-",
              help="File to write (default: standard output).")  # fmt: skip
@with_appcontext
def export_responses_command(
    slug: str, wave_name: str, side: str, file_format: str, output: click.utils.LazyFile
) -> None:
    """Write one side's responses of a wave as CSV, XLSX or SPSS (employees stay anonymous: see the README)."""
    from perception.exports import ExportRefused, ExportUnavailable, export_responses, export_sav, export_xlsx

    write = {"csv": export_responses, "xlsx": export_xlsx, "sav": export_sav}[file_format]
    app = ready_app()
    with session_scope(app) as session:
        survey, wave = _survey_and_wave(session, slug, wave_name)
        try:
            content = write(session, survey, wave, side, app.config["REPORTING_THRESHOLD"],
                            app.config["VERBATIM_THRESHOLD"])  # fmt: skip
        except (ExportRefused, ExportUnavailable) as error:
            raise click.ClickException(str(error)) from None
        record(session, None, "responses.export", f"{survey.slug} / {wave.name}", {"side": side, "format": file_format})
    output.write(content.encode("utf-8") if isinstance(content, str) else content)


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(file: Path) -> None:
    """Copy the SQLite database to FILE while the app keeps serving (PostgreSQL: pg_dump, see README)."""
    from perception.backup import BackupError, backup

    app = ready_app()
    try:
        info = backup(app, file)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    with session_scope(app) as session:
        record(session, None, "database.backup", str(file.resolve()), {"responses": info.responses})
    click.echo(
        f"Backup written to {file}: {info.responses} responses, {info.answers} answers (revision {info.revision})"
    )


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(file: Path, yes: bool) -> None:
    """Replace the SQLite database with a backup made by `perception backup` (PostgreSQL: see README)."""
    from perception.backup import BackupError, check_backup, is_sqlite, pg_dump_hint, restore

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not is_sqlite(app):
        raise click.ClickException(pg_dump_hint(app))
    try:
        info = check_backup(app, file)
        if not yes:
            click.confirm(
                f"Replace everything in {app.config['DATABASE_URL']} with the backup of {info.made_at} "
                f"({info.responses} responses)?",
                abort=True,
            )
        restore(app, file)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    with session_scope(app) as session:
        record(session, None, "database.restore", str(file.resolve()), {"made_at": info.made_at})
    click.echo(f"Restored {file} (made {info.made_at}): {info.responses} responses, {info.answers} answers")


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def plugins_command(as_json: bool) -> None:
    """List every registered plugin, built-in or installed, and what each provides."""
    state = current_app.extensions["perception"]
    described = describe_plugins(state.plugin_manager, state.registries)
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    for plugin in described:
        origin = "built-in" if plugin["builtin"] else (plugin["distribution"] or "registered")
        click.echo(f"{plugin['name']} ({origin})")
        for kind in ("scoring_models", "channels", "survey_templates", "text_analysers"):
            if plugin.get(kind):
                click.echo(f"  {kind.replace('_', ' ')}: {', '.join(plugin[kind])}")
        click.echo(f"  hooks: {', '.join(plugin['hooks'])}")


@hookimpl
def perception_register_commands(cli: click.Group) -> None:
    for command in (
        init_command,
        serve_command,
        demo_command,
        users_group,
        survey_group,
        wave_group,
        report_command,
        import_responses_command,
        export_responses_command,
        plugins_command,
        backup_command,
        restore_command,
    ):
        cli.add_command(command)


def _create_app() -> Flask:
    from perception.app import create_app

    return create_app()


main = FlaskGroup(
    name="perception",
    create_app=_create_app,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
    help="perception: mirrored customer and employee surveys, and the gaps between them.",
)
click.version_option(package_name="perception", prog_name="perception")(main)
