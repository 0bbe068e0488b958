"""`GET /mm-apis/whoami`: the caller and every customer it may see, for the portal's customer switcher."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sightline.auth.kinds import KeyKind, Role


@pytest.fixture(autouse=True)
def accounts(app: FastAPI) -> None:
    accounts = app.state.auth.accounts
    accounts.add_customer(1001, "Alpha", 6831)
    accounts.add_customer(1002, "Beta", 6830)
    accounts.add_customer(1003, "Gamma", 6829)
    accounts.add_user("both@example.com", "password-b", [1002, 1001], Role.VIEWER)


def _token(client: TestClient) -> str:
    response = client.post(
        "/oauth/token", data={"grant_type": "password", "username": "both@example.com", "password": "password-b"}
    )
    token: str = response.json()["access_token"]
    return token


def test_a_user_of_two_customers_sees_both_with_their_plans_and_no_other(client: TestClient) -> None:
    response = client.get("/mm-apis/whoami", headers={"Authorization": f"Bearer {_token(client)}"})
    assert response.status_code == 200
    assert response.json() == {
        "caller": {"kind": "user", "subject": "both@example.com", "role": "viewer"},
        "customers": [
            {"customerid": 1001, "name": "Alpha", "planlevel": 6831, "plan": "Enterprise"},
            {"customerid": 1002, "name": "Beta", "planlevel": 6830, "plan": "Professional"},
        ],
    }


def test_an_api_key_sees_its_one_customer(client: TestClient, app: FastAPI) -> None:
    key = app.state.auth.accounts.create_key(KeyKind.API, 1003)[1]
    response = client.get("/mm-apis/whoami", headers={"X-API-Key": key})
    assert response.status_code == 200
    assert [c["customerid"] for c in response.json()["customers"]] == [1003]


def test_without_credentials_it_is_401(client: TestClient) -> None:
    response = client.get("/mm-apis/whoami")
    assert response.status_code == 401
    assert "bearer" in response.headers["www-authenticate"].lower()
