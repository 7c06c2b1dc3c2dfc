"""A practitioner's working hours: a weekly template in the tenant's time zone, time off (leave,
holidays) and the length of a slot, and what follows from them (pure).

They live on a stream of their own in the scheduling context, one per practitioner
(`hours_stream_id`), not on the practitioner's stream in the tenancy context: they are a
booking rule, read by every booking and changed by the front desk week after week, while the
practitioner's stream records who they are. A booking reads the hours without appending to
their stream, so a change of hours never conflicts with a booking (nor undoes one already made:
it applies to the next booking).

Times of day are wall-clock times in the tenant's zone, turned into instants day by day, so
09:00 is 09:00 on either side of a daylight-saving change; a period crossing the change is as
long as the clock says (an hour shorter or longer). A practitioner without any template is
bookable at any time, as before working hours existed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid
from backend.kernel.events import DomainEvent
from backend.scheduling.events import (
    BookedOutsideWorkingHours,
    TimeOffAdded,
    TimeOffRemoved,
    WorkingHoursSet,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_SLOT, MAX_SLOT = 5, 8 * 60
OUTSIDE_WORKING_HOURS = "OUTSIDE_WORKING_HOURS"
Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Period:
    weekday: int
    """0 is Monday."""
    start: dt.time
    end: dt.time

    def recorded(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {clock_text(self.start)}-{clock_text(self.end)}"


@dataclass(frozen=True)
class TimeOff:
    first_day: dt.date
    last_day: dt.date
    start: str | None
    end: str | None
    reason: str | None


@dataclass(frozen=True)
class WorkingHours:
    practitioner_id: UUID | None = None
    """None: no template was ever set (bookable at any time)."""
    weekly: tuple[str, ...] = ()
    slot_minutes: int = 0
    time_off: dict[UUID, TimeOff] = field(default_factory=dict)


def evolve(state: WorkingHours, event: DomainEvent) -> WorkingHours:
    match event:
        case WorkingHoursSet():
            return dataclasses.replace(
                state,
                practitioner_id=event.practitioner_id,
                weekly=event.weekly,
                slot_minutes=event.slot_minutes,
            )
        case TimeOffAdded():
            off = TimeOff(event.first_day, event.last_day, event.start, event.end, event.reason)
            return dataclasses.replace(state, time_off={**state.time_off, event.time_off_id: off})
        case TimeOffRemoved():
            kept = {k: v for k, v in state.time_off.items() if k != event.time_off_id}
            return dataclasses.replace(state, time_off=kept)
    return state


def view(state: WorkingHours) -> dict[str, Any]:
    return {
        "practitioner_id": state.practitioner_id,
        "weekly": [
            {"weekday": WEEKDAYS[p.weekday], "start": clock_text(p.start), "end": clock_text(p.end)}
            for p in periods(state)
        ],
        "slot_minutes": state.slot_minutes or None,
        "time_off": [
            {"time_off_id": k, **dataclasses.asdict(v)}
            for k, v in sorted(state.time_off.items(), key=lambda kv: kv[1].first_day)
        ],
    }


def hours_stream_id(practitioner_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"caretrail:working-hours:{practitioner_id}")


def periods(state: WorkingHours) -> list[Period]:
    return [_parse_recorded(p) for p in state.weekly]


def set_hours(practitioner_id: UUID, weekly: list[Period], slot_minutes: int) -> list[DomainEvent]:
    if not MIN_SLOT <= slot_minutes <= MAX_SLOT:
        raise Invalid("slot_minutes", f"a whole number of minutes from {MIN_SLOT} to {MAX_SLOT}")
    ordered = sorted(weekly, key=lambda p: (p.weekday, p.start))
    for i, p in enumerate(ordered):
        if p.end <= p.start:
            raise Invalid(f"weekly[{i}]", "a period ends after it starts, on the same day")
        if i and ordered[i - 1].weekday == p.weekday and p.start < ordered[i - 1].end:
            raise Invalid(f"weekly[{i}]", "periods of one day must not overlap")
    return [WorkingHoursSet(practitioner_id, tuple(p.recorded() for p in ordered), slot_minutes)]


def add_time_off(practitioner_id: UUID, time_off_id: UUID, off: TimeOff) -> list[DomainEvent]:
    if off.last_day < off.first_day:
        raise Invalid("last_day", "must not be before first_day")
    if (off.last_day - off.first_day).days > 366:
        raise Invalid("last_day", "time off spans at most a year; add another")
    if (off.start is None) != (off.end is None):
        raise Invalid("end", "give both start and end, or neither (the whole day)")
    if off.start is not None and off.end is not None and off.end <= off.start:
        raise Invalid("end", "must be after start")
    return [
        TimeOffAdded(
            practitioner_id,
            time_off_id,
            off.first_day,
            off.last_day,
            off.start,
            off.end,
            off.reason,
        )
    ]


def remove_time_off(
    state: WorkingHours, practitioner_id: UUID, time_off_id: UUID
) -> list[DomainEvent]:
    if time_off_id not in state.time_off:
        raise Invalid("time_off_id", "no such time off")
    return [TimeOffRemoved(practitioner_id, time_off_id)]


def working_intervals(
    state: WorkingHours, zone: ZoneInfo, first_day: dt.date, last_day: dt.date
) -> list[Interval]:
    """The instants the practitioner works on the local days from `first_day` to `last_day`:
    the template's periods of each day less the time off on it, in order."""
    by_weekday: dict[int, list[Period]] = {}
    for p in periods(state):
        by_weekday.setdefault(p.weekday, []).append(p)
    found: list[Interval] = []
    day = first_day
    while day <= last_day:
        work = [
            (_instant(day, p.start, zone), _instant(day, p.end, zone))
            for p in by_weekday.get(day.weekday(), [])
        ]
        for off in state.time_off.values():
            if off.first_day <= day <= off.last_day:
                work = _less(work, _off_on(day, off, zone))
        found.extend(work)
        day += dt.timedelta(days=1)
    return found


def check_booking(
    state: WorkingHours,
    zone: ZoneInfo,
    appointment_id: UUID,
    start: dt.datetime,
    end: dt.datetime,
    override_reason: str | None,
) -> list[DomainEvent]:
    """Nothing when the time lies within one working period (or there is no template); else
    the override recorded with staff's reason, or OUTSIDE_WORKING_HOURS refused."""
    if state.practitioner_id is None or within(state, zone, start, end):
        return []
    reason = (override_reason or "").strip() or None
    if reason is None:
        raise Conflict(
            OUTSIDE_WORKING_HOURS,
            "the time is outside the practitioner's working hours; staff may book it with an "
            "hours_override_reason",
        )
    return [BookedOutsideWorkingHours(appointment_id, reason)]


def within(state: WorkingHours, zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> bool:
    first = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date()
    return any(s <= start and end <= e for s, e in working_intervals(state, zone, first, last))


def free_slots(
    state: WorkingHours,
    zone: ZoneInfo,
    first_day: dt.date,
    last_day: dt.date,
    busy: list[Interval],
    not_before: dt.datetime,
) -> list[Interval]:
    """Slots of the template's length from the start of each working interval, whole within it,
    overlapping nothing busy and starting no earlier than `not_before`."""
    length = dt.timedelta(minutes=state.slot_minutes)
    slots: list[Interval] = []
    for start, end in working_intervals(state, zone, first_day, last_day):
        at = start
        while at + length <= end:
            slot = (at, at + length)
            if at >= not_before and not any(s < slot[1] and slot[0] < e for s, e in busy):
                slots.append(slot)
            at += length
    return slots


def parse_clock(name: str, value: str) -> dt.time:
    try:
        clock = dt.time.fromisoformat(value)
    except ValueError:
        raise Invalid(name, "a time of day such as 09:00") from None
    if clock.second or clock.microsecond or clock.tzinfo is not None:
        raise Invalid(name, "hours and minutes only, such as 09:00")
    return clock


def period(index: int, weekday: str, start: str, end: str) -> Period:
    if weekday not in WEEKDAYS:
        raise Invalid(f"weekly[{index}].weekday", f"one of {', '.join(WEEKDAYS)}")
    return Period(
        WEEKDAYS.index(weekday),
        parse_clock(f"weekly[{index}].start", start),
        end_clock(f"weekly[{index}].end", end),
    )


def end_clock(name: str, value: str) -> dt.time:
    """An end of "24:00" is the day's end."""
    return dt.time.max if value == "24:00" else parse_clock(name, value)


def clock_text(clock: dt.time) -> str:
    return "24:00" if clock == dt.time.max else f"{clock:%H:%M}"


def _parse_recorded(recorded: str) -> Period:
    weekday, times = recorded.split(" ")
    start, end = times.split("-")
    return period(0, weekday, start, end)


def _instant(day: dt.date, clock: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The instant the zone's clocks read `clock` on `day` (the day's end for 24:00; a time
    skipped by a daylight-saving change reads with the offset before it)."""
    if clock == dt.time.max:
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return dt.datetime.combine(day, clock, zone).astimezone(dt.UTC)


def _off_on(day: dt.date, off: TimeOff, zone: ZoneInfo) -> Interval:
    if off.start is None or off.end is None:
        return _instant(day, dt.time(), zone), _instant(day, dt.time.max, zone)
    start, end = parse_clock("start", off.start), end_clock("end", off.end)
    return _instant(day, start, zone), _instant(day, end, zone)


def _less(work: list[Interval], off: Interval) -> list[Interval]:
    kept: list[Interval] = []
    for s, e in work:
        if off[1] <= s or e <= off[0]:
            kept.append((s, e))
            continue
        if s < off[0]:
            kept.append((s, off[0]))
        if off[1] < e:
            kept.append((off[1], e))
    return kept


WORKING_HOURS = register_aggregate(Aggregate("working_hours", WorkingHours, evolve, view))
