"""A real SMTP server on loopback (aiosmtpd) that keeps and parses what it receives.

Any test can ask for ``mailbox``; ``mailbox.settings`` are the app settings that send to it::

    def test_something(app_config, mailbox):
        app = create_app({**app_config, **mailbox.settings})
        ...
        message = mailbox.wait_for(1)[0]      # an email.message.EmailMessage
        assert message["To"] == "ana@example.com"

``start_mailbox()`` makes one with options (refused recipients, a password, STARTTLS), and
``silent_server()`` stands in for a server that accepts connections and never answers.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

WAIT_SECONDS = 60.0


@dataclass
class Received:
    peer: Any  # the client's (address, port): one per connection
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Mailbox:
    host: str
    port: int
    refused: dict[str, int] = field(default_factory=dict)  # address -> SMTP code answered to RCPT
    received: list[Received] = field(default_factory=list)
    security: str = "none"
    hold_after: int | None = None  # after this many messages, the next one waits, unanswered, until release()
    holding: threading.Event = field(default_factory=threading.Event)
    _released: threading.Event = field(default_factory=threading.Event)
    user: str = ""
    password: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def settings(self) -> dict[str, Any]:
        """App settings that send to this server."""
        return {
            "SMTP_HOST": self.host,
            "SMTP_PORT": self.port,
            "SMTP_SECURITY": self.security,
            "SMTP_USER": self.user,
            "SMTP_PASSWORD": self.password,
            "SMTP_FROM": "Perception <surveys@example.com>",
            "SMTP_TIMEOUT": 30,
        }

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [entry.message for entry in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [entry.message for entry in self.received if address in entry.recipients]

    def connections(self) -> int:
        """How many connections delivered messages."""
        with self._lock:
            return len({entry.peer for entry in self.received})

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[EmailMessage]:
        """At least ``count`` messages, polled for until ``timeout`` (generous: a loaded machine is slow)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            if len(messages) >= count:
                return messages
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the mailbox holds {len(messages)} messages after {timeout:g} s; expected {count}"
                )
            time.sleep(0.05)

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        code = self.refused.get(address.lower())
        if code:
            return f"{code} {'5.1.1 no such user' if code >= 500 else '4.2.1 try again later'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def release(self) -> None:
        """Let a held message, and every later one, through."""
        self.hold_after = None
        self._released.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hold_after is not None and len(self.received) >= self.hold_after:
            self.holding.set()  # a sender is now waiting for the server's answer: a worker can be killed here
            while not self._released.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 held and dropped"
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(Received(session.peer, envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class _LoopbackController(Controller):
    """aiosmtpd on a socket bound beforehand to a free loopback port: no port is guessed."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        super().__init__(
            handler, hostname="127.0.0.1", port=sock.getsockname()[1], ready_timeout=WAIT_SECONDS, **kwargs
        )

    def _create_server(self):  # type: ignore[no-untyped-def]
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def _trigger_server(self) -> None:
        with socket.create_connection((self.hostname, self.port), WAIT_SECONDS) as connection:
            connection.recv(1024)


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with openssl; trusted where SSL_CERT_FILE names it."""
    certificate, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return certificate, key


@contextmanager
def start_mailbox(
    refused: dict[str, int] | None = None,
    user: str = "",
    password: str = "",
    certificate: tuple[Path, Path] | None = None,
) -> Iterator[Mailbox]:
    """A running server: ``refused`` recipients get that SMTP code; ``user``/``password`` are required
    when given; ``certificate`` (see self_signed_certificate) turns on required STARTTLS."""
    sock = _bound_socket()
    mailbox = Mailbox(host="127.0.0.1", port=sock.getsockname()[1], refused=dict(refused or {}))
    options: dict[str, Any] = {}
    if user:
        mailbox.user, mailbox.password = user, password

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                user.encode(),
                password.encode(),
            )
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=authenticate, auth_required=True, auth_require_tls=certificate is not None)
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
        options.update(tls_context=context, require_starttls=True)
        mailbox.security = "starttls"
    controller = _LoopbackController(mailbox, sock, **options)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
        sock.close()


@contextmanager
def silent_server() -> Iterator[tuple[str, int]]:
    """A server that takes connections and never says a word, as a hung mail server does.

    The kernel completes connections into the listening socket's backlog; nobody reads them.
    """
    sock = _bound_socket()
    try:
        yield "127.0.0.1", sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A fresh SMTP server on a free loopback port, stopped after the test."""
    with start_mailbox() as box:
        yield box
