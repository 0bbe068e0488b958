"""Passwords (Argon2 through pwdlib) and random secrets (tokens, keys) with their lookup hashes.

Invariants: a secret is shown once and stored only as its SHA-256 (256 random bits need no slow hash);
a password check costs one Argon2 verification whether or not the user exists (`verify_password`
against `dummy_hash` for unknown users), so that timing does not tell who exists; at most one
Argon2 computation per core runs at once, so that a flood of logins queues instead of taking
`memory_kib` per request thread.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_PASSWORD_LENGTH = 8


class PasswordHasher:
    """Argon2id with the given cost; `dummy_hash` is a hash of a random password at the same cost."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hash = PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib),))
        self._slots = threading.BoundedSemaphore(os.cpu_count() or 1)
        self.dummy_hash = self._hash.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        with self._slots:
            return self._hash.hash(password)

    def verify(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        """(matches, a new hash when `stored` used other parameters); checks `dummy_hash` when `stored` is None."""
        with self._slots:
            valid, updated = self._hash.verify_and_update(password, stored or self.dummy_hash)
        return (valid and stored is not None), updated


def new_secret(prefix: str) -> str:
    """A fresh random secret: `prefix` then 256 bits in URL-safe base64."""
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """The hex SHA-256 under which a secret is stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()
