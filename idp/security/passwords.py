"""Argon2id hashing off the event loop, on a pool sized to the cores (SPEC 4.5)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from idp.settings import Settings


class PasswordHasher:
    """argon2-cffi releases the GIL while hashing, so a thread pool uses every core."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=argon2.Type.ID,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=settings.password_hash_threads, thread_name_prefix="argon2"
        )
        # Verified against when an account does not exist, so that the answer takes the
        # same time as a wrong password for a real account (SPEC 4.5).
        self._dummy_hash = self._hasher.hash("not a password of anyone: timing equaliser")

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a missing hash costs the same time and is False."""
        loop = asyncio.get_running_loop()
        target = password_hash or self._dummy_hash
        ok = await loop.run_in_executor(self._pool, self._verify_sync, target, password)
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash is weaker than configured (SPEC 4.5: upgraded on the next
        login): another variant, an older version, less memory or fewer passes, a
        shorter salt or output. A stronger one is kept: upgrading must not downgrade."""
        try:
            found = argon2.extract_parameters(password_hash)
        except InvalidHashError:
            return True
        wanted = self._hasher
        return (
            found.type is not argon2.Type.ID
            or found.version < argon2.low_level.ARGON2_VERSION
            or found.memory_cost < wanted.memory_cost
            or found.time_cost < wanted.time_cost
            or found.salt_len < wanted.salt_len
            or found.hash_len < wanted.hash_len
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
