"""Connection strings."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def with_user(dsn: str, user: str) -> str:
    """The same DSN with another user name (and no password)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, parts.fragment))
