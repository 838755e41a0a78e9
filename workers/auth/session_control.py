"""Listing and ending sessions: one's own, or, for an admin, another user's (SPEC 4.3)."""

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from contracts.sessions import SessionList, SessionView
from workers.auth import repository as sessions
from workers.auth.session_end import SessionEnder
from workers.context import Call
from workers.errors import Forbidden, NotFound, Unauthenticated
from workers.journal import audit
from workers.roles.guards import require_outranks
from workers.uow import Database, UnitOfWork
from workers.users import repository as users
from workers.users.repository import UserRecord


def _view(session: sessions.LiveSession, current: UUID | None) -> SessionView:
    return SessionView(
        id=session.id,
        created_at=session.created_at,
        last_used_at=session.last_used_at,
        expires_at=session.expires_at,
        user_agent=session.user_agent,
        ip=session.ip,
        current=session.id == current,
    )


class SessionControl:
    def __init__(
        self,
        *,
        db: Database,
        ender: SessionEnder,
        clock: Callable[[], datetime],
        refresh_ttl_seconds: int,
    ) -> None:
        self._db = db
        self._ender = ender
        self._clock = clock
        self._refresh_ttl = timedelta(seconds=refresh_ttl_seconds)

    async def list_own(self, call: Call) -> SessionList:
        """The caller's live sessions, the one making the request marked ``current``."""
        caller = call.caller
        async with self._db.transaction(caller.tid) as uow:
            live = await sessions.live_sessions(uow, caller.sub, self._clock(), self._refresh_ttl)
        return SessionList(items=[_view(s, caller.sid) for s in live])

    async def end_own(self, call: Call, session_id: UUID) -> None:
        """End one of the caller's sessions; anyone else's is 404."""
        caller = call.caller
        now = self._clock()
        async with self._db.transaction(caller.tid) as uow:
            live = {
                s.id for s in await sessions.live_sessions(uow, caller.sub, now, self._refresh_ttl)
            }
            if session_id not in live:
                raise NotFound("no such session")
            await self._ender.end(
                uow,
                call,
                tenant_id=caller.tid,
                session_ids=[session_id],
                actor_id=caller.sub,
                reason="ended_by_user",
                now=now,
            )

    async def end_all_own(self, call: Call) -> None:
        """End every session of the caller, this one included."""
        caller = call.caller
        async with self._db.transaction(caller.tid) as uow:
            await self._ender.end_all_of_user(
                uow,
                call,
                tenant_id=caller.tid,
                user_id=caller.sub,
                actor_id=caller.sub,
                reason="logout_all",
                now=self._clock(),
            )

    async def list_of_user(self, call: Call, user_id: UUID) -> SessionList:
        """An admin's view of a user's live sessions."""
        caller = call.caller
        async with self._db.transaction(caller.tid) as uow:
            await self._require(uow, call, "sessions:read", user_id)
            live = await sessions.live_sessions(uow, user_id, self._clock(), self._refresh_ttl)
        return SessionList(items=[_view(s, caller.sid) for s in live])

    async def end_all_of_user(self, call: Call, user_id: UUID) -> None:
        """An admin ends every session of a user: tokens stop working at once. Another
        user's only if the caller holds every permission they hold: otherwise an admin
        (or any custom role with ``sessions:revoke``) ending the owner's sessions in a
        loop locked the owner out for good, every login ended before its first request
        (an audit: 0 of 5 requests got through 50 ms after a login)."""
        caller = call.caller
        async with self._db.transaction(caller.tid) as uow:
            actor, target = await self._require(uow, call, "sessions:revoke", user_id)
            if user_id != caller.sub:
                require_outranks(frozenset(actor.permissions), target.permissions)
            ended = await self._ender.end_all_of_user(
                uow,
                call,
                tenant_id=caller.tid,
                user_id=user_id,
                actor_id=caller.sub,
                reason="revoked_by_admin",
                now=self._clock(),
            )
            audit(
                uow,
                call,
                tenant_id=caller.tid,
                action="user.sessions_revoked",
                actor_id=caller.sub,
                target_type="user",
                target_id=user_id,
                data={"sessions": [str(sid) for sid in ended]},
            )

    async def _require(
        self, uow: UnitOfWork, call: Call, permission: str, user_id: UUID
    ) -> tuple[UserRecord, UserRecord]:
        """The caller's current role (not only the token's claims) grants ``permission``,
        and ``user_id`` is a user of the caller's tenant (RLS hides any other): the
        caller and that user."""
        actor = await users.user_by_id(uow, call.caller.sub)
        if actor is None or actor.view.status != "active":
            raise Unauthenticated("account no longer active")
        if permission not in actor.permissions:
            raise Forbidden("permission denied")
        target = await users.user_by_id(uow, user_id)
        if target is None:
            raise NotFound("no such user")
        return actor, target
