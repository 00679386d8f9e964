"""Messages per second from a wave's dispatch to an SMTP server on loopback (aiosmtpd).

    python benchmarks/dispatch_throughput.py [--contacts 2000] [--batch 100] [--database-url URL]

Imports N customers, plans one invitation each, then sends them twice over (a new wave each time):
once by calling the batch function in a loop (one process, one thread: the cost of a message),
once through a real Huey consumer on the embedded SQLite queue with 2 worker threads (what
`perception serve` does). Every message is rendered in HTML and text, and received and parsed.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller

from perception import create_app
from perception.contacts import import_contacts
from perception.db import session_scope, upgrade
from perception.dispatch import send_batch, start_dispatch
from perception.invitations import plan_invitations
from perception.surveys import parse_definition, store_definition
from perception.tasks import start_consumer
from perception.waves import create_wave, open_wave

DEFINITION = {
    "slug": "bench-dispatch",
    "title": {"en": "Dispatch benchmark", "fr": "Banc d'essai"},
    "items": [{"key": "easy", "dimension": "Time and Effort", "scale": "ces",
               "customer": {"en": "Easy?"}, "employee": {"en": "Do customers find it easy?"}}],
}  # fmt: skip


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    arguments = parser.parse_args()
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=free_port(), ready_timeout=60)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = {
                "INSTANCE_PATH": folder, "BASE_URL": "http://perception.test", "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": controller.port, "SMTP_SECURITY": "none", "SMTP_FROM": "surveys@example.com",
                "DISPATCH_BATCH": arguments.batch, "FREQUENCY_COLD_DAYS": 0,
            }  # fmt: skip
            if arguments.database_url:
                config["DATABASE_URL"] = arguments.database_url
            app = create_app(config)
            upgrade(app)
            channel = app.extensions["perception"].registries.channels["email"]
            with session_scope(app) as session:
                survey = store_definition(
                    session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
                )
                text = "email,language\n" + "".join(
                    f"c{n}@example.com,{'fr' if n % 2 else 'en'}\n" for n in range(arguments.contacts)
                )
                import_contacts(session, "customer", text.encode())

            def plan(name: str) -> int:
                with session_scope(app) as session:
                    wave = create_wave(session, survey, name)
                    open_wave(wave)
                    return plan_invitations(app, session, wave, "customer", channel).id  # type: ignore[return-value]

            dispatch_id = plan("loop")
            started = time.perf_counter()
            with app.app_context():
                while send_batch(app, dispatch_id).more_due:
                    pass
            elapsed = time.perf_counter() - started
            print(f"batch loop, 1 thread:      {arguments.contacts} messages in {elapsed:.2f} s "
                  f"= {arguments.contacts / elapsed:,.0f} messages/s")  # fmt: skip

            dispatch_id = plan("consumer")
            before = counter.count
            consumer = start_consumer(app, workers=2)
            try:
                started = time.perf_counter()
                with session_scope(app) as session:
                    from perception.models import Dispatch

                    start_dispatch(app, session.get(Dispatch, dispatch_id))
                deadline = started + 600
                while counter.count - before < arguments.contacts and time.perf_counter() < deadline:
                    time.sleep(0.01)
                elapsed = time.perf_counter() - started
            finally:
                consumer.stop(graceful=True)
            sent = counter.count - before
            print(f"Huey consumer, 2 threads:  {sent} messages in {elapsed:.2f} s = {sent / elapsed:,.0f} messages/s")
            app.extensions["perception"].engine.dispose()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
