"""schemathesis against the app's OpenAPI document: requests generated from the schema, valid ones and ones
that break it, to every operation, as the head office's ``admin`` (every permission, so writes are tried too)
and anonymously, answer without one server error (issue 17: "schemathesis against the OpenAPI document with 0
server errors"). The cases are drawn by Hypothesis from each operation's strategy (schemathesis's pytest
plugin does not run under this pytest)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from web_project import make_project

from icam.web.app import create_app


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web_openapi")
    tokens = make_project(folder)
    app = create_app(folder)
    return app, tokens, schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


def test_the_document_lists_the_contracts_operations(project):
    _, _, schema = project
    operations = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert {("GET", "/api/v1/credits/serials/{serial}"), ("GET", "/api/v1/households"),
            ("POST", "/api/v1/deliveries")} <= operations and len(operations) >= 15


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error_for_any_request_the_schema_allows_or_not(project, mode):
    _, tokens, schema = project
    failures, tried = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case):
            for headers in ({"Authorization": f"Bearer {tokens['admin']}"}, {}):
                response = case.call(headers=headers)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                    f"{response.text[:200]}")

        try:
            call()
            tried += 1
        except Unsatisfiable:  # no way to break an operation without parameters or body (GET /api/v1/me)
            assert mode == GenerationMode.NEGATIVE
    assert failures == [] and tried >= (17 if mode == GenerationMode.POSITIVE else 5)
