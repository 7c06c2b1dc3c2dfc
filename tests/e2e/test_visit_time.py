"""Clinical time on visits: nothing happens before the visit opened, readings are listed in the
order they were taken, a specimen keeps its collection time, and the list refuses `as_of`."""

import datetime as dt

import httpx
from e2e_helpers import error_fields, iso, now, when
from support import TenantFixture
from visit_helpers import events_of, ok, open_walk_in, send

LAB = {"test_code": "K", "test_name": "Potassium"}


async def test_a_reading_before_the_visit_opened_is_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    opened_at = when(visit.body["opened_at"])
    early = {"heart_rate": 90, "occurred_at": iso(opened_at - dt.timedelta(minutes=10))}
    assert error_fields(await send(client, visit, "/vitals", early, "NURSE")) == {"occurred_at"}
    r = await client.get(
        f"/v1/streams/visit/{visit.id}",
        params={"valid_at": iso(opened_at - dt.timedelta(minutes=5))},
        headers=tenant.as_role("AUDITOR"),
    )
    assert r.status_code == 404, r.text  # no state without its patient


async def test_a_visit_opened_late_takes_the_readings_since_it_began(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    began = now() - dt.timedelta(minutes=40)
    visit = await open_walk_in(client, tenant, opened_at=iso(began))
    assert when(visit.body["opened_at"]) == began
    [opened] = await events_of(client, visit, "VisitOpened")
    assert when(opened["occurred_at"]) == began
    triage = began + dt.timedelta(minutes=5)
    await ok(client, visit, "/vitals", {"spo2": 95, "occurred_at": iso(triage)}, "NURSE")
    r = await client.get(
        f"/v1/streams/visit/{visit.id}",
        params={"valid_at": iso(began + dt.timedelta(minutes=1))},
        headers=tenant.as_role("AUDITOR"),
    )
    assert r.status_code == 200, r.text
    state = r.json()["state"]
    assert (state["patient_id"], state["status"], state["vitals"]) == (visit.patient_id, "open", [])
    future = {"patient_id": visit.patient_id, "practitioner_id": visit.doctor_id}
    r = await client.post(
        "/v1/visits",
        json={**future, "opened_at": iso(now() + dt.timedelta(minutes=5))},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert error_fields(r) == {"opened_at"}


async def test_readings_are_listed_in_the_order_they_were_taken(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    began = now() - dt.timedelta(hours=1)
    visit = await open_walk_in(client, tenant, opened_at=iso(began))
    charting = [(began + dt.timedelta(minutes=m), pulse) for m, pulse in ((30, 88), (10, 120))]
    for taken, pulse in charting:
        last = await ok(
            client, visit, "/vitals", {"heart_rate": pulse, "occurred_at": iso(taken)}, "NURSE"
        )
    assert [v["heart_rate"] for v in last["vitals"]] == [120, 88]
    got = await client.get(
        visit.url(), params={"min_position": last["position"]}, headers=visit.doctor
    )
    assert [v["heart_rate"] for v in got.json()["vitals"]] == [120, 88]


async def test_a_specimen_keeps_its_collection_time(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    order = (await ok(client, visit, "/lab-orders", LAB, "DOCTOR"))["order_id"]
    ordered_at = when((await events_of(client, visit, "LabOrdered"))[0]["occurred_at"])
    path = f"/lab-orders/{order}/collect"
    for moment in (ordered_at - dt.timedelta(minutes=1), now() + dt.timedelta(minutes=5)):
        r = await send(client, visit, path, {"collected_at": iso(moment)}, "NURSE")
        assert error_fields(r) == {"collected_at"}
    drawn = ordered_at + dt.timedelta(microseconds=1)
    collected = await ok(client, visit, path, {"collected_at": iso(drawn)}, "NURSE")
    assert when(collected["lab_orders"][0]["collected_at"]) == drawn
    [event] = await events_of(client, visit, "LabSpecimenCollected")
    assert when(event["occurred_at"]) == drawn and when(event["data"]["collected_at"]) == drawn


async def test_the_visit_list_refuses_parameters_it_does_not_have(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    staff = tenant.as_role("NURSE")
    past = iso(now() - dt.timedelta(hours=1))
    for name in ("as_of", "valid_at", "patient"):
        r = await client.get("/v1/visits", params={name: past}, headers=staff)
        assert error_fields(r) == {name}
    r = await client.get(
        "/v1/visits", params={"patient_id": visit.patient_id, "status": "open"}, headers=staff
    )
    assert r.status_code == 200, r.text
