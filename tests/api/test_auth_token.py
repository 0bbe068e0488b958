"""`POST /generateOAuthToken`, `/oauth/token` and `/oauth/revoke` through the real app: every grant and failure."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.auth.fixtures import ManualClock

PASSWORD = {"grant_type": "password", "username": "ann@example.com", "password": "password-a"}


@pytest.fixture(autouse=True)
def accounts(app: FastAPI) -> None:
    app.state.auth.accounts.add_customer(1001, "Alpha", 6831)
    app.state.auth.accounts.add_user("ann@example.com", "password-a", [1001])


def _token(client: TestClient, path: str = "/generateOAuthToken", **form: str) -> httpx.Response:
    response: httpx.Response = client.post(path, data=form or PASSWORD)
    return response


def _whoami(client: TestClient, access_token: str) -> httpx.Response:
    response: httpx.Response = client.get("/mm-apis/whoami/1001", headers={"Authorization": f"Bearer {access_token}"})
    return response


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "parameter", "requestid"}
    return error


@pytest.mark.parametrize("path", ["/generateOAuthToken", "/oauth/token"])
def test_the_password_grant_answers_201_as_the_spec_shows(client: TestClient, path: str) -> None:
    response = _token(client, path)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("bearer", 18000, "read write")
    assert response.headers["cache-control"] == "no-store"
    assert _whoami(client, body["access_token"]).status_code == 200


def test_a_json_body_is_accepted_as_well(client: TestClient) -> None:
    assert client.post("/generateOAuthToken", json=PASSWORD).status_code == 201


@pytest.mark.parametrize("field", ["refresh_token", "username"])
def test_the_refresh_grant_takes_the_token_in_refresh_token_or_username(client: TestClient, field: str) -> None:
    first = _token(client).json()
    response = _token(client, grant_type="refresh_token", **{field: first["refresh_token"]})
    assert response.status_code == 201
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert _whoami(client, second["access_token"]).status_code == 200


def test_reusing_a_refresh_token_revokes_the_login(client: TestClient) -> None:
    first = _token(client).json()
    second = _token(client, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    reuse = _token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert (reuse.status_code, _error(reuse)["code"]) == (400, "invalid_grant")
    for token in (first["access_token"], second["access_token"]):
        assert _whoami(client, token).status_code == 401
    assert _token(client, grant_type="refresh_token", refresh_token=second["refresh_token"]).status_code == 400


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client: TestClient) -> None:
    wrong = _token(client, grant_type="password", username="ann@example.com", password="password-b")
    unknown = _token(client, grant_type="password", username="nobody@example.com", password="password-a")
    assert wrong.status_code == unknown.status_code == 400
    assert _error(wrong) | {"requestid": None} == _error(unknown) | {"requestid": None}  # each has its own id
    assert _error(wrong)["code"] == "invalid_grant"


@pytest.mark.parametrize(
    ("form", "code", "parameter"),
    [
        ({"username": "ann@example.com", "password": "password-a"}, "invalid_request", "grant_type"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type", "grant_type"),
        ({"grant_type": "password", "password": "password-a"}, "invalid_request", "username"),
        ({"grant_type": "password", "username": "ann@example.com"}, "invalid_request", "password"),
        ({"grant_type": "refresh_token"}, "invalid_request", "refresh_token"),
        ({"grant_type": "refresh_token", "refresh_token": "slr_forged"}, "invalid_grant", None),
    ],
)
def test_bad_token_requests_are_400_naming_what_is_wrong(
    client: TestClient, form: dict[str, str], code: str, parameter: str | None
) -> None:
    response = _token(client, **form)
    assert response.status_code == 400
    assert (_error(response)["code"], _error(response)["parameter"]) == (code, parameter)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"grant_type=password", "text/plain"), (b"{not json", "application/json"), (b"[1]", "application/json")],
)
def test_bodies_that_are_neither_form_nor_json_object_are_400(
    client: TestClient, content: bytes, content_type: str
) -> None:
    response = client.post("/generateOAuthToken", content=content, headers={"Content-Type": content_type})
    assert (response.status_code, _error(response)["code"]) == (400, "invalid_request")


@pytest.mark.parametrize("path", ["/generateOAuthToken", "/oauth/revoke"])
def test_json_nested_too_deeply_is_400_not_a_server_error(client: TestClient, path: str) -> None:
    response = client.post(path, content=b"[" * 100_000, headers={"Content-Type": "application/json"})
    assert (response.status_code, _error(response)["code"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("path", "body", "parameter"),
    [
        ("/generateOAuthToken", b'{"grant_type":"password","username":"a\\ud800","password":"b"}', "username"),
        ("/generateOAuthToken", b'{"grant_type":"password","username":"a","password":"\\udfff"}', "password"),
        ("/oauth/token", b'{"grant_type":"refresh_token","refresh_token":"\\udc00"}', "refresh_token"),
        ("/oauth/revoke", b'{"token":"\\ud800"}', "token"),
    ],
)
def test_a_lone_surrogate_is_400_naming_its_field_not_a_server_error(
    client: TestClient, path: str, body: bytes, parameter: str
) -> None:
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, _error(response)["code"]) == (400, "invalid_request"), response.text
    assert _error(response)["parameter"] == parameter


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "application/json"])
def test_a_body_past_a_mebibyte_is_413(client: TestClient, content_type: str) -> None:
    body = b"grant_type=password&username=ann%40example.com&password=" + b"x" * (1 << 20)
    response = client.post("/generateOAuthToken", content=body, headers={"Content-Type": content_type})
    assert (response.status_code, _error(response)["code"]) == (413, "body_too_large")


def test_a_multipart_form_is_read_as_well(client: TestClient) -> None:
    response = client.post("/generateOAuthToken", files={k: (None, v) for k, v in PASSWORD.items()})
    assert response.status_code == 201


def test_five_failed_logins_in_a_minute_answer_429_with_retry_after(client: TestClient, clock: ManualClock) -> None:
    for _ in range(5):
        failed = _token(client, grant_type="password", username="ann@example.com", password="wrong-one")
        assert failed.status_code == 400
        clock.advance(1)
    blocked = _token(client)
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "55"
    assert _error(blocked)["code"] == "too_many_requests"
    clock.advance(55)
    assert _token(client).status_code == 201


def test_an_expired_access_token_is_401_with_a_bearer_challenge(client: TestClient, clock: ManualClock) -> None:
    token = _token(client).json()["access_token"]
    clock.advance(18_000)
    response = _whoami(client, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert _error(response)["code"] == "invalid_token"


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
def test_the_revocation_endpoint_ends_the_login(client: TestClient, which: str) -> None:
    pair = _token(client).json()
    assert client.post("/oauth/revoke", data={"token": pair[which]}).status_code == 200
    assert _whoami(client, pair["access_token"]).status_code == 401
    assert _token(client, grant_type="refresh_token", refresh_token=pair["refresh_token"]).status_code == 400


def test_revoking_an_unknown_token_is_200_and_no_token_is_400(client: TestClient) -> None:
    unknown = client.post("/oauth/revoke", data={"token": "sla_unknown"})
    assert unknown.status_code == 200
    assert (unknown.headers["content-type"], unknown.json()) == ("application/json", {})
    response = client.post("/oauth/revoke", data={"token_type_hint": "access_token"})
    assert (response.status_code, _error(response)["parameter"]) == (400, "token")


def test_openapi_documents_the_form_body_and_both_credentials(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/generateOAuthToken"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/x-www-form-urlencoded", "application/json"}
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    assert set(spec["paths"]["/mm-apis/whoami/{customerId}"]["get"]["responses"]) >= {"200", "401", "403"}


def test_a_multipart_body_without_its_boundary_is_400(client: TestClient) -> None:
    response = client.post("/generateOAuthToken", content=b"x", headers={"Content-Type": "multipart/form-data"})
    assert (response.status_code, _error(response)["code"]) == (400, "invalid_request")
