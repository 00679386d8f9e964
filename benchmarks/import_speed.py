"""How long `perception import-responses` takes for a file of N rows (default 25,000 rows, 100,000 answers).

    python benchmarks/import_speed.py [--rows 25000] [--database-url URL]

Prints the time of the whole import (parsing, checking every cell, storing in one transaction).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from perception import create_app
from perception.db import session_scope, upgrade
from perception.imports import import_responses
from perception.surveys import parse_definition, store_definition
from perception.waves import create_wave


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = {"INSTANCE_PATH": folder}
        if arguments.database_url:
            config["DATABASE_URL"] = arguments.database_url
        app = create_app(config)
        upgrade(app)
        registries = app.extensions["perception"].registries
        rng = random.Random(7)
        lines = ["recommend,satisfaction,effort,comment"]
        lines += [f"{rng.randint(0, 10)},{rng.randint(1, 5)},{rng.randint(1, 7)},merci" for _ in range(arguments.rows)]
        text = "\n".join(lines) + "\n"
        with session_scope(app) as session:
            definition = parse_definition(registries.survey_templates["core"].definition, registries.scoring_models)
            survey = store_definition(session, definition)
            wave = create_wave(session, survey, f"bench-{int(time.time())}")
        started = time.perf_counter()
        with session_scope(app) as session:
            count = import_responses(session, survey, wave, "customer", text)
        elapsed = time.perf_counter() - started
        print(f"{count} responses, {count * 4} answers imported in {elapsed:.2f} s ({Path(folder).name})")


if __name__ == "__main__":
    main()
