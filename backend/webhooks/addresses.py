"""Where a webhook may be sent (SSRF): outside dev and test only to https URLs whose host
resolves to public addresses alone. Every address the host resolves to is checked (one private
address among public ones is enough to refuse), at subscription and again at each delivery,
which then connects to the address it checked (the host is still named for TLS and `Host`), so
a name that re-resolves elsewhere between the check and the connection cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
URL_MAX = 2000
RESOLVE_SECONDS = 5.0


class Refused(Exception):
    """The URL may not be delivered to; the message says why (shown to the partner)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: `url` names the address to connect to, `host` the name it stands for."""

    url: httpx.URL
    host: str
    host_header: str
    """The `Host` the request names: the URL's host (and port, when not the scheme's)."""

    def request_extensions(self) -> dict[str, str]:
        return {"sni_hostname": self.host}


@dataclass(frozen=True)
class OutboundRules:
    local_allowed: bool
    """dev and test: http, and loopback, private and link-local addresses too."""

    def form(self, url: str) -> httpx.URL:
        """The URL parsed, if its form is acceptable (no DNS yet)."""
        if len(url) > URL_MAX:
            raise Refused(f"at most {URL_MAX} characters")
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as e:
            raise Refused(f"not a URL: {e}") from None
        schemes = ("https", "http") if self.local_allowed else ("https",)
        if parsed.scheme not in schemes:
            raise Refused(f"must be {' or '.join(schemes)}")
        if not parsed.host:
            raise Refused("names no host")
        if parsed.userinfo:
            raise Refused("must not carry credentials (deliveries are signed)")
        if parsed.fragment:
            raise Refused("must not have a fragment")
        return parsed

    async def target(self, url: str) -> Target:
        """The URL checked and pinned to the first of its host's addresses."""
        parsed = self.form(url)
        found = await _resolve(
            parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)
        )
        if not self.local_allowed:
            refused = [a for a in found if not public(a)]
            if refused:
                raise Refused(f"{parsed.host} resolves to a non-public address ({refused[0]})")
        pinned = parsed.copy_with(host=str(found[0]))
        return Target(pinned, parsed.host, parsed.netloc.decode("ascii"))


def public(address: IPAddress) -> bool:
    """Globally routable: not private, loopback, link-local (cloud metadata), shared, reserved,
    unspecified nor multicast; an IPv4 address inside IPv6 is judged as itself."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError) as e:
        raise Refused(f"{host} does not resolve ({type(e).__name__})") from None
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise Refused(f"{host} does not resolve")
    return found
