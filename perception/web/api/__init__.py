"""The JSON API under /api/v1: bearer tokens with scopes, problem details, an OpenAPI document.

Each resource lives in its own module and declares its operations with
`perception.web.api.base.operation`; importing them here routes them on the one blueprint.
"""

from __future__ import annotations

from perception.web.api import (
    alerts,
    ideas,
    invitations,
    openapi,
    reports,
    responses,
    stories,
    surveys,
    waves,
)
from perception.web.api.base import ApiProblem, blueprint, operation, problem, wants_problem

__all__ = [
    "ApiProblem",
    "alerts",
    "blueprint",
    "ideas",
    "invitations",
    "openapi",
    "operation",
    "problem",
    "reports",
    "responses",
    "stories",
    "surveys",
    "wants_problem",
    "waves",
]
