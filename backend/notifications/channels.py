"""Channels: SMS, WhatsApp and email behind one interface.

Only fakes exist (no outside network): they record what they delivered and, like a real
provider's API, deduplicate on the idempotency key: a second send with a key already delivered
returns the first message id and delivers nothing. A fake can be told to fail its next N sends.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Message:
    channel: str
    address: str
    body: str


class ChannelError(Exception):
    """The provider refused or could not take the message."""


class Channel(Protocol):
    async def send(self, message: Message, idempotency_key: str) -> str:
        """Deliver the message; the provider's message id."""


@dataclass(frozen=True)
class Delivery:
    message: Message
    idempotency_key: str
    provider_message_id: str


@dataclass
class FakeChannel:
    name: str
    failures_left: int = 0
    delivered: list[Delivery] = field(default_factory=list)
    _by_key: dict[str, str] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail_next(self, times: int) -> None:
        self.failures_left = times

    async def send(self, message: Message, idempotency_key: str) -> str:
        if idempotency_key in self._by_key:
            return self._by_key[idempotency_key]
        if self.failures_left > 0:
            self.failures_left -= 1
            msg = f"{self.name} provider unavailable"
            raise ChannelError(msg)
        provider_id = f"{self.name}-{next(self._ids)}"
        self._by_key[idempotency_key] = provider_id
        self.delivered.append(Delivery(message, idempotency_key, provider_id))
        return provider_id


def fake_channels() -> dict[str, FakeChannel]:
    return {name: FakeChannel(name) for name in ("sms", "whatsapp", "email")}
