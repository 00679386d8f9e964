"""What the tests of a real server share: `perception serve` started on a test's database."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.test_serve import free_port, wait_until


@dataclass(frozen=True)
class Served:
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path


@contextmanager
def perception_serve(
    database_url: str, folder: Path, secret: str, workers: int, extra_env: Mapping[str, str] | None = None
) -> Iterator[Served]:
    """`perception serve` with ``workers`` gunicorn workers on that database, its instance in
    ``folder``, answering pages before this yields; stopped after. Its log is in ``folder``.
    ``extra_env`` is added to its environment (plugins to load, for instance)."""
    env = {
        **os.environ,
        "PERCEPTION_DATABASE_URL": database_url,
        "PERCEPTION_INSTANCE_PATH": str(folder / "served"),
        "PERCEPTION_SECRET_KEY": secret,
        **(extra_env or {}),
    }
    env.pop("PERCEPTION_QUEUE_URL", None)
    port = free_port()
    log_path = folder / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "perception", "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Served(f"http://127.0.0.1:{port}", process, log_path)

    def answering() -> bool:
        assert process.poll() is None, log_path.read_text()
        try:
            return urllib.request.urlopen(served.base + "/thanks", timeout=5).status == 200
        except OSError:
            return False

    try:
        wait_until(answering, 120)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=60)
