"""Standard Webhooks signatures and secrets; which addresses a webhook may reach."""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from backend.kernel.errors import Invalid
from backend.webhooks import signing
from backend.webhooks.addresses import OutboundRules, Refused, public


def test_the_standard_webhooks_example_signs_as_published() -> None:
    key = signing.secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signed = signing.signature(
        key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_secrets_are_whsec_and_enough_random_bytes() -> None:
    made = signing.new_secret()
    assert len(signing.secret_bytes(made)) == signing.GENERATED_BYTES
    for wrong in ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_dG9vIHNob3J0"):
        with pytest.raises(Invalid):
            signing.secret_bytes(wrong)


def test_a_message_id_names_one_event_to_one_subscription() -> None:
    subscription, event = uuid.uuid4(), uuid.uuid4()
    assert signing.message_id(subscription, event) == signing.message_id(subscription, event)
    assert signing.message_id(subscription, event) != signing.message_id(uuid.uuid4(), event)


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not public(ipaddress.ip_address(address))


def test_public_addresses_pass() -> None:
    assert public(ipaddress.ip_address("93.184.215.14"))
    assert public(ipaddress.ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c"))


async def test_a_target_is_pinned_to_the_address_checked() -> None:
    target = await OutboundRules(local_allowed=False).target("https://93.184.215.14:8443/h?x=1")
    assert (str(target.url), target.host_header) == (
        "https://93.184.215.14:8443/h?x=1",
        "93.184.215.14:8443",
    )
    with pytest.raises(Refused, match="https"):
        await OutboundRules(local_allowed=False).target("http://93.184.215.14/h")
    local = await OutboundRules(local_allowed=True).target("http://127.0.0.1:9/h")
    assert local.url.host == "127.0.0.1"
