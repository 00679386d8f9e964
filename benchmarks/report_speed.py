"""How fast is the gap report on a large wave, against the bare SQL GROUP BY it rests on?

Builds a fresh database (SQLite in a temporary folder by default, or a separate PostgreSQL
database ``perception_bench`` on the server of ``--database-url``), stores a 30-item survey with
three segment attributes and one wave, loads about 1,000,000 customer and 100,000 employee
answers generated with numpy (fixed seed), then times, each ``--repeat`` times after one warm-up:

* the GROUP BY behind the report's histograms, through ``perception.report.histograms`` and as
  the same SQL run bare (``connection.execute(text(...)).fetchall()``);
* the full JSON report: ``json.dumps(report_json(gap_report(...)))``;
* both again with the segment filter ``employee:department=<first value>``.

This is a script, not a test: ``python benchmarks/report_speed.py --help``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select

import perception
import perception.db
import perception.report
from perception.models import Answer, Item, Response, ResponseSegment, SegmentAttribute, SegmentValue, Survey, Wave
from perception.report import gap_report, histograms, report_json
from perception.scales import SCALES
from perception.segments import ResolvedFilter, parse_filter, resolve
from perception.surveys import items_of, parse_definition, store_definition
from perception.waves import create_wave

BENCH_DATABASE = "perception_bench"
SEED = 20240611
ITEMS = 30
THRESHOLD = 5
CHUNK = 50_000

# 30 items: (scale, dimension); scales cycle so that every model is exercised.
SCALE_CYCLE = ("nps", "csat", "ces", "likert5", "likert5", "csat")
DIMENSIONS = ("Loyalty", "Satisfaction", "Effort", "Care", "Reliability", "Communication")
SEGMENTS = {
    "employee": {
        "department": (("Support", "Sales", "Operations", "Billing", "IT", "Management"),
                       (0.30, 0.25, 0.15, 0.12, 0.10, 0.08)),
        "site": (("Paris", "Lyon", "Nantes", "Lille"), (0.40, 0.30, 0.20, 0.10)),
    },
    "customer": {
        "region": (("North", "South", "East", "West", "Centre"), (0.30, 0.25, 0.20, 0.15, 0.10)),
    },
}  # fmt: skip
# Employee-minus-customer shift of the latent answer, in standard deviations, per item index:
# positive = blind spot (staff think it is better), negative = hidden strength.
SHIFTS = {0: 0.8, 3: 0.5, 7: 0.6, 11: 0.4, 16: 0.7, 22: 0.5, 5: -0.5, 13: -0.4, 27: -0.6, 9: 0.05, 19: -0.05}


# --------------------------------------------------------------------------------------------- setup


@contextmanager
def database(url: str | None, keep: bool) -> Iterator[tuple[str, Path]]:
    """A fresh, empty database URL and an instance folder; removed at the end unless ``keep``."""
    folder = Path(tempfile.mkdtemp(prefix="perception-bench-"))
    admin: Engine | None = None
    if url is None:
        bench_url = f"sqlite:///{folder / 'perception.db'}"
    else:
        base = make_url(url)
        if not base.drivername.startswith("postgresql"):
            raise SystemExit("--database-url must be a PostgreSQL URL (SQLite is the default)")
        admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{BENCH_DATABASE}"'))
        bench_url = base.set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    try:
        yield bench_url, folder
    finally:
        if keep:
            print(f"\nkept: {bench_url}  (instance folder {folder})")
        else:
            if admin is not None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
            shutil.rmtree(folder, ignore_errors=True)
        if admin is not None:
            admin.dispose()


def definition_data() -> dict[str, Any]:
    items = []
    for index in range(ITEMS):
        scale = SCALE_CYCLE[index % len(SCALE_CYCLE)]
        items.append(
            {
                "key": f"q{index + 1:02d}",
                "dimension": DIMENSIONS[index // 5],
                "scale": scale,
                "customer": {"en": f"Customer wording of item {index + 1}", "fr": f"Question client {index + 1}"},
                "employee": {"en": f"Employee wording of item {index + 1}", "fr": f"Question salarié {index + 1}"},
            }
        )
    return {
        "slug": "bench",
        "title": {"en": "Benchmark survey", "fr": "Questionnaire de mesure"},
        "default_language": "en",
        "items": items,
        "segments": {
            side: {name: list(values) for name, (values, _) in attributes.items()}
            for side, attributes in SEGMENTS.items()
        },
    }


@dataclass
class Fixture:
    survey: Survey
    wave: Wave
    items: list[Item]
    # side -> attribute name -> (attribute id, [value ids in declared order])
    segment_ids: dict[str, dict[str, tuple[int, list[int]]]]


def store_survey(app: Any) -> Fixture:
    models = app.extensions["perception"].registries.scoring_models
    definition = parse_definition(definition_data(), models)
    with perception.db.session_scope(app) as session:
        survey = store_definition(session, definition)
        wave = create_wave(session, survey, "2027 Q1")
        items = items_of(session, survey)
        segment_ids: dict[str, dict[str, tuple[int, list[int]]]] = {}
        for attribute in session.exec(select(SegmentAttribute).where(SegmentAttribute.survey_id == survey.id)):
            values = session.exec(
                select(SegmentValue.id).where(SegmentValue.attribute_id == attribute.id).order_by(SegmentValue.position)
            ).all()
            segment_ids.setdefault(attribute.side, {})[attribute.name] = (attribute.id, list(values))  # type: ignore[arg-type]
    return Fixture(survey=survey, wave=wave, items=items, segment_ids=segment_ids)


# ---------------------------------------------------------------------------------------------- data


@dataclass
class SideData:
    side: str
    response_ids: np.ndarray  # (n,)
    values: np.ndarray  # (n, ITEMS) answer values
    segments: list[tuple[int, np.ndarray]]  # (attribute id, value id per response)


def generate(fixture: Fixture, customers: int, employees: int) -> list[SideData]:
    """Answers on a latent normal scale: item mean, respondent effect, segment effect, side shift."""
    rng = np.random.default_rng(SEED)
    lows = np.array([SCALES[item.scale].low for item in fixture.items], dtype=float)
    highs = np.array([SCALES[item.scale].high for item in fixture.items], dtype=float)
    spread = highs - lows
    centre = lows + spread * rng.uniform(0.55, 0.75, ITEMS)  # customers lean positive, as surveys do
    sd = spread * 0.22
    shifts = np.array([SHIFTS.get(index, 0.0) for index in range(ITEMS)])
    sides = []
    next_id = 1
    for side, answers in (("customer", customers), ("employee", employees)):
        n = math.ceil(answers / ITEMS)
        segments = []
        segment_effect = np.zeros(n)
        for name, (values, weights) in SEGMENTS[side].items():
            attribute_id, value_ids = fixture.segment_ids[side][name]
            choice = rng.choice(len(values), size=n, p=weights)
            segments.append((attribute_id, np.asarray(value_ids)[choice]))
            segment_effect += np.linspace(-0.15, 0.15, len(values))[choice]  # groups differ a little
        respondent = rng.normal(0.0, 0.5, n) + segment_effect
        side_shift = shifts if side == "employee" else np.zeros(ITEMS)
        latent = centre + sd * (side_shift + respondent[:, None] + rng.normal(0.0, 0.85, (n, ITEMS)))
        values = np.clip(np.rint(latent), lows, highs).astype(np.int64)
        sides.append(SideData(side, np.arange(next_id, next_id + n), values, segments))
        next_id += n
    return sides


def _responses(fixture: Fixture, data: SideData) -> Iterator[tuple[Any, ...]]:
    languages = ("en", "fr")
    for index, response_id in enumerate(data.response_ids.tolist()):
        language = languages[index % 2] if data.side == "customer" else None
        yield (response_id, fixture.wave.id, data.side, date(2027, 1, 1 + index % 28), language)


def _answers(fixture: Fixture, data: SideData) -> Iterator[tuple[int, int, int, str, int]]:
    item_ids = np.array([item.id for item in fixture.items], dtype=np.int64)
    n = len(data.response_ids)
    columns = (np.repeat(data.response_ids, ITEMS), np.tile(item_ids, n), data.values.reshape(-1))
    wave_id = fixture.wave.id
    for response_id, item_id, value in zip(*(column.tolist() for column in columns), strict=True):
        yield response_id, item_id, wave_id, data.side, value


def _segment_rows(data: SideData) -> Iterator[tuple[int, int, int]]:
    for attribute_id, value_ids in data.segments:
        for response_id, value_id in zip(data.response_ids.tolist(), value_ids.tolist(), strict=True):
            yield (response_id, attribute_id, value_id)


def _chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


RESPONSE_COLUMNS = ("id", "wave_id", "side", "submitted_on", "language")
ANSWER_COLUMNS = ("response_id", "item_id", "wave_id", "side", "value")
SEGMENT_COLUMNS = ("response_id", "attribute_id", "value_id")


def load(engine: Engine, fixture: Fixture, sides: Sequence[SideData]) -> dict[str, int]:
    """Insert responses, their segment values and their answers; one transaction per table and side."""
    tables = (
        (Response.__table__, RESPONSE_COLUMNS, lambda data: _responses(fixture, data)),
        (ResponseSegment.__table__, SEGMENT_COLUMNS, _segment_rows),
        (Answer.__table__, ANSWER_COLUMNS, lambda data: _answers(fixture, data)),
    )
    counts: dict[str, int] = {}
    postgres = engine.dialect.name == "postgresql"
    for table, columns, rows_of in tables:
        for data in sides:
            with engine.begin() as connection:
                if postgres:  # COPY, in the transaction of this connection
                    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
                    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows_of(data):
                            copy.write_row(row)
                            counts[table.name] = counts.get(table.name, 0) + 1
                else:  # Core executemany, in chunks
                    statement = insert(table)
                    for chunk in _chunks(rows_of(data), CHUNK):
                        connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in chunk])
                        counts[table.name] = counts.get(table.name, 0) + len(chunk)
    if postgres:  # ids were given explicitly: move the sequence past them, as the app would expect
        with engine.begin() as connection:
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('response', 'id'), (SELECT max(id) FROM response))")
            )
    return counts


def analyze(engine: Engine) -> None:
    """PostgreSQL: VACUUM ANALYZE, which autovacuum would do shortly after such a load anyway."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in ("response", "response_segment", "answer"):
                connection.execute(text(f"VACUUM ANALYZE {table}"))


# ------------------------------------------------------------------------------------------- timing


@dataclass
class Timing:
    what: str
    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def best(self) -> float:
        return min(self.times) * 1000


def timed(what: str, action: Callable[[], object], repeat: int) -> Timing:
    action()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return Timing(what, times)


def interleaved(actions: Sequence[tuple[str, Callable[[], object]]], repeat: int) -> list[Timing]:
    """Like ``timed`` for several actions, run in turn in each round, so that a busy moment of the
    machine slows all of them alike and their ratios stay meaningful."""
    for _, action in actions:
        action()  # warm-up
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeat):
        for index, (_, action) in enumerate(actions):
            start = time.perf_counter()
            action()
            times[index].append(time.perf_counter() - start)
    return [Timing(what, spent) for (what, _), spent in zip(actions, times, strict=True)]


def captured_sql(engine: Engine, action: Callable[[], object]) -> str:
    """The first statement ``action`` runs, compiled for this database with its parameters inlined."""
    statements: list[Any] = []

    def capture(_conn, clauseelement, _multiparams, _params, _options):  # type: ignore[no-untyped-def]
        statements.append(clauseelement)

    event.listen(engine, "before_execute", capture)
    try:
        action()
    finally:
        event.remove(engine, "before_execute", capture)
    return str(statements[0].compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


class StatementLog:
    """The SQL statements run while it is open, with their parameters, as the driver got them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []

    def _record(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self.statements.append((statement, parameters))

    def __enter__(self) -> StatementLog:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def rerun(self, repeat: int) -> list[tuple[str, float, int]]:
        """Each statement run again bare (driver SQL, fetchall): (statement, median seconds, rows)."""
        results = []
        with self.engine.connect() as connection:
            for statement, parameters in self.statements:
                rows = connection.exec_driver_sql(statement, parameters).fetchall()
                timing = timed("", lambda: connection.exec_driver_sql(statement, parameters).fetchall(), repeat)  # noqa: B023
                results.append((" ".join(statement.split()), timing.median / 1000, len(rows)))
        return results


def measure(engine: Engine, fixture: Fixture, models: Any, filters: list[ResolvedFilter], repeat: int,
            label: str, verbose: bool) -> list[Timing]:  # fmt: skip
    wave = fixture.wave

    def report(session: Session) -> str:
        return json.dumps(
            report_json(gap_report(session, fixture.survey, wave, fixture.items, models, THRESHOLD, filters))
        )

    with Session(engine) as session:
        sql = captured_sql(engine, lambda: histograms(session, wave, filters))
    if verbose:
        print(f"\n-- GROUP BY of histograms(){' with' + label if label else ''}:\n{sql}")

    def report_without_group_by(session: Session, counts: object) -> str:
        """The report with histograms() answering from memory: everything but the GROUP BY."""
        with mock.patch.object(perception.report, "histograms", lambda *_args, **_kwargs: counts):
            return report(session)

    # One connection or session each, opened before timing (as a request has its session already).
    with (
        engine.connect() as connection,
        Session(engine) as orm_session,
        Session(engine) as report_session,
        Session(engine) as rest_session,
    ):
        counts = histograms(rest_session, wave, filters)
        timings = interleaved(
            [
                (f"GROUP BY, bare SQL{label}", lambda: connection.execute(text(sql)).fetchall()),
                (f"GROUP BY, histograms(){label}", lambda: histograms(orm_session, wave, filters)),
                (f"JSON report{label}", lambda: report(report_session)),
                (f"  report minus its GROUP BY{label}", lambda: report_without_group_by(rest_session, counts)),
            ],
            repeat,
        )

    if verbose:  # where the report's database time goes: each of its statements, re-run bare
        with Session(engine) as session, StatementLog(engine) as log:
            report(session)
        print(f"\n-- statements of one report{label}, each re-run bare (median ms, rows)")
        results = log.rerun(repeat)
        for statement, seconds, rows in results:
            print(f"{seconds * 1000:9.1f} {rows:6}  {statement[:140]}")
        print(f"{sum(seconds for _, seconds, _ in results) * 1000:9.1f}         total")
    return timings


def print_table(timings: Sequence[Timing]) -> None:
    bare = {t.what.replace("GROUP BY, bare SQL", ""): t for t in timings if t.what.startswith("GROUP BY, bare SQL")}
    orm = {
        t.what.replace("GROUP BY, histograms()", ""): t for t in timings if t.what.startswith("GROUP BY, histograms()")
    }
    print(f"\n{'what':<56} {'median ms':>10} {'min ms':>10} {'/bare SQL':>10} {'/histograms()':>14}")
    for timing in timings:
        ratio_bare = ratio_orm = ""
        if timing.what.startswith("JSON report"):
            suffix = timing.what.replace("JSON report", "")
            ratio_bare = f"{timing.median / bare[suffix].median:.2f}"
            ratio_orm = f"{timing.median / orm[suffix].median:.2f}"
        print(f"{timing.what:<56} {timing.median:>10.1f} {timing.best:>10.1f} {ratio_bare:>10} {ratio_orm:>14}")
    print("(ratios are of medians; the target is a report at most 1.5 times its GROUP BY)")


def profile_report(engine: Engine, fixture: Fixture, models: Any, filters: list[ResolvedFilter]) -> None:
    with Session(engine, expire_on_commit=False) as session:
        gap_report(session, fixture.survey, fixture.wave, fixture.items, models, THRESHOLD, filters)  # warm
    profiler = cProfile.Profile()
    with Session(engine, expire_on_commit=False) as session:
        profiler.enable()
        json.dumps(
            report_json(gap_report(session, fixture.survey, fixture.wave, fixture.items, models, THRESHOLD, filters))
        )
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    cumulative: dict[str, float] = {}
    driver = 0.0  # sqlite3 or psycopg cursor execute and fetch: the database's work and the wire
    for (filename, _line, function), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        ours = filename.endswith(("perception/report.py", "perception/segments.py"))
        if ours or function in ("report_json", "dumps"):
            cumulative[function] = cumulative.get(function, 0.0) + ct
        sqlite_call = "sqlite3.Cursor" in function and ("'execute'" in function or "'fetch" in function)
        psycopg_call = filename.endswith("psycopg/cursor.py") and function in ("execute", "fetchall", "fetchone")
        if sqlite_call or psycopg_call:
            driver += ct
    total = stats.total_tt  # type: ignore[attr-defined]
    parts = [
        ("histograms(): its GROUP BY and the rows", cumulative.get("histograms", 0.0)),
        ("all statements, in the driver (execute, fetch)", driver),
        ("protect(): group sizes of the filter", cumulative.get("protect", 0.0)),
        ("response_counts()", cumulative.get("response_counts", 0.0)),
        ("statistics: _side, _gap, benjamini_hochberg, _dimensions",
         sum(cumulative.get(name, 0.0) for name in ("_side", "_gap", "benjamini_hochberg", "_dimensions"))),
        ("report_json() and json.dumps", cumulative.get("report_json", 0.0) + cumulative.get("dumps", 0.0)),
    ]  # fmt: skip
    print(f"{'total (under cProfile)':<60} {total * 1000:9.1f} ms")
    for what, seconds in parts:
        print(f"{what:<60} {seconds * 1000:9.1f} ms")
    stats.sort_stats("tottime").print_stats(12)
    print(out.getvalue())


# --------------------------------------------------------------------------------------------- main


def pages(app: Any, fixture: Fixture, repeat: int) -> None:
    """The dashboard as a leader's browser loads it (one page, charts inside), a chart alone, the board pack."""
    from perception.accounts import create_account

    with perception.db.session_scope(app) as session:
        create_account(session, "bench-leader@example.com", "leader", "benchmark password")
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"csrf_token": token, "email": "bench-leader@example.com",
                                "password": "benchmark password"})  # fmt: skip
    base = f"/surveys/{fixture.survey.slug}/waves/{fixture.wave.name}"

    def get(path: str) -> Callable[[], object]:
        def action() -> object:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response.data

        return action

    def answer_then_get(path: str) -> Callable[[], object]:
        """A customer answers every item, then the page is asked for: its first view since."""
        page = get(path)

        def action() -> object:
            with perception.db.session_scope(app) as session:
                response = Response(wave_id=fixture.wave.id, side="customer", submitted_on=date(2026, 11, 30))
                session.add(response)
                session.flush()
                session.add_all(
                    Answer(response_id=response.id, item_id=item.id, wave_id=fixture.wave.id, side="customer",
                           value=SCALES[item.scale].high)
                    for item in fixture.items
                )  # fmt: skip
            return page()

        return action

    print(f"\n== pages, repeat {repeat} after one warm-up")
    timings = [
        timed("dashboard: report page, its charts inside", get(base + "/report"), repeat),
        timed("dashboard, first view after a new customer response", answer_then_get(base + "/report"), repeat),
        timed("gap chart alone (gaps.svg)", get(base + "/gaps.svg"), repeat),
        timed("board pack PDF", get(base + "/report.pdf"), repeat),
    ]
    for timing in timings:
        print(f"{timing.what:<56} {timing.median:>10.1f} {timing.best:>10.1f}  (median, min ms)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server URL; the benchmark uses a database "
                        f"{BENCH_DATABASE!r} it creates there (default: SQLite in a temporary folder)")  # fmt: skip
    parser.add_argument("--customers", type=int, default=1_000_000, help="customer answers (default 1,000,000)")
    parser.add_argument("--employees", type=int, default=100_000, help="employee answers (default 100,000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after one warm-up (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the database (and print where it is)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print the SQL and per-statement times")
    parser.add_argument("--profile", action="store_true", help="cProfile one unfiltered and one filtered report")
    parser.add_argument("--try-sql", action="append", default=[], metavar="SQL",
                        help="after a first measurement, run this SQL on the benchmark database (e.g. CREATE "
                             "INDEX ...) and measure again; repeatable")  # fmt: skip
    args = parser.parse_args(argv)

    with database(args.database_url, args.keep) as (url, folder):
        app = perception.create_app({"INSTANCE_PATH": str(folder / "instance"), "DATABASE_URL": url})
        engine = perception.db.engine_of(app)
        perception.db.upgrade(app)
        models = app.extensions["perception"].registries.scoring_models
        fixture = store_survey(app)
        print(f"database: {engine.dialect.name} ({engine.url.render_as_string(hide_password=True)})")

        start = time.perf_counter()
        sides = generate(fixture, args.customers, args.employees)
        generated = time.perf_counter() - start
        start = time.perf_counter()
        counts = load(engine, fixture, sides)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        analyze(engine)
        analyzed = time.perf_counter() - start
        print(f"generated in {generated:.1f} s; loaded {counts['response']:,} responses, "
              f"{counts['response_segment']:,} segment values and {counts['answer']:,} answers in {loaded:.1f} s"
              + (f"; VACUUM ANALYZE {analyzed:.1f} s" if engine.dialect.name == "postgresql" else ""))  # fmt: skip
        for data in sides:
            print(f"  {data.side}: {len(data.response_ids):,} responses, {data.values.size:,} answers")

        first_department = SEGMENTS["employee"]["department"][0][0]
        segment = f"employee:department={first_department}"
        with Session(engine) as session:
            filters = resolve(session, fixture.survey, [parse_filter(segment)])

        with Session(engine) as session:  # a look at the data: the shifts should show as blind spots
            for label, chosen in (("all responses", []), (segment, filters)):
                built = gap_report(session, fixture.survey, fixture.wave, fixture.items, models, THRESHOLD, chosen)
                verdicts = Counter(row.verdict for row in built.rows)
                print(f"verdicts, {label}: " + ", ".join(f"{name} {count}" for name, count in sorted(verdicts.items())))

        def run(title: str) -> None:
            print(f"\n== {title}")
            timings = measure(engine, fixture, models, [], args.repeat, "", args.verbose)
            timings += measure(engine, fixture, models, filters, args.repeat, f" [{segment}]", args.verbose)
            print_table(timings)

        run(f"{engine.dialect.name}, {counts['answer']:,} answers, repeat {args.repeat} after one warm-up")
        pages(app, fixture, args.repeat)
        if args.profile:
            for label, chosen in (("unfiltered", []), (segment, filters)):
                print(f"\n== cProfile, one report, {label}")
                profile_report(engine, fixture, models, chosen)
        for statement in args.try_sql:
            start = time.perf_counter()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text(statement))
            analyze(engine)
            print(f"\nran {statement!r} in {time.perf_counter() - start:.1f} s")
        if args.try_sql:
            run(f"after {'; '.join(args.try_sql)}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
