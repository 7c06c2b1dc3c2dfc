/**
 * The shapes the API answers with, as docs/API.md describes them. The OpenAPI document types
 * every request (paths, parameters, bodies: schema.d.ts, generated) but declares no response
 * schemas yet, so the answers are typed here, beside the client that casts them.
 */

export type Role =
  | "CLINIC_ADMIN"
  | "DOCTOR"
  | "NURSE"
  | "RECEPTIONIST"
  | "PHARMACIST"
  | "LAB_TECHNICIAN"
  | "FINANCE_BILLING"
  | "AUDITOR"
  | "PATIENT";

/** What every command answers besides the resource: its stream version and global position. */
export interface Written {
  id: string;
  version: number;
  position: number;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Tenant {
  id: string;
  name: string;
  slug: string;
  version: number;
  specialties: string[];
  policy: {
    kind: "clinic" | "hospital";
    currency: string;
    timezone: string;
    discount_threshold_percent: string;
    late_charting_max_hours: number;
  };
}

export interface Practitioner {
  id: string;
  name: string;
  specialty: string | null;
  version: number;
}

export interface Patient {
  id: string;
  given_name: string;
  family_name: string;
  birth_date: string | null;
  sex: "female" | "male" | "other" | "unknown";
  phone: string | null;
  email: string | null;
  specialty_data: Record<string, Record<string, unknown>>;
  erased: boolean;
  deceased: boolean;
  version: number;
}

export type AppointmentStatus =
  | "requested"
  | "confirmed"
  | "checked_in"
  | "completed"
  | "cancelled"
  | "no_show";

export interface Appointment extends Written {
  patient_id: string;
  practitioner_id: string;
  start: string;
  end: string;
  status: AppointmentStatus;
  reason: string | null;
}

export interface PractitionerDay {
  practitioner_id: string;
  date: string;
  busy: { appointment_id: string; start: string; end: string; status: AppointmentStatus }[];
  free: { start: string; end: string }[];
}

export type PaymentStatus = "none" | "draft" | "issued" | "partially_paid" | "paid" | "refunded" | "void";

/** What the desk shows of an appointment and of a walk-in (a visit opened without one). */
interface DeskEntry {
  start: string;
  reason: string | null;
  patient: { id: string; name: string | null };
  practitioner: { id: string; name: string | null };
  visit: { id: string; status: "open" | "signed" } | null;
  payment: {
    status: PaymentStatus;
    invoice_id: string | null;
    currency: string | null;
    total: string | null;
    balance: string | null;
  };
}

export interface DeskAppointment extends DeskEntry {
  kind: "appointment";
  appointment_id: string;
  end: string;
  status: AppointmentStatus;
}

export interface DeskWalkIn extends DeskEntry {
  kind: "walk_in";
  appointment_id: null;
  end: null;
  status: null;
}

export type DeskItem = DeskAppointment | DeskWalkIn;

export interface DeskDay {
  date: string;
  items: DeskItem[];
}

export interface Note {
  subjective: string;
  objective: string;
  assessment: string;
  plan: string;
}

export interface Visit extends Written {
  patient_id: string;
  practitioner_id: string;
  appointment_id: string | null;
  reason: string | null;
  status: "open" | "signed";
  opened_at: string;
  note: Note | null;
  note_revision: number;
  services: { code: string; description: string; quantity: number; unit_price: string }[];
  vitals: ({
    reading_id: string;
    taken_at: string;
    status: "final" | "entered_in_error";
  } & Partial<Record<VitalSign, string | number>>)[];
  prescriptions: {
    prescription_id: string;
    medication: string;
    dose: string;
    route: string;
    frequency: string;
    status: string;
  }[];
  lab_orders: {
    order_id: string;
    test_code: string;
    test_name: string;
    status: string;
    result: { value: string; unit: string | null; abnormal: boolean } | null;
  }[];
  addenda: { text: string; author: string; added_at: string }[];
  warnings?: { rule: string; message: string }[];
}

export type VitalSign =
  | "heart_rate"
  | "systolic"
  | "diastolic"
  | "temperature_c"
  | "respiratory_rate"
  | "spo2";

export interface Invoice extends Written {
  patient_id: string;
  visit_id: string | null;
  currency: string;
  status: Exclude<PaymentStatus, "none">;
  lines: {
    line_id: string;
    code: string;
    description: string;
    quantity: number;
    unit_price: string;
    amount: string;
  }[];
  discount_percent: string | null;
  discount_reason: string | null;
  subtotal: string;
  discount: string;
  total: string;
  paid: string;
  refunded: string;
  balance: string;
  credit: string;
  payment_ids: string[];
  received: string;
  credit_in: string;
  credit_out: string;
  credit_note: { credit_note_id: string; amount: string; reason: string } | null;
}

export interface Payment {
  id: string;
  provider: string;
  amount: string;
  currency: string;
  status: "captured" | "refused" | "refunded";
  invoice_id: string | null;
}

export interface StreamEvent {
  position: number;
  version: number;
  type: string;
  data: Record<string, unknown>;
  occurred_at: string;
  recorded_at: string;
  actor: string;
}

export interface StreamState<S> {
  stream_type: string;
  stream_id: string;
  version: number;
  state: S;
  as_of: string | null;
}

export interface Admission extends Written {
  patient_id: string;
  ward_id: string;
  bed: string;
  reason: string;
  status: "admitted" | "discharged";
  admitted_at: string;
}

export interface CensusEntry {
  admission_id: string;
  patient_id: string;
  ward_id: string;
  bed: string;
  admitted_at: string;
}

export interface Occupancy {
  items: { ward_id: string; name: string; beds: number; occupied: number; free: number; occupancy: string }[];
  next_cursor: string | null;
  total: { beds: number; occupied: number; free: number; occupancy: string };
}

export interface SpecialtyField {
  name: string;
  type: "number" | "integer" | "enum" | "boolean" | "string" | "date";
  label?: string;
  unit?: string;
  values?: string[];
  min?: number;
  max?: number;
  applies_to: string[];
}

export interface SpecialtyConfig {
  name: string;
  display_name: string;
  header: { primary_fields: string[]; secondary_fields: string[] };
  fields: SpecialtyField[];
}

export interface DevSignInOptions {
  roles: Role[];
  tenants: {
    id: string;
    name: string;
    slug: string;
    kind: "clinic" | "hospital";
    practitioners: { id: string; name: string; specialty: string | null }[];
  }[];
}

export interface DevToken {
  token: string;
  expires_at: string;
}
