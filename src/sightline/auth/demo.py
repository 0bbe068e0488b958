"""Demo accounts: a customer with one user, one API key and one ingest key, for `sightline demo`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sightline.auth.kinds import KeyKind, Role
from sightline.auth.service import AuthService


@dataclass(frozen=True, slots=True)
class DemoAccount:
    customer_id: int
    name: str
    plan_level: int
    username: str
    password: str
    api_key: str
    ingest_key: str

    def to_json(self) -> dict[str, Any]:
        """The customer's entry in demo.json."""
        return {
            "id": self.customer_id,
            "name": self.name,
            "plan_level": self.plan_level,
            "username": self.username,
            "password": self.password,
            "api_key": self.api_key,
            "ingest_key": self.ingest_key,
        }


def provision_demo_customer(
    auth: AuthService, customer_id: int, name: str, plan_level: int, username: str, password: str
) -> DemoAccount:
    """Create the customer, its admin user with `password`, an API key and an ingest key."""
    auth.accounts.add_customer(customer_id, name, plan_level)
    auth.accounts.add_user(username, password, [customer_id], Role.ADMIN)
    _, api_key = auth.accounts.create_key(KeyKind.API, customer_id, "demo")
    _, ingest_key = auth.accounts.create_key(KeyKind.INGEST, customer_id, "demo")
    return DemoAccount(customer_id, name, plan_level, username, password, api_key, ingest_key)
