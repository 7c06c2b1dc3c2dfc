"""Command handlers of the patients context."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from uuid import UUID

from backend.api.idempotency import tombstone_responses_about
from backend.eventstore.snapshots import forget_snapshots, forget_snapshots_about
from backend.handling import CommandResult, CommandSession
from backend.patients import duplicates, model
from backend.privacy import keys
from backend.specialties.extension import in_own_units, patient_changed, with_warnings
from backend.tenancy.model import TENANT
from backend.tenancy.zone import command_zone, tenant_today


async def register_patient(
    session: CommandSession, patient_id: UUID, details: dict[str, Any]
) -> CommandResult:
    """`patient_id` is new (the route makes it). The answer warns of possible duplicates
    (patients.duplicates)."""
    patient = session.new(model.PATIENT, patient_id)
    given = await in_own_units(session, details.get("specialty_data"))
    details = {**details, "specialty_data": given}
    region = await phone_region(session)
    events = model.register_patient(
        patient.state, patient_id, details, await tenant_today(session), region
    )
    registered = model.PATIENT.fold(events)
    specialty = await patient_changed(session, patient.state, registered, given)
    result = with_warnings(await session.save(patient, events + specialty.events), specialty)
    duplicate = await _possible_duplicate(session, registered, region)
    if duplicate is None:
        return result
    return dataclasses.replace(
        result, view={**result.view, "warnings": [*result.view["warnings"], duplicate]}
    )


CANDIDATES_READ = 200


async def _possible_duplicate(
    session: CommandSession, registered: model.Patient, region: str
) -> dict[str, Any] | None:
    """The possible-duplicate warning, from the patients read model as it stands: a patient
    registered a moment ago may not be in it yet (the projection follows the store). Both
    conditions are equalities, which the (tenant, birth date) and (tenant, phone digits)
    indexes serve under the table's row-level security."""
    forms = duplicates.phone_digits_of_same_number(registered.phone, region)
    rows = await session.conn.fetch(
        "SELECT patient_id, given_name, family_name, birth_date, phone_digits FROM rm_patients"
        " WHERE NOT erased AND merged_into IS NULL"
        " AND (birth_date = $1 OR phone_digits = ANY($2::text[]))"
        " ORDER BY patient_id LIMIT $3",
        registered.birth_date,
        forms,
        CANDIDATES_READ,
    )
    assert registered.birth_date is not None
    return duplicates.warning(
        registered.given_name,
        registered.family_name,
        registered.birth_date,
        forms,
        [duplicates.Known(**r) for r in rows],
    )


async def change_details(
    session: CommandSession, patient_id: UUID, changes: dict[str, Any], reason: str | None = None
) -> CommandResult:
    patient = await session.load(model.PATIENT, patient_id, conditional=True)
    if changes.get("specialty_data"):
        given = await in_own_units(session, changes["specialty_data"])
        changes = {**changes, "specialty_data": given}
    region = await phone_region(session)
    today = await tenant_today(session)
    events = model.change_details(patient.state, changes, today, region, reason)
    new_state = patient.state
    for event in events:
        new_state = model.evolve(new_state, event)
    given = changes.get("specialty_data")
    specialty = await patient_changed(session, patient.state, new_state, given)
    result = await session.save(patient, events + specialty.events)
    return with_warnings(result, specialty)


async def phone_region(session: CommandSession) -> str:
    """The region the tenant's phones are read in (its policy's `phone_region`)."""
    return (await session.state_of(TENANT, session.tenant_id)).policy.phone_region


async def erase(session: CommandSession, patient_id: UUID, reason: str) -> CommandResult:
    """Crypto-shred the patient: destroy their key, drop or tombstone what holds their data in
    the clear (snapshots, stored command responses), and record the erasure, in one
    transaction. The key goes first: see `tombstone_responses_about`."""
    patient = await session.load(model.PATIENT, patient_id, conditional=True)
    events = model.erase(patient.state, reason)
    await forget_snapshots(session.conn, model.PATIENT.stream_type, patient_id)
    await forget_snapshots_about(session.conn, patient_id)
    await keys.destroy(session.conn, session.tenant_id, patient_id)
    await tombstone_responses_about(session.conn, session.tenant_id, patient_id)
    return await session.save(patient, events)


async def record_death(
    session: CommandSession, patient_id: UUID, died_at: dt.datetime | None
) -> CommandResult:
    """Staff record a death they learned of; from then on the patient is neither booked,
    admitted nor sent anything. `died_at` (default now) is the event's valid time."""
    patient = await session.load(model.PATIENT, patient_id, conditional=True)
    at = died_at or session.ctx.now
    zone = await command_zone(session)
    events = model.record_death(patient.state, at, session.ctx.now, zone=zone)
    return await session.save(patient, events, occurred_at=at)


async def merge(
    session: CommandSession, duplicate_id: UUID, kept_id: UUID, reason: str
) -> CommandResult:
    """Both streams in one transaction, each at the version it was loaded at."""
    duplicate = await session.load(model.PATIENT, duplicate_id, conditional=True)
    kept = await session.load(model.PATIENT, kept_id)
    on_duplicate, on_kept = model.merge(duplicate.state, kept.state, reason)
    return await session.save(duplicate, on_duplicate, {kept.stream_id: (kept, on_kept)})
