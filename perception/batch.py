"""Reads that the events of one batch share.

The outbox hands the plugins many responses at once. The alert rules of a survey and the webhook
endpoints listening to an event are the same for all of them, so within a batch each is read once
(``kept``); outside a batch (a Huey task, a command) it is read every time, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_KEPT: ContextVar[dict[Hashable, Any] | None] = ContextVar("perception_batch", default=None)


@contextmanager
def one_batch() -> Iterator[None]:
    """Within the block, ``kept`` reads each key once."""
    token = _KEPT.set({})
    try:
        yield
    finally:
        _KEPT.reset(token)


def kept(key: Hashable, read: Callable[[], T]) -> T:
    """``read()``, once per batch for the same key (every time outside a batch)."""
    memo = _KEPT.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]  # type: ignore[no-any-return]
