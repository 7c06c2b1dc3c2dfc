"""`caretrail demo`: two demo tenants through the running API, for the web app's first run.

Riverside Family Clinic (slug `riverside-demo`): two doctors, a few patients, today's bookings
from the next half hour on (one confirmed, so it can be checked in at once), the cardiac plugin
enabled. St. Brigid Hospital (slug `st-brigid-demo`): two wards with beds, a doctor, patients,
one of them admitted. Everything goes through the API's commands, as a clinic would enter it,
with tokens signed by this process's secret (so it talks to an API with the same settings).
Run again, it finds the tenants there and adds nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import urllib.error
import urllib.request
from typing import Any
from uuid import UUID

from backend.auth.tokens import issue_token
from backend.settings import Settings

CLINIC_SLUG = "riverside-demo"
HOSPITAL_SLUG = "st-brigid-demo"
_PATIENTS = (
    ("Ann", "Lee", "1984-03-02", "female", "+1 212 555 0101"),
    ("Bruno", "Costa", "1957-11-19", "male", "+1 212 555 0102"),
    ("Chen", "Wei", "1990-06-30", "female", "+1 212 555 0103"),
    ("Dara", "O'Neil", "1972-01-08", "other", "+1 212 555 0104"),
)


class DemoFailed(Exception):
    pass


def add_commands(sub: Any) -> None:
    demo = sub.add_parser("demo", help="create the demo tenants through a running API")
    demo.add_argument("--api", default=None, help="the API's URL (default http://HOST:PORT)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    api = args.api or f"http://{settings.host}:{settings.port}"
    seeder = _Seeder(api, settings.effective_jwt_secret)
    for slug, seed in ((CLINIC_SLUG, seeder.clinic), (HOSPITAL_SLUG, seeder.hospital)):
        outcome = seed()
        print(f"{slug}: {outcome}")
    return 0


class _Seeder:
    def __init__(self, api: str, secret: str) -> None:
        self.api = api.rstrip("/")
        self.secret = secret

    def clinic(self) -> str:
        tenant = self._tenant("Riverside Family Clinic", CLINIC_SLUG, "clinic")
        if tenant is None:
            return "already there"
        admin = self._as(tenant, "CLINIC_ADMIN")
        grey = admin("POST", "/v1/practitioners", {"name": "Dr. Alice Grey", "specialty": "GP"})
        admin("POST", "/v1/practitioners", {"name": "Dr. Omar Haddad", "specialty": "cardiology"})
        admin("PUT", "/v1/tenant/specialties", {"specialties": ["cardiac"]})
        desk = self._as(tenant, "RECEPTIONIST")
        patients = [self._patient(desk, *p) for p in _PATIENTS]
        start = _next_half_hour(dt.datetime.now(dt.UTC))
        for i, patient in enumerate(patients[:3]):
            slot = start + dt.timedelta(minutes=30 * i)
            booked = desk(
                "POST",
                "/v1/appointments",
                {
                    "patient_id": patient,
                    "practitioner_id": grey["id"],
                    "start": slot.isoformat(),
                    "end": (slot + dt.timedelta(minutes=30)).isoformat(),
                    "reason": ("annual check-up", "chest pain follow-up", "vaccination")[i],
                },
            )
            if i == 0:
                desk("POST", f"/v1/appointments/{booked['id']}/confirm", {})
        return f"tenant {tenant}, {len(patients)} patients, 3 bookings from {start:%H:%M} UTC"

    def hospital(self) -> str:
        tenant = self._tenant("St. Brigid Hospital", HOSPITAL_SLUG, "hospital")
        if tenant is None:
            return "already there"
        admin = self._as(tenant, "CLINIC_ADMIN")
        admin("POST", "/v1/practitioners", {"name": "Dr. Ines Moreau", "specialty": "internal"})
        beds = [f"A{n}" for n in range(1, 7)]
        ward = admin("POST", "/v1/wards", {"name": "Ward A", "beds": beds})
        admin("POST", "/v1/wards", {"name": "Cardiac ICU", "beds": ["C1", "C2", "C3", "C4"]})
        desk = self._as(tenant, "RECEPTIONIST")
        patients = [self._patient(desk, *p) for p in _PATIENTS[:3]]
        admin(
            "POST",
            "/v1/admissions",
            {"patient_id": patients[0], "ward_id": ward["id"], "bed": "A1", "reason": "pneumonia"},
        )
        return f"tenant {tenant}, 2 wards, {len(patients)} patients, 1 admitted"

    def _tenant(self, name: str, slug: str, kind: str) -> UUID | None:
        """The new tenant's id; None if the slug is taken (seeded before)."""
        token = issue_token(self.secret, actor="demo-seed", roles=["PLATFORM_ADMIN"])
        try:
            body = _call(
                self.api, token, "POST", "/v1/tenants", {"name": name, "slug": slug, "kind": kind}
            )
        except DemoFailed as e:
            if "TENANT_EXISTS" in str(e):
                return None
            raise
        return UUID(body["id"])

    def _as(self, tenant: UUID, role: str) -> Any:
        actor = f"demo-{role.lower()}"
        token = issue_token(self.secret, actor=actor, roles=[role], tenant_id=tenant)
        return lambda method, path, body: _call(self.api, token, method, path, body)

    @staticmethod
    def _patient(desk: Any, given: str, family: str, born: str, sex: str, phone: str) -> str:
        body = {
            "given_name": given,
            "family_name": family,
            "birth_date": born,
            "sex": sex,
            "phone": phone,
        }
        return str(desk("POST", "/v1/patients", body)["id"])


def _next_half_hour(now: dt.datetime) -> dt.datetime:
    base = now.replace(minute=0, second=0, microsecond=0)
    return base + dt.timedelta(minutes=30 if now.minute < 30 else 60)


def _call(api: str, token: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        api + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as e:
        raise DemoFailed(f"{method} {path}: {e.code} {e.read().decode()}") from e
    except urllib.error.URLError as e:
        raise DemoFailed(f"the API at {api} does not answer: {e.reason}") from e
