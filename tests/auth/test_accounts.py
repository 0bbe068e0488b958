"""Account administration on a real metadata database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sightline.auth.db import migrate, open_engine
from sightline.auth.demo import provision_demo_customer
from sightline.auth.errors import AccountError, InvalidCredentialsError, InvalidTokenError
from sightline.auth.kinds import KeyKind, Role
from sightline.auth.models import Base
from sightline.auth.service import AuthService, open_auth
from sightline.settings import Settings
from tests.auth.fixtures import ManualClock


def test_migrations_are_idempotent_and_match_the_models(auth: AuthService) -> None:
    migrate(auth.engine)
    with auth.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_the_default_metadata_database_is_a_file_in_the_data_directory(settings: Settings) -> None:
    if settings.metadata_url is None:
        assert settings.metadata_database_url() == f"sqlite:///{settings.data_dir.resolve()}/metadata.db"
        open_auth(settings).close()
        assert (settings.data_dir / "metadata.db").exists()


def test_customers_are_added_once_with_a_known_plan_level(auth: AuthService) -> None:
    auth.accounts.add_customer(1002, "Beta", 6829)
    auth.accounts.add_customer(1001, "Alpha", 6831)
    assert [(c.id, c.name, c.plan_level) for c in auth.accounts.list_customers()] == [
        (1001, "Alpha", 6831),
        (1002, "Beta", 6829),
    ]
    with pytest.raises(AccountError, match="exists already"):
        auth.accounts.add_customer(1001, "Again", 6831)
    with pytest.raises(ValueError, match="unknown plan level"):
        auth.accounts.add_customer(1003, "Gamma", 7)
    with pytest.raises(AccountError, match="positive"):
        auth.accounts.add_customer(0, "Zero", 6831)


def test_users_belong_to_existing_customers_and_names_are_case_insensitive(auth: AuthService) -> None:
    auth.accounts.add_customer(1001, "Alpha", 6831)
    auth.accounts.add_customer(1002, "Beta", 6829)
    user = auth.accounts.add_user(" Ann@Example.com ", "password-1", [1002, 1001], Role.ADMIN)
    assert (user.username, user.role, user.customer_ids) == ("ann@example.com", Role.ADMIN, (1001, 1002))
    with pytest.raises(AccountError, match="exists already"):
        auth.accounts.add_user("ANN@example.com", "password-2", [1001])
    with pytest.raises(AccountError, match="no customer 1003"):
        auth.accounts.add_user("bob", "password-2", [1001, 1003])
    with pytest.raises(AccountError, match="at least 8"):
        auth.accounts.add_user("bob", "short", [1001])
    with pytest.raises(AccountError, match="at least one customer"):
        auth.accounts.add_user("bob", "password-2", [])
    auth.accounts.add_user("bob", "password-2", [1001])
    assert [(u.username, u.role, u.customer_ids) for u in auth.accounts.list_users()] == [
        ("ann@example.com", Role.ADMIN, (1001, 1002)),
        ("bob", Role.VIEWER, (1001,)),
    ]


def test_a_new_password_replaces_the_old_and_revokes_the_tokens(auth: AuthService) -> None:
    auth.accounts.add_customer(1001, "Alpha", 6831)
    auth.accounts.add_user("ann", "password-1", [1001])
    pair = auth.tokens.password_grant("ann", "password-1")
    auth.accounts.set_password("ANN", "password-2")
    with pytest.raises(InvalidTokenError):
        auth.access.principal_for_access_token(pair.access_token)
    with pytest.raises(InvalidCredentialsError):
        auth.tokens.password_grant("ann", "password-1")
    auth.tokens.password_grant("ann", "password-2")
    with pytest.raises(AccountError, match="no user nobody"):
        auth.accounts.set_password("nobody", "password-3")


@pytest.mark.parametrize("kind", list(KeyKind))
def test_keys_are_shown_once_listed_without_secret_and_revocable(auth: AuthService, kind: KeyKind) -> None:
    auth.accounts.add_customer(1001, "Alpha", 6831)
    auth.accounts.add_customer(1002, "Beta", 6829)
    key, secret = auth.accounts.create_key(kind, 1001, "web player")
    auth.accounts.create_key(kind, 1002)
    listed = auth.accounts.list_keys(kind, customer_id=1001)
    assert [(k.id, k.prefix, k.label, k.revoked_at) for k in listed] == [(key.id, secret[:10], "web player", None)]
    assert len(auth.accounts.list_keys(kind)) == 2
    with pytest.raises(AccountError, match="no customer 1003"):
        auth.accounts.create_key(kind, 1003)
    other = KeyKind.INGEST if kind is KeyKind.API else KeyKind.API
    with pytest.raises(AccountError, match=f"no {other.value} key"):
        auth.accounts.revoke_key(other, key.id)
    assert auth.accounts.revoke_key(kind, key.id).revoked_at is not None
    assert auth.accounts.list_keys(kind, customer_id=1001)[0].revoked_at is not None


def test_api_keys_read_and_ingest_keys_only_write(auth: AuthService) -> None:
    auth.accounts.add_customer(1001, "Alpha", 6831)
    api_record, api_key = auth.accounts.create_key(KeyKind.API, 1001)
    ingest_record, ingest_key = auth.accounts.create_key(KeyKind.INGEST, 1001)
    principal = auth.access.principal_for_api_key(api_key)
    assert (principal.kind, principal.customer_ids, principal.role) == ("api_key", frozenset({1001}), Role.VIEWER)
    assert auth.access.customer_for_ingest_key(ingest_key) == 1001
    assert auth.access.customer_for_ingest_key(api_key) is None
    with pytest.raises(InvalidTokenError):
        auth.access.principal_for_api_key(ingest_key)
    auth.accounts.revoke_key(KeyKind.API, api_record.id)
    auth.accounts.revoke_key(KeyKind.INGEST, ingest_record.id)
    with pytest.raises(InvalidTokenError):
        auth.access.principal_for_api_key(api_key)
    assert auth.access.customer_for_ingest_key(ingest_key) is None


def test_a_demo_customer_can_log_in_and_use_its_keys(auth: AuthService) -> None:
    account = provision_demo_customer(auth, 1001, "Northstream", 6831, "demo@northstream.example", "northstream-1")
    assert account.to_json()["id"] == 1001
    assert account.to_json()["plan_level"] == 6831
    pair = auth.tokens.password_grant(account.username, account.password)
    assert auth.access.principal_for_access_token(pair.access_token).customer_ids == {1001}
    assert auth.access.principal_for_api_key(account.api_key).customer_ids == {1001}
    assert auth.access.customer_for_ingest_key(account.ingest_key) == 1001


def test_a_postgresql_url_without_a_driver_uses_psycopg() -> None:
    engine = open_engine("postgresql://user:secret@127.0.0.1:1/none")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_a_key_revoked_by_another_process_stops_working_within_the_lookup_ttl(
    auth: AuthService, settings: Settings, clock: ManualClock
) -> None:
    auth.accounts.add_customer(1001, "Alpha", 6831)
    record, key = auth.accounts.create_key(KeyKind.API, 1001)
    assert auth.access.principal_for_api_key(key).customer_ids == {1001}
    assert auth.access.customer_scope(auth.access.principal_for_api_key(key), 1001).plan_level == 6831
    cli = open_auth(settings, clock)  # the CLI: another service on the same database
    try:
        cli.accounts.revoke_key(KeyKind.API, record.id)
    finally:
        cli.close()
    clock.advance(settings.access_cache_ttl_s - 0.5)
    assert auth.access.principal_for_api_key(key).customer_ids == {1001}  # remembered, not read again
    clock.advance(0.5)
    with pytest.raises(InvalidTokenError):
        auth.access.principal_for_api_key(key)


def test_a_revoked_key_fails_at_once_and_a_new_key_works_at_once_through_this_process(auth: AuthService) -> None:
    auth.accounts.add_customer(1001, "Alpha", 6831)
    record, key = auth.accounts.create_key(KeyKind.INGEST, 1001)
    assert auth.access.customer_for_ingest_key(key) == 1001
    auth.accounts.revoke_key(KeyKind.INGEST, record.id)
    assert auth.access.customer_for_ingest_key(key) is None
    unknown = "sl_unknown_key"
    assert auth.access.customer_for_ingest_key(unknown) is None
    _, new_key = auth.accounts.create_key(KeyKind.INGEST, 1001)
    assert auth.access.customer_for_ingest_key(new_key) == 1001
