"""What the OpenAPI document promises and the answers that keep it, beyond what the fuzzer finds by chance:
every error answer in the envelope, 405 naming every method of the path."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from sightline.auth.plans import ACCESS_RULES

ERROR_REF = "#/components/schemas/ErrorResponse"


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/openapi.json").json()
    return [(method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_a_method_a_path_does_not_take_is_405_naming_every_method_it_takes(client: TestClient) -> None:
    response = client.request("PUT", "/mm-apis/smartQuery/1001/queries/0b5e4a9c-7c61-4b8e-9d7e-111111111111")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert sorted(m.strip() for m in response.headers["allow"].split(",")) == ["DELETE", "GET"]
    sdk = client.request("POST", "/sdk/sightline.js")
    assert sorted(m.strip() for m in sdk.headers["allow"].split(",")) == ["GET", "HEAD"]


NOT_IN_THE_ENVELOPE = {("/readyz", "503"), ("/media/{ingestKey}/{path}", "416")}
"""Error answers of their own shape: the readiness check's, and a file server's plain-text 416."""


def test_every_error_answer_is_documented_in_the_envelope_with_its_access_rule(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    envelope = spec["components"]["schemas"]["ErrorBody"]
    assert set(envelope["properties"]) == {"code", "message", "parameter", "requestid"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for method, path, operation in _operations(client):
        responses = operation["responses"]
        assert "422" not in responses, f"{method} {path}: FastAPI's 422 is never answered"
        assert operation["x-access"] in ACCESS_RULES, f"{method} {path}"
        for status, answer in responses.items():
            if status[0] in "45" and (path, status) not in NOT_IN_THE_ENVELOPE:
                assert answer["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, f"{method} {path}"


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/mm-apis/metricquery/{customerId}", {"400", "401", "403", "503", "504"}),
        ("/mm-apis/catalog", {"401"}),
        ("/generateOAuthToken", {"400", "413", "429"}),
        ("/collect", {"400", "401", "413", "415", "503"}),
        ("/cmcd/{ingestKey}", {"400", "401", "410", "413", "415", "429"}),
    ],
)
def test_routes_document_the_errors_they_answer(client: TestClient, path: str, statuses: set[str]) -> None:
    (operation,) = [op for _, p, op in _operations(client) if p == path]
    assert {status for status in operation["responses"] if status[0] in "45"} == statuses
