"""When an answer about transaction time is final.

An event's `recorded_at` is taken inside its writing transaction, which commits a little later
(milliseconds normally; the runtime role's limits bound it: 5 s idle in a transaction, 30 s a
statement). Until it commits, a read as of a moment after `recorded_at` would not see the event,
and a later read as of the same moment would: the answer for that moment would change. So every
read as of a moment T first waits until no transaction that could still commit an event recorded
at or before T is running (migration 0017, `recording_writers`), then reads; what it answers for
T can no longer change. T later than the present is cut to the present: the answer says for
which moment it is final. A writer that keeps its transaction open longer than the wait (5 s) makes
the read refuse (503) rather than answer something that could still change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import asyncpg

from backend.kernel.errors import DomainError

SETTLE_SECONDS = 5.0
"""How long a read waits for writers: the runtime role's idle-in-transaction limit."""
POLL_SECONDS = 0.01


class RecordingNotSettled(DomainError):
    code = "AS_OF_NOT_SETTLED"
    status = 503


async def settled_moment(
    pool: asyncpg.Pool,
    at: dt.datetime | None,
    *,
    wait_seconds: float = SETTLE_SECONDS,
    refusal: type[DomainError] = RecordingNotSettled,
) -> dt.datetime:
    """The moment `at` (or the present, if `at` is later or None) once every transaction that
    could still commit an event recorded by then has ended. `pool` connects with a role that may
    call recording_writers() (the projector's). Raises `refusal` after `wait_seconds`."""
    row = await pool.fetchrow("SELECT cut, pids, xids FROM recording_writers($1)", at)
    assert row is not None
    cut: dt.datetime = row["cut"]
    waiting = set(zip(row["pids"], row["xids"], strict=True))
    deadline = time.monotonic() + wait_seconds
    while waiting:
        if time.monotonic() > deadline:
            msg = (
                f"{len(waiting)} writing transaction(s) begun by {cut.isoformat()} are still"
                " open: an answer for that moment could still change; retry shortly"
            )
            raise refusal(msg)
        await asyncio.sleep(POLL_SECONDS)
        row = await pool.fetchrow("SELECT pids, xids FROM recording_writers($1)", cut)
        assert row is not None
        waiting &= set(zip(row["pids"], row["xids"], strict=True))
    return cut
