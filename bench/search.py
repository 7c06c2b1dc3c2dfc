"""Patient search at the front desk's scale: `GET /v1/patients?q=` over one tenant's 100,000
patients, the route's own query (`search_filter`, paged by `page` as the route pages it), run
as the API's role under the tenant's row-level security. Against the first page with no
search, read the same way side by side (the floor of any page of the list).

Kinds of search, alternated so that noise hits each alike:
- `rare`: one patient's full name as staff may type it ("garcia lopez, maria" for María
  García López; the few patients of that name);
- `common`: a family name (each is one of about 65, so a full first page of 50);
- `fragment`: the first four letters of a family name, lower case, no accents;
- `phone`: a patient's number typed in national format ("(212) 555-0101").

The read model is seeded directly (rows as the projection writes them), not through commands:
what is measured is the read, and 100,000 registrations would take the bench minutes."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
import uuid
from collections.abc import Callable

import asyncpg

from backend.eventstore.db import connect
from backend.kernel import phones
from backend.patients.names import name_key
from backend.patients.router import BY_ID, search_filter
from backend.settings import with_user
from bench.common import report

GIVEN = [
    "María",
    "José",
    "Ann",
    "Anne",
    "Dara",
    "Chen",
    "Bruno",
    "Zoë",
    "Łukasz",
    "Søren",
    "Ingrid",
    "Jürgen",
    "Amélie",
    "François",
    "Ólafur",
    "Siobhán",
    "Mohammed",
    "Aisha",
    "Priya",
    "Kenji",
    "Olga",
    "Noah",
    "Liam",
    "Emma",
    "Sofía",
    "Mateo",
    "Lucía",
    "Hugo",
    "Inès",
    "Björn",
]
FAMILY = [
    "García",
    "Lee",
    "O'Neil",
    "Costa",
    "Wei",
    "Müller",
    "Nguyễn",
    "Smith-Jones",
    "Kowalski",
    "Dubois",
    "Rossi",
    "Hansen",
    "Ødegård",
    "Schröder",
    "Fernández",
    "López",
    "Pérez",
    "Martín",
    "Gómez",
    "Díaz",
    "Moreno",
    "Álvarez",
    "Romero",
    "Navarro",
    "Torres",
    "Domínguez",
    "Vázquez",
    "Ramos",
    "Gil",
    "Ramírez",
    "Serrano",
    "Blanco",
    "Suárez",
    "Molina",
    "Castro",
    "Ortega",
    "Delgado",
    "Ortiz",
    "Marín",
    "Rubio",
    "Sanz",
    "Iglesias",
    "Núñez",
    "Medina",
    "Garrido",
    "Santos",
    "Castillo",
    "Cortés",
    "Lozano",
    "Guerrero",
    "Cano",
    "Prieto",
    "Méndez",
    "Calvo",
    "Cruz",
    "Gallego",
    "Vidal",
    "León",
    "Herrera",
    "Márquez",
    "Peña",
    "Flores",
    "Cabrera",
]
REGION = "US"
PAGE = 50


async def name_search_latency(owner: str, patients: int, queries: int) -> None:
    tenant = uuid.uuid4()
    rng = random.Random(21)
    seeded = await _seed(owner, tenant, patients, rng)
    conn = await connect(with_user(owner, "caretrail_app"))
    try:
        kinds: dict[str, Callable[[], str]] = {
            "rare": lambda: _rare(rng.choice(seeded)),
            "common": lambda: rng.choice(FAMILY),
            "fragment": lambda: name_key("", rng.choice(FAMILY))[1:5],
            "phone": lambda: _national(rng.choice(seeded)[2]),
        }
        timings: dict[str, list[float]] = {"unfiltered": [], **{k: [] for k in kinds}}
        for _ in range(queries):
            timings["unfiltered"].append(await _timed(conn, tenant, ""))
            for kind, needle in kinds.items():
                timings[kind].append(await _timed(conn, tenant, needle()))
    finally:
        await conn.close()
    floor = statistics.median(timings["unfiltered"])
    report(f"patient_list_{patients}_p50", floor, "ms", floor)
    for kind in kinds:
        ordered = sorted(timings[kind])
        report(f"patient_search_{kind}_{patients}_p50", statistics.median(ordered), "ms", floor)
        report(
            f"patient_search_{kind}_{patients}_p95", ordered[int(len(ordered) * 0.95)], "ms", floor
        )


async def _timed(conn: asyncpg.Connection, tenant: uuid.UUID, text: str) -> float:
    where, args = search_filter(text, REGION)
    sql = (
        f"SELECT * FROM rm_patients WHERE {where} ORDER BY {BY_ID.order_by()}"
        f" LIMIT ${len(args) + 1}"
    )
    started = time.perf_counter()
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
        await conn.fetch(sql, *args, PAGE + 1)
    return (time.perf_counter() - started) * 1000


async def _seed(
    owner: str, tenant: uuid.UUID, patients: int, rng: random.Random
) -> list[tuple[str, str, str]]:
    """`patients` rows of `tenant` (given, family, E.164 phone of each), analysed."""
    people = [(rng.choice(GIVEN), _family(rng), _phone(rng)) for _ in range(patients)]
    born = [dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(30_000)) for _ in people]
    conn = await connect(owner)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            await conn.execute(
                "INSERT INTO rm_patients (tenant_id, patient_id, given_name, family_name,"
                " search_name, birth_date, sex, phone, phone_as_typed, phone_digits, version)"
                " SELECT $1, gen_random_uuid(), g, f, k, b, 'unknown', p, p, d, 1"
                " FROM unnest($2::text[], $3::text[], $4::text[], $5::date[], $6::text[],"
                " $7::text[]) AS u(g, f, k, b, p, d)",
                tenant,
                [g for g, _, _ in people],
                [f for _, f, _ in people],
                [name_key(g, f) for g, f, _ in people],
                born,
                [p for _, _, p in people],
                [phones.digits(p) for _, _, p in people],
            )
        await conn.execute("ANALYZE rm_patients")
    finally:
        await conn.close()
    return people


def _family(rng: random.Random) -> str:
    """One family name, or two (as in Spain): about 4,000 pairs make most full names rare."""
    first = rng.choice(FAMILY)
    return f"{first} {rng.choice(FAMILY)}" if rng.random() < 0.7 else first


def _phone(rng: random.Random) -> str:
    return f"+1212{rng.randrange(2_000_000, 9_999_999)}"


def _rare(person: tuple[str, str, str]) -> str:
    given, family, _ = person
    return f"{family.lower()}, {given.lower()}"


def _national(e164: str) -> str:
    digits = e164[2:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
