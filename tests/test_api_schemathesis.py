"""schemathesis against the OpenAPI document: no server error, no response that breaks the schema.

Bounded so that it stays a test, not a fuzzing campaign: a few derandomized examples per
operation, no deadline (the machine may be loaded), no example database written to disk.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from perception import create_app
from tests.test_api_ideas_stories import seed_ideas, seed_stories
from tests.test_api_resources import token_for
from tests.test_exports import seed

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzzed_app(app_config: dict) -> Flask:
    app = create_app({**app_config, "API_RATE_LIMIT": 100_000})
    yield app
    app.extensions["perception"].engine.dispose()


def test_the_api_keeps_its_openapi_contract_under_generated_calls(fuzzed_app: Flask) -> None:
    seed(fuzzed_app, employees=["Counter"] * 6)
    seed_ideas(fuzzed_app)
    seed_stories(fuzzed_app)
    headers = token_for(
        fuzzed_app, "reports:read", "surveys:manage", "responses:import", "responses:export", "alerts:manage",
        "invitations:send", "ideas:read", "stories:read",
    )  # fmt: skip
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzzed_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        call()
