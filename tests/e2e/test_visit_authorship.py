"""Authorship of a visit's note: every revision names its author and the reason given; the
visit's doctor, a covering doctor, auditors and clinic admins read the revisions; sign-off
records the revision it signs and its hash."""

from __future__ import annotations

import hashlib
import json

import httpx
from e2e_helpers import assert_problem, create_practitioner
from support import TenantFixture
from visit_helpers import NOTE, events_of, ok, open_walk_in, send


async def test_revisions_name_their_author_and_sign_off_binds_the_signed_text(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    colleague = await create_practitioner(client, tenant, "Dr. Cover")
    cover = tenant.as_role("DOCTOR", actor=colleague["id"])
    history = visit.url("/note/revisions")
    assert_problem(await client.get(history, headers=cover), 403, "NOT_VISIT_OWNER")
    for role in ("NURSE", "RECEPTIONIST", "PATIENT"):
        assert_problem(
            await send(client, visit, "/note/revisions", None, role, "GET"), 403, "FORBIDDEN"
        )

    await ok(client, visit, "/note", NOTE, visit.doctor, "PUT")
    await ok(client, visit, "/cover", {"reason": "night shift"}, cover)
    revised = {**NOTE, "plan": "amoxicillin 500 mg", "reason": "sputum culture back"}
    second = await ok(client, visit, "/note", revised, cover, "PUT")
    assert (second["note_revision"], second["note_author"]) == (2, colleague["id"])

    for reader in (visit.doctor, cover, tenant.as_role("AUDITOR"), tenant.as_role("CLINIC_ADMIN")):
        r = await client.get(history, headers=reader)
        assert r.status_code == 200, r.text
        revisions = r.json()["revisions"]
        assert [(v["revision"], v["author"], v["reason"]) for v in revisions] == [
            (1, visit.doctor_id, None),
            (2, colleague["id"], "sputum culture back"),
        ]
        assert revisions[1]["note"]["plan"] == "amoxicillin 500 mg"

    signed = await ok(client, visit, "/sign-off", None, visit.doctor)
    note = {k: v for k, v in revised.items() if k != "reason"}
    canonical = json.dumps(note, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    assert signed["signed_note_hash"] == digest
    [event] = await events_of(client, visit, "VisitSignedOff")
    assert (event["data"]["note_revision"], event["data"]["note_hash"]) == (2, digest)
