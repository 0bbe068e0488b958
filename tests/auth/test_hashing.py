"""Password hashing and secrets."""

from __future__ import annotations

import pytest

from sightline.auth.hashing import PasswordHasher, new_secret, secret_hash


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_kib=1024)


def test_a_password_verifies_and_a_wrong_one_does_not(hasher: PasswordHasher) -> None:
    stored = hasher.hash("correct horse")
    assert stored.startswith("$argon2id$")
    assert hasher.verify("correct horse", stored) == (True, None)
    assert hasher.verify("wrong horse", stored) == (False, None)


def test_no_stored_hash_checks_the_dummy_and_fails(hasher: PasswordHasher) -> None:
    assert hasher.verify("anything at all", None) == (False, None)
    assert hasher.dummy_hash.startswith("$argon2id$")


def test_a_hash_of_other_parameters_verifies_and_is_renewed(hasher: PasswordHasher) -> None:
    stored = PasswordHasher(time_cost=2, memory_kib=2048).hash("correct horse")
    valid, renewed = hasher.verify("correct horse", stored)
    assert valid
    assert renewed is not None
    assert hasher.verify("correct horse", renewed) == (True, None)


def test_short_passwords_are_refused(hasher: PasswordHasher) -> None:
    with pytest.raises(ValueError, match="at least 8"):
        hasher.hash("short")


def test_secrets_are_random_and_stored_by_sha256() -> None:
    first, second = new_secret("slk_"), new_secret("slk_")
    assert first.startswith("slk_")
    assert first != second
    assert len(first) == 4 + 43
    assert secret_hash(first) == secret_hash(first)
    assert len(secret_hash(first)) == 64
    assert first not in secret_hash(first)
