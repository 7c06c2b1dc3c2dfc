"""Liveness, readiness and the published OpenAPI description."""

import httpx

V1_OPERATIONS = {
    ("/v1/waitlist", "post"),
    ("/v1/waitlist", "get"),
    ("/v1/waitlist/{entry_id}", "delete"),
    ("/v1/waitlist/offers/{offer_id}/accept", "post"),
    ("/v1/check-in/token", "get"),
    ("/v1/check-in/qr", "post"),
    ("/v1/queue", "get"),
    ("/v1/queue/stream", "get"),
    ("/v1/events", "get"),
    ("/v1/tenants", "post"),
    ("/v1/practitioners", "post"),
    ("/v1/practitioners/{practitioner_id}", "get"),
    ("/v1/patients", "post"),
    ("/v1/patients", "get"),
    ("/v1/patients/{patient_id}", "get"),
    ("/v1/patients/{patient_id}", "patch"),
    ("/v1/appointments", "post"),
    ("/v1/appointments", "get"),
    ("/v1/appointments/{appointment_id}", "get"),
    ("/v1/appointments/{appointment_id}/confirm", "post"),
    ("/v1/appointments/{appointment_id}/cancel", "post"),
    ("/v1/appointments/{appointment_id}/check-in", "post"),
    ("/v1/appointments/{appointment_id}/complete", "post"),
    ("/v1/appointments/{appointment_id}/no-show", "post"),
    ("/v1/holds", "post"),
    ("/v1/holds/{hold_id}", "get"),
    ("/v1/holds/{hold_id}/confirm", "post"),
    ("/v1/slots", "get"),
    ("/v1/practitioners/{practitioner_id}/working-hours", "put"),
    ("/v1/practitioners/{practitioner_id}/working-hours", "get"),
    ("/v1/practitioners/{practitioner_id}/time-off", "post"),
    ("/v1/practitioners/{practitioner_id}/time-off/{time_off_id}", "delete"),
    ("/v1/streams/{stream_type}/{stream_id}", "get"),
    ("/v1/streams/{stream_type}/{stream_id}/events", "get"),
    ("/v1/projections", "get"),
    ("/v1/practitioners/{practitioner_id}/day", "get"),
    ("/v1/tenant", "get"),
    ("/v1/tenant/policy", "patch"),
    ("/v1/streams/{stream_type}/{stream_id}/verify", "get"),
    ("/v1/audit/export", "get"),
    ("/v1/audit/verify", "get"),
    ("/v1/patients/{patient_id}/erase", "post"),
    ("/v1/patients/{patient_id}/merge", "post"),
    ("/v1/patients/{patient_id}/allergies", "post"),
    ("/v1/patients/{patient_id}/allergies", "get"),
    ("/v1/patients/{patient_id}/allergies/{allergy_id}/remove", "post"),
    ("/v1/patients/{patient_id}/timeline", "get"),
    ("/v1/lab-orders", "get"),
    ("/v1/audit/access", "get"),
    ("/v1/subscriptions", "post"),
    ("/v1/subscriptions", "get"),
    ("/v1/subscriptions/{subscription_id}", "delete"),
    ("/v1/subscriptions/{subscription_id}/replay", "post"),
    ("/v1/prescriptions", "get"),
    ("/v1/visits/{visit_id}/prescriptions/{prescription_id}/dispense", "post"),
    ("/v1/patients/{patient_id}/death", "post"),
    ("/v1/visits", "post"),
    ("/v1/visits", "get"),
    ("/v1/visits/{visit_id}", "get"),
    ("/v1/visits/{visit_id}/note", "put"),
    ("/v1/visits/{visit_id}/services", "post"),
    ("/v1/visits/{visit_id}/sign-off", "post"),
    ("/v1/visits/{visit_id}/addenda", "post"),
    ("/v1/visits/{visit_id}/cover", "post"),
    ("/v1/visits/{visit_id}/vitals", "post"),
    ("/v1/visits/{visit_id}/prescriptions", "post"),
    ("/v1/visits/{visit_id}/prescriptions/{prescription_id}/discontinue", "post"),
    ("/v1/visits/{visit_id}/prescriptions/{prescription_id}/cancel", "post"),
    ("/v1/visits/{visit_id}/lab-orders", "post"),
    ("/v1/visits/{visit_id}/lab-orders/{order_id}/collect", "post"),
    ("/v1/visits/{visit_id}/lab-orders/{order_id}/result", "post"),
    ("/v1/visits/{visit_id}/lab-orders/{order_id}/amendments", "post"),
    ("/v1/visits/{visit_id}/lab-orders/{order_id}/release", "post"),
    ("/v1/visits/{visit_id}/note/revisions", "get"),
    ("/v1/visits/{visit_id}/vitals/{reading_id}/entered-in-error", "post"),
    ("/v1/wards", "post"),
    ("/v1/wards/{ward_id}/beds", "post"),
    ("/v1/wards/{ward_id}/rename", "post"),
    ("/v1/wards/{ward_id}/close", "post"),
    ("/v1/wards/{ward_id}/bed-states", "post"),
    ("/v1/wards/occupancy", "get"),
    ("/v1/admissions", "post"),
    ("/v1/api-keys", "post"),
    ("/v1/api-keys", "get"),
    ("/v1/api-keys/{key_id}", "delete"),
    ("/v1/api-keys/{key_id}/rotate", "post"),
    ("/v1/admissions", "get"),
    ("/v1/admissions/{admission_id}", "get"),
    ("/v1/admissions/{admission_id}/transfer", "post"),
    ("/v1/admissions/{admission_id}/discharge", "post"),
    ("/v1/census", "get"),
    ("/v1/notification-templates/{name}", "put"),
    ("/v1/notifications", "get"),
    ("/v1/notifications/{notification_id}", "get"),
    ("/v1/reactions", "get"),
    ("/v1/invoices", "post"),
    ("/v1/invoices", "get"),
    ("/v1/invoices/{invoice_id}", "get"),
    ("/v1/invoices/{invoice_id}/lines", "post"),
    ("/v1/invoices/{invoice_id}/lines/{line_id}", "delete"),
    ("/v1/invoices/{invoice_id}/discount", "post"),
    ("/v1/invoices/{invoice_id}/issue", "post"),
    ("/v1/invoices/{invoice_id}/refunds", "post"),
    ("/v1/invoices/{invoice_id}/payments", "post"),
    ("/v1/invoices/{invoice_id}/credit-transfers", "post"),
    ("/v1/invoices/{invoice_id}/void", "post"),
    ("/v1/ledger", "get"),
    ("/v1/payments", "get"),
    ("/v1/payments/webhook/{provider}", "post"),
    ("/v1/front-desk/day", "get"),
    ("/v1/specialties", "get"),
    ("/v1/specialties/{name}/config", "get"),
    ("/v1/specialties/reload", "post"),
    ("/v1/tenant/specialties", "put"),
    ("/v1/visits/{visit_id}/specialty-events", "post"),
    ("/v1/admissions/{admission_id}/specialty-events", "post"),
    ("/v1/visits/{visit_id}/specialty-data", "patch"),
    ("/v1/admissions/{admission_id}/specialty-data", "patch"),
    ("/v1/checklists", "get"),
    ("/v1/worklist", "get"),
    ("/v1/checklists/{checklist_id}/steps/{step}", "post"),
}


async def test_health_is_ok_without_credentials(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_ready_reports_database_and_migrations(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == "ok"
    assert "projections" in body["checks"]


async def test_openapi_describes_every_v1_operation(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    described = {(path, method) for path, ops in paths.items() for method in ops}
    assert described >= V1_OPERATIONS, sorted(V1_OPERATIONS - described)
    assert {"/health", "/health/ready"} <= paths.keys()


async def test_openapi_lists_no_undocumented_v1_path(client: httpx.AsyncClient) -> None:
    """Every /v1 path the spec lists is one this suite knows, so new ones get tests too."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    listed = {p for p in paths if p.startswith("/v1/")}
    assert listed == {path for path, _ in V1_OPERATIONS}
