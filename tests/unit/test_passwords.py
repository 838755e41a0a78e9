"""Argon2id hashing: parameters, verification, and the upgrade check (SPEC 4.5)."""

from typing import Any

import argon2
import pytest

from idp.security.passwords import PasswordHasher
from tests.unit.conftest import make_settings


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(make_settings())


async def test_hash_uses_argon2id_at_the_configured_parameters(hasher: PasswordHasher) -> None:
    encoded = await hasher.hash("correct horse battery staple")
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_verify_accepts_the_password_exactly_as_given(hasher: PasswordHasher) -> None:
    password = " Ünïcödé pass 🔑 "
    encoded = await hasher.hash(password)
    assert await hasher.verify(encoded, password)
    assert not await hasher.verify(encoded, password.strip())
    assert not await hasher.verify(encoded, "Ünïcödé pass 🔑")


async def test_missing_or_corrupt_hash_never_verifies(hasher: PasswordHasher) -> None:
    assert not await hasher.verify(None, "anything at all")
    assert not await hasher.verify("$argon2id$garbage", "anything at all")


def test_weaker_hashes_need_an_upgrade(hasher: PasswordHasher) -> None:
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw-123456")
    current = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash("pw-123456")
    assert hasher.needs_rehash(weak)
    assert not hasher.needs_rehash(current)
    assert hasher.needs_rehash("not a hash")


@pytest.mark.parametrize(
    ("params", "upgrade"),
    [
        ({"time_cost": 3, "memory_cost": 32768}, False),  # stronger: kept, not downgraded
        ({"time_cost": 2, "memory_cost": 19456, "parallelism": 4}, False),
        ({"time_cost": 1, "memory_cost": 65536}, True),  # more memory, fewer passes
        ({"time_cost": 4, "memory_cost": 8192}, True),  # more passes, less memory
        ({"time_cost": 2, "memory_cost": 19456, "salt_len": 8}, True),
        ({"time_cost": 2, "memory_cost": 19456, "hash_len": 16}, True),
        ({"time_cost": 2, "memory_cost": 19456, "type": argon2.Type.I}, True),
    ],
)
def test_only_a_hash_weaker_in_some_way_is_upgraded(
    hasher: PasswordHasher, params: dict[str, Any], upgrade: bool
) -> None:
    """SPEC 4.5: "hashes below the configured parameters are upgraded"; a hash made with
    stronger ones (a deployment that lowered its settings) must not be rewritten weaker."""
    made = argon2.PasswordHasher(**{"parallelism": 1, **params}).hash("pw-123456")
    assert hasher.needs_rehash(made) is upgrade
