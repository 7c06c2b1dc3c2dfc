"""X-Request-ID and X-Correlation-ID: the ids a caller may give to trace its requests.

Both end up in every event's metadata (hash-chained and kept forever) and in the logs, so both
are bounded: 1 to 128 characters from letters, digits and `- _ . : ; / + = @` (UUIDs, W3C trace
ids, most proxies' request ids). An invalid X-Request-ID is replaced by a generated one: the
response echoes the id used, and a tracing header should not cost the caller its request. An
invalid X-Correlation-ID is refused (422 naming the header) by the commands that record it:
replacing it would silently break the caller's correlation.
"""

from __future__ import annotations

import re
import uuid

MAX_LENGTH = 128
_VALID = re.compile(rf"[A-Za-z0-9_.:;/+=@-]{{1,{MAX_LENGTH}}}")
RULE = f"1 to {MAX_LENGTH} characters: letters, digits and - _ . : ; / + = @"


def is_valid(value: str) -> bool:
    return _VALID.fullmatch(value) is not None


def request_id(given: str | None) -> str:
    """The caller's request id if valid, else a new one."""
    return given if given is not None and is_valid(given) else uuid.uuid4().hex
