"""Restore Redis revocation records from PostgreSQL when Redis has lost them.

Sessions are ended in PostgreSQL and Redis in the same unit of work, so PostgreSQL knows
every session ended within the last access-token lifetime (plus leeway): exactly the
records Redis must hold. A worker restores them at start and whenever the completeness
marker is missing; until then the edge and the workers refuse authenticated requests.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from idp.security.revocation import RevocationStore
from workers.uow import Database

_RECENT = text("SELECT id, revoked_at FROM idp_sessions_revoked_since(:since)")


async def restore_if_lost(db: Database, revocations: RevocationStore, ttl_seconds: int) -> bool:
    """Restore the records if the marker is missing; True when a restore happened."""
    if await revocations.is_complete():
        return False
    now = datetime.now(UTC)
    async with db.transaction() as uow:
        rows = (
            await uow.connection.execute(_RECENT, {"since": now - timedelta(seconds=ttl_seconds)})
        ).all()
    await revocations.restore(
        (row.id, ttl_seconds - (now - row.revoked_at).total_seconds()) for row in rows
    )
    return True
