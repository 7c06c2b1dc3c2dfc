"""Revocations and rotations of API keys, told to every API process through Redis pub/sub so
each forgets the key it verified a moment ago (backend/auth/verified_keys.py).

The process that ran the command forgets the key itself before it answers; the others hear of
it within milliseconds. A message is lost only while Redis is down or a listener is
reconnecting: a listener that (re)subscribes forgets every key it holds, and an entry lives
CACHE_SECONDS at most, which bounds how long another process may still honour a revoked key.
"""

from __future__ import annotations

from uuid import UUID

import structlog
from redis.exceptions import RedisError

from backend.api.channel import ChannelListener
from backend.auth.verified_keys import VerifiedKeys

log = structlog.get_logger("caretrail.key_changes")

CHANNEL = "caretrail:api-keys:changed"
RESUBSCRIBE_SECONDS = 1.0


class KeyChanges:
    def __init__(self, redis_url: str, verified: VerifiedKeys) -> None:
        self.verified = verified
        self.channel = ChannelListener(
            redis_url,
            CHANNEL,
            lambda data: verified.forget(UUID(data.decode())),
            on_gap=verified.forget_all,  # what was said while away is unknown
            resubscribe_seconds=RESUBSCRIBE_SECONDS,
        )
        self.redis = self.channel.redis

    async def announce(self, key_id: UUID) -> None:
        """`key_id` was revoked or rotated (committed): this process forgets it now, the
        others when they hear of it."""
        self.verified.forget(key_id)
        try:
            await self.redis.publish(CHANNEL, str(key_id))
        except (RedisError, OSError) as e:
            log.warning("api_key_change_unannounced", key_id=str(key_id), error=repr(e))

    async def start(self) -> None:
        await self.channel.start()

    async def close(self) -> None:
        await self.channel.close()
