"""The worker's resources and services, opened at start and closed at stop."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from idp import redis_pool
from idp.security import client_headers
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
from workers.errors import Unavailable
from workers.files.service import FileService
from workers.files.storage import FileStorage
from workers.metrics import WorkerMetrics
from workers.permission_check import PermissionCheck
from workers.replies import ReplyPublisher
from workers.roles.service import RolesService
from workers.uow import Database
from workers.users.service import UsersService
from workers.users.tenant import TenantService


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
    auth: AuthService
    metrics: WorkerMetrics
    permissions: PermissionCheck
    users: UsersService
    tenant: TenantService
    roles: RolesService
    files: FileService
    throttle: Throttle
    session_control: SessionControl
    passwords: PasswordFlows
    replies: ReplyPublisher
    client_key: bytes  # verifies the edge's client headers (idp.security.client_headers)

    @classmethod
    def open(cls, settings: Settings, clock: Callable[[], datetime] = utc_now) -> "Runtime":
        db = Database.connect(settings)
        redis: Redis = redis_pool.connect(settings.redis_url)
        hasher = PasswordHasher(settings)
        tokens = TokenCodec(settings)
        revocations = RevocationStore(redis, settings.revocation_ttl_seconds)
        ender = SessionEnder(revocations)
        permissions = PermissionCheck(redis, db.transaction, settings.permission_cache_seconds)
        throttle = Throttle(redis, settings, clock)
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            hasher=hasher,
            authenticator=Authenticator(tokens, revocations),
            revocations=revocations,
            auth=AuthService(
                settings=settings,
                db=db,
                hasher=hasher,
                tokens=tokens,
                ender=ender,
                throttle=throttle,
                clock=clock,
            ),
            metrics=WorkerMetrics(),
            permissions=permissions,
            users=UsersService(
                settings=settings,
                db=db,
                hasher=hasher,
                ender=ender,
                permissions=permissions,
                clock=clock,
            ),
            tenant=TenantService(db=db, clock=clock),
            roles=RolesService(db=db, permissions=permissions, clock=clock),
            files=FileService(settings=settings, db=db, storage=FileStorage(settings), clock=clock),
            throttle=throttle,
            session_control=SessionControl(
                db=db, ender=ender, clock=clock, refresh_ttl_seconds=settings.refresh_token_ttl
            ),
            passwords=PasswordFlows(
                db=db, hasher=hasher, ender=ender, throttle=throttle, clock=clock
            ),
            replies=ReplyPublisher(settings.amqp_url),
            client_key=client_headers.signing_key(settings.jwt_secret),
        )

    async def check_dependencies(self) -> None:
        """PostgreSQL and Redis answer: what a readiness ping asks. 503 ``Unavailable``
        naming the one that does not (a ping is not worth a redelivery)."""
        try:
            await self.db.fetch_alone("SELECT 1")
        except Exception as exc:  # whatever it is, the database cannot serve
            raise Unavailable("PostgreSQL does not answer") from exc
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise Unavailable("Redis does not answer") from exc

    async def open_storage(self) -> None:
        """Open the S3 client (and create the bucket); for workers serving ``files``."""
        await self.files.storage.open()

    async def close(self) -> None:
        await self.replies.close()
        await self.files.storage.close()
        self.hasher.close()
        await self.redis.aclose()
        await self.db.close()
