import datetime as dt
import uuid

from backend.kernel.events import from_data, to_data
from backend.scheduling.events import AppointmentRequested


def test_event_round_trips_through_json_data() -> None:
    event = AppointmentRequested(
        uuid.uuid4(),
        uuid.uuid4(),
        uuid.uuid4(),
        dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC),
        None,
    )
    assert from_data("AppointmentRequested", to_data(event)) == event
