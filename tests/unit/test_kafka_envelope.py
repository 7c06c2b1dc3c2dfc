"""What the Kafka runner reads from headers alone, and which projections want which events."""

from __future__ import annotations

import datetime as dt
import uuid

from backend.catalog import READ_MODELS as ALL
from backend.eventstore import RecordedEvent
from backend.patients.projections import PATIENTS
from backend.scheduling.daily_activity import DAILY_ACTIVITY
from projections.kafka_codec import Envelope, decode, encode, envelope

MOMENT = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)


def _event(stream_type: str, event_type: str) -> RecordedEvent:
    return RecordedEvent(
        position=42,
        event_id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        stream_type=stream_type,
        stream_id=uuid.uuid4(),
        version=3,
        event_type=event_type,
        schema_version=1,
        data={"x": 1},
        metadata={"traceparent": "00-abc-def-01"},
        occurred_at=MOMENT,
        recorded_at=MOMENT,
        tx_id=7_000_000_123,
    )


def test_the_headers_say_where_an_event_stands_without_its_body() -> None:
    event = _event("visit", "VitalsRecorded")
    _, value, headers = encode(event)
    assert envelope(headers) == Envelope("visit", "VitalsRecorded", 7_000_000_123, 42)
    assert decode(value) == event


def test_a_message_from_before_the_headers_existed_has_no_envelope() -> None:
    old = [("tenant_id", b"t"), ("event_type", b"PatientRegistered"), ("position", b"1")]
    assert envelope(old) is None


def test_projections_want_their_own_streams_and_nothing_else() -> None:
    assert PATIENTS.wants("patient", "PatientRegistered")
    assert not PATIENTS.wants("visit", "VitalsRecorded")
    assert DAILY_ACTIVITY.wants("appointment", "AppointmentConfirmed")
    assert not DAILY_ACTIVITY.wants("appointment", "SlotReserved")
    by_name = {p.name: p for p in ALL}
    assert by_name["notifications"].wants("patient", "PatientErased")  # it redacts on erasure
    assert by_name["ledger"].wants("payment", "PaymentCaptured")
    assert not by_name["ledger"].wants("patient", "PatientRegistered")
