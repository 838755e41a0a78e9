"""Ending sessions: the row, the Redis revocation record, the audit entry and the event.

Used by logout, refresh-token reuse, and by anything that must cut a user off (disabling
or deleting a user, password changes, an admin revoking sessions).
"""

from datetime import datetime
from uuid import UUID

from contracts.events import RevokeReason
from idp.security.revocation import RevocationStore
from workers.auth import repository as sessions
from workers.context import Call
from workers.journal import audit, emit
from workers.uow import UnitOfWork, must_commit


class SessionEnder:
    def __init__(self, revocations: RevocationStore) -> None:
        self._revocations = revocations

    async def end(
        self,
        uow: UnitOfWork,
        call: Call,
        *,
        tenant_id: UUID,
        session_ids: list[UUID],
        actor_id: UUID | None,
        reason: RevokeReason,
        now: datetime,
    ) -> list[UUID]:
        """End the given live sessions; returns those that were still live."""
        revoked = await sessions.revoke(uow, session_ids, now=now, reason=reason)
        ended = [sid for sid, _ in revoked]
        # Revoke in Redis before the commit: if Redis fails, the transaction rolls back
        # and the caller learns it; tokens are never left valid after a "success". Once
        # revoked, the transaction must commit, deadline or not (workers/uow.py).
        if ended:
            must_commit()
        await self._revocations.revoke(ended)
        for sid, user_id in revoked:
            audit(
                uow,
                call,
                tenant_id=tenant_id,
                action="session.revoked",
                actor_id=actor_id,
                target_type="session",
                target_id=sid,
                data={"reason": reason},
            )
            emit(
                uow,
                tenant_id=tenant_id,
                event_type="session.revoked",
                data={"session_id": str(sid), "user_id": str(user_id), "reason": reason},
            )
        return ended

    async def end_all_of_user(
        self,
        uow: UnitOfWork,
        call: Call,
        *,
        tenant_id: UUID,
        user_id: UUID,
        actor_id: UUID | None,
        reason: RevokeReason,
        now: datetime,
        keep: UUID | None = None,
    ) -> list[UUID]:
        """End every live session of ``user_id`` except ``keep``."""
        live = [sid for sid in await sessions.live_session_ids(uow, user_id) if sid != keep]
        return await self.end(
            uow,
            call,
            tenant_id=tenant_id,
            session_ids=live,
            actor_id=actor_id,
            reason=reason,
            now=now,
        )
