"""Keys this process verified in the last few seconds, so a partner's requests do not each
look their key up in PostgreSQL (docs/partners.md, Rate limits and docs/benchmarks.md).

An entry holds the principal a key authenticated as, for the digest of the secret that was
presented, until the earliest of: CACHE_SECONDS from the look-up, the key's expiry, and (when
the presented secret was the retiring one) the end of its overlap. A key revoked or rotated by
a command in this process is forgotten when the command has committed, and a look-up that began
before that is not kept (so this process refuses it from the next request on); other processes
forget it when Redis's pub/sub tells them (backend/api/key_changes.py), and at worst when the
entry runs out, CACHE_SECONDS later.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID

from backend.auth.principal import Principal

CACHE_SECONDS = 5.0
"""How long a verified key is trusted without a look-up: the longest another process may
still honour a key revoked while Redis could not tell it."""
CACHE_SIZE = 10_000
"""Keys remembered at most, the least recently used forgotten first."""


@dataclass(frozen=True)
class _Verified:
    secret_digest: bytes
    principal: Principal
    until: dt.datetime


class VerifiedKeys:
    def __init__(self) -> None:
        self._entries: OrderedDict[UUID, _Verified] = OrderedDict()
        self._changes = 0
        self._changed: dict[UUID, int] = {}
        """When (in `_changes`) each key was last forgotten: a look-up begun before is
        not kept."""
        self._all_changed = -1

    def found(self, key_id: UUID, secret_digest: bytes) -> Principal | None:
        entry = self._entries.get(key_id)
        if entry is None or not hmac.compare_digest(entry.secret_digest, secret_digest):
            return None
        if dt.datetime.now(dt.UTC) >= entry.until:
            del self._entries[key_id]
            return None
        self._entries.move_to_end(key_id)
        return entry.principal

    def mark(self) -> int:
        """Taken before a look-up, handed to `keep` after it."""
        return self._changes

    def keep(
        self,
        mark: int,
        secret_digest: bytes,
        principal: Principal,
        *ends: dt.datetime | None,
    ) -> None:
        """`ends`: when the key, or the secret presented, stops working (None: never)."""
        assert principal.key_id is not None
        if max(self._changed.get(principal.key_id, -1), self._all_changed) >= mark:
            return  # revoked or rotated while it was looked up
        until = min(
            [dt.datetime.now(dt.UTC) + dt.timedelta(seconds=CACHE_SECONDS)]
            + [end for end in ends if end is not None]
        )
        self._entries[principal.key_id] = _Verified(secret_digest, principal, until)
        self._entries.move_to_end(principal.key_id)
        while len(self._entries) > CACHE_SIZE:
            self._entries.popitem(last=False)

    def forget(self, key_id: UUID) -> None:
        self._changed[key_id] = self._changes
        self._changes += 1
        self._entries.pop(key_id, None)

    def forget_all(self) -> None:
        """When changes announced by other processes may have been missed."""
        self._all_changed = self._changes
        self._changes += 1
        self._changed.clear()
        self._entries.clear()
