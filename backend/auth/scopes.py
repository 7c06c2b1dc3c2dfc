"""What a partner's API key may call: every route of the API is listed once, either with the
scope a key needs for it (KEY_ROUTES) or as closed to keys (CLOSED_TO_KEYS: staff work,
platform, audit and operations routes). Roles for people stay with each route (`require(...)`);
a test walks the OpenAPI document and fails when a route is in neither table, so a new route is
never opened to keys, nor closed to them, by omission.
"""

from __future__ import annotations

PATIENTS_READ = "patients:read"
PATIENTS_WRITE = "patients:write"
APPOINTMENTS_READ = "appointments:read"
APPOINTMENTS_WRITE = "appointments:write"
VISITS_READ = "visits:read"
INVOICES_READ = "invoices:read"
EVENTS_READ = "events:read"

SCOPES = frozenset(
    {
        PATIENTS_READ,
        PATIENTS_WRITE,
        APPOINTMENTS_READ,
        APPOINTMENTS_WRITE,
        VISITS_READ,
        INVOICES_READ,
        EVENTS_READ,
    }
)

KEY_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/v1/patients"): PATIENTS_READ,
    ("GET", "/v1/patients/{patient_id}"): PATIENTS_READ,
    ("POST", "/v1/patients"): PATIENTS_WRITE,
    ("PATCH", "/v1/patients/{patient_id}"): PATIENTS_WRITE,
    ("GET", "/v1/practitioners"): APPOINTMENTS_READ,
    ("GET", "/v1/appointments"): APPOINTMENTS_READ,
    ("GET", "/v1/appointments/{appointment_id}"): APPOINTMENTS_READ,
    ("POST", "/v1/appointments"): APPOINTMENTS_WRITE,
    ("POST", "/v1/appointments/{appointment_id}/confirm"): APPOINTMENTS_WRITE,
    ("POST", "/v1/appointments/{appointment_id}/cancel"): APPOINTMENTS_WRITE,
    ("POST", "/v1/appointments/{appointment_id}/check-in"): APPOINTMENTS_WRITE,
    ("GET", "/v1/slots"): APPOINTMENTS_READ,
    ("POST", "/v1/holds"): APPOINTMENTS_WRITE,
    ("GET", "/v1/holds/{hold_id}"): APPOINTMENTS_READ,
    ("POST", "/v1/holds/{hold_id}/confirm"): APPOINTMENTS_WRITE,
    ("GET", "/v1/visits"): VISITS_READ,
    ("GET", "/v1/visits/{visit_id}"): VISITS_READ,
    ("GET", "/v1/invoices"): INVOICES_READ,
    ("GET", "/v1/invoices/{invoice_id}"): INVOICES_READ,
    ("POST", "/v1/subscriptions"): EVENTS_READ,
    ("GET", "/v1/subscriptions"): EVENTS_READ,
    ("DELETE", "/v1/subscriptions/{subscription_id}"): EVENTS_READ,
    ("POST", "/v1/subscriptions/{subscription_id}/replay"): EVENTS_READ,
    ("GET", "/v1/events"): EVENTS_READ,
}
"""(method, route path) → the scope a key needs."""

_CLOSED = """
GET /health
GET /health/ready
GET /metrics
GET /v1/admissions
POST /v1/admissions
GET /v1/admissions/{admission_id}
POST /v1/admissions/{admission_id}/discharge
PATCH /v1/admissions/{admission_id}/specialty-data
POST /v1/admissions/{admission_id}/specialty-events
POST /v1/admissions/{admission_id}/transfer
GET /v1/api-keys
POST /v1/api-keys
DELETE /v1/api-keys/{key_id}
POST /v1/api-keys/{key_id}/rotate
POST /v1/appointments/{appointment_id}/complete
POST /v1/appointments/{appointment_id}/no-show
GET /v1/audit/export
GET /v1/audit/access
GET /v1/audit/verify
GET /v1/census
GET /v1/checklists
GET /v1/worklist
POST /v1/checklists/{checklist_id}/steps/{step}
GET /v1/dev/sign-in
POST /v1/dev/sign-in
GET /v1/front-desk/day
GET /v1/practitioners/{practitioner_id}/working-hours
PUT /v1/practitioners/{practitioner_id}/working-hours
POST /v1/practitioners/{practitioner_id}/time-off
DELETE /v1/practitioners/{practitioner_id}/time-off/{time_off_id}
GET /v1/queue
GET /v1/queue/stream
GET /v1/check-in/token
POST /v1/check-in/qr
GET /v1/waitlist
POST /v1/waitlist
DELETE /v1/waitlist/{entry_id}
POST /v1/waitlist/offers/{offer_id}/accept
POST /v1/invoices
POST /v1/invoices/{invoice_id}/credit-transfers
POST /v1/invoices/{invoice_id}/discount
POST /v1/invoices/{invoice_id}/issue
POST /v1/invoices/{invoice_id}/lines
DELETE /v1/invoices/{invoice_id}/lines/{line_id}
POST /v1/invoices/{invoice_id}/payments
POST /v1/invoices/{invoice_id}/refunds
POST /v1/invoices/{invoice_id}/void
GET /v1/ledger
PUT /v1/notification-templates/{name}
GET /v1/notifications
GET /v1/notifications/{notification_id}
POST /v1/patients/{patient_id}/death
GET /v1/patients/{patient_id}/allergies
GET /v1/patients/{patient_id}/timeline
GET /v1/lab-orders
GET /v1/prescriptions
POST /v1/visits/{visit_id}/prescriptions/{prescription_id}/dispense
POST /v1/patients/{patient_id}/allergies
POST /v1/patients/{patient_id}/allergies/{allergy_id}/remove
POST /v1/patients/{patient_id}/erase
POST /v1/patients/{patient_id}/merge
GET /v1/payments
POST /v1/payments/webhook/{provider}
POST /v1/practitioners
GET /v1/practitioners/{practitioner_id}
GET /v1/practitioners/{practitioner_id}/day
GET /v1/projections
GET /v1/reactions
GET /v1/specialties
POST /v1/specialties/reload
GET /v1/specialties/{name}/config
GET /v1/streams/{stream_type}/{stream_id}
GET /v1/streams/{stream_type}/{stream_id}/events
GET /v1/streams/{stream_type}/{stream_id}/verify
GET /v1/tenant
PATCH /v1/tenant/policy
PUT /v1/tenant/specialties
POST /v1/tenants
POST /v1/visits
POST /v1/visits/{visit_id}/addenda
POST /v1/visits/{visit_id}/cover
POST /v1/visits/{visit_id}/lab-orders
POST /v1/visits/{visit_id}/lab-orders/{order_id}/amendments
POST /v1/visits/{visit_id}/lab-orders/{order_id}/collect
POST /v1/visits/{visit_id}/lab-orders/{order_id}/release
POST /v1/visits/{visit_id}/lab-orders/{order_id}/result
PUT /v1/visits/{visit_id}/note
GET /v1/visits/{visit_id}/note/revisions
POST /v1/visits/{visit_id}/prescriptions
POST /v1/visits/{visit_id}/prescriptions/{prescription_id}/cancel
POST /v1/visits/{visit_id}/prescriptions/{prescription_id}/discontinue
POST /v1/visits/{visit_id}/services
POST /v1/visits/{visit_id}/sign-off
PATCH /v1/visits/{visit_id}/specialty-data
POST /v1/visits/{visit_id}/specialty-events
POST /v1/visits/{visit_id}/vitals
POST /v1/visits/{visit_id}/vitals/{reading_id}/entered-in-error
POST /v1/wards
GET /v1/wards/occupancy
POST /v1/wards/{ward_id}/beds
POST /v1/wards/{ward_id}/bed-states
POST /v1/wards/{ward_id}/close
POST /v1/wards/{ward_id}/rename
"""
CLOSED_TO_KEYS = frozenset(
    (method, path) for method, path in (line.split() for line in _CLOSED.strip().splitlines())
)
"""Routes no key may call: clinical and billing work by staff, platform, audit, operations."""


def scope_for(method: str, path: str) -> str | None:
    return KEY_ROUTES.get((method, path))
