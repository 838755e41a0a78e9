"""The worker's resources and services, opened at start and closed at stop."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from idp.security.authn import Authenticator
from idp.security.passwords import PasswordHasher
from idp.security.revocation import RevocationStore
from idp.security.tokens import TokenCodec
from idp.settings import Settings
from workers.auth.password_flows import PasswordFlows
from workers.auth.service import AuthService
from workers.auth.session_control import SessionControl
from workers.auth.session_end import SessionEnder
from workers.auth.throttle import Throttle
from workers.uow import Database


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    db: Database
    redis: "Redis"
    hasher: PasswordHasher
    authenticator: Authenticator
    revocations: RevocationStore
    sessions: SessionEnder
    auth: AuthService
    throttle: Throttle
    session_control: SessionControl
    passwords: PasswordFlows

    @classmethod
    def open(cls, settings: Settings, clock: Callable[[], datetime] = utc_now) -> "Runtime":
        db = Database.connect(settings)
        redis: Redis = Redis.from_url(
            settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
        hasher = PasswordHasher(settings)
        tokens = TokenCodec(settings)
        revocations = RevocationStore(
            redis, settings.access_token_ttl + settings.jwt_leeway_seconds
        )
        ender = SessionEnder(revocations)
        throttle = Throttle(redis, settings, clock)
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            hasher=hasher,
            authenticator=Authenticator(tokens, revocations),
            revocations=revocations,
            sessions=ender,
            auth=AuthService(
                settings=settings,
                db=db,
                hasher=hasher,
                tokens=tokens,
                ender=ender,
                throttle=throttle,
                clock=clock,
            ),
            throttle=throttle,
            session_control=SessionControl(db=db, ender=ender, clock=clock),
            passwords=PasswordFlows(
                db=db, hasher=hasher, ender=ender, throttle=throttle, clock=clock
            ),
        )

    async def close(self) -> None:
        self.hasher.close()
        await self.redis.aclose()
        await self.db.close()
