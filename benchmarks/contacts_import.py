"""How long importing N contacts from CSV takes (default 100,000: the target is under 10 s).

    python benchmarks/contacts_import.py [--rows 100000] [--database-url URL]

Times the whole import of a fresh file (reading, checking every cell, merging duplicates, storing
in one transaction), then the import of the same file again, where every line updates a contact.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from perception import create_app
from perception.contacts import import_contacts
from perception.db import session_scope, upgrade
from perception.surveys import parse_definition, store_definition

DEFINITION = {
    "slug": "bench-contacts",
    "title": {"en": "Contacts benchmark"},
    "items": [{"key": "easy", "dimension": "Time and Effort", "scale": "ces",
               "customer": {"en": "Easy?"}, "employee": {"en": "Do customers find it easy?"}}],
    "segments": {"customer": {"region": ["North", "South", "East", "West"], "channel": ["Web", "Shop", "Phone"]}},
}  # fmt: skip


@contextmanager
def bench_database(url: str | None) -> Iterator[str | None]:
    """On PostgreSQL, a database of the benchmark's own, made for the run and dropped after it."""
    if not url or not url.startswith("postgresql"):
        yield url
        return
    base = make_url(url)
    name = "perception_bench_contacts"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--database-url",
        default=None,
        help="default: a SQLite file in a temporary folder; on PostgreSQL the server of the URL, in a database "
        "perception_bench_contacts made for the run and dropped after it",
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, bench_database(arguments.database_url) as url:
        config = {"INSTANCE_PATH": folder}
        if url:
            config["DATABASE_URL"] = url
        app = create_app(config)
        upgrade(app)
        with session_scope(app) as session:
            store_definition(
                session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
            )
        rng = random.Random(7)
        regions, channels = ["North", "South", "East", "West"], ["Web", "Shop", "Phone"]
        lines = ["Email;Mobile;Language;Region;Channel"]
        for n in range(arguments.rows):
            phone = f"+336{n:08d}" if n % 2 else ""
            lines.append(
                f"customer{n}@example.com;{phone};{rng.choice(['fr', 'en'])};"
                f"{rng.choice(regions)};{rng.choice(channels)}"
            )
        data = ("\n".join(lines) + "\n").encode("utf-8")
        mapping = {"email": "Email", "phone": "Mobile", "language": "Language",
                   "segment:region": "Region", "segment:channel": "Channel"}  # fmt: skip
        database = app.config["DATABASE_URL"].split(":")[0]
        for label in ("new contacts", "same file again (updates)"):
            started = time.perf_counter()
            with session_scope(app) as session:
                summary = import_contacts(session, "customer", data, mapping)
            elapsed = time.perf_counter() - started
            print(
                f"{arguments.rows} rows, {label}: {summary.created} created, {summary.updated} updated "
                f"in {elapsed:.2f} s ({arguments.rows / elapsed:,.0f} rows/s) on {database}"
            )
        app.extensions["perception"].engine.dispose()


if __name__ == "__main__":
    main()
