/** What each role is offered, mirroring the API's rules (docs/API.md); the API still decides. */
import type { Role } from "@/api/types";

const STAFF: Role[] = ["CLINIC_ADMIN", "DOCTOR", "NURSE", "RECEPTIONIST"];

const has = (roles: Role[], allowed: Role[]) => roles.some((r) => allowed.includes(r));

export const may = {
  runFrontDesk: (roles: Role[]) => has(roles, STAFF),
  readPatients: (roles: Role[]) => has(roles, [...STAFF, "AUDITOR"]),
  registerPatients: (roles: Role[]) => has(roles, ["RECEPTIONIST", "NURSE", "DOCTOR", "CLINIC_ADMIN"]),
  readHistory: (roles: Role[]) => has(roles, ["AUDITOR", "CLINIC_ADMIN"]),
  chart: (roles: Role[]) => has(roles, ["DOCTOR", "NURSE"]),
  addServices: (roles: Role[]) => has(roles, STAFF),
  order: (roles: Role[]) => has(roles, ["DOCTOR"]),
  /** Sign-off: only the doctor who owns the visit (the token's subject is that practitioner). */
  signOff: (roles: Role[], actor: string, practitionerId: string) =>
    has(roles, ["DOCTOR"]) && actor === practitionerId,
  readInvoices: (roles: Role[]) =>
    has(roles, ["RECEPTIONIST", "FINANCE_BILLING", "CLINIC_ADMIN", "AUDITOR"]),
  bill: (roles: Role[]) => has(roles, ["RECEPTIONIST", "FINANCE_BILLING", "CLINIC_ADMIN"]),
  /** Discounts above the tenant's threshold. */
  approveDiscounts: (roles: Role[]) => has(roles, ["FINANCE_BILLING", "CLINIC_ADMIN"]),
  readPayments: (roles: Role[]) => has(roles, ["FINANCE_BILLING", "CLINIC_ADMIN", "AUDITOR"]),
  readCensus: (roles: Role[]) => has(roles, [...STAFF, "AUDITOR"]),
  admit: (roles: Role[]) => has(roles, ["DOCTOR", "NURSE", "CLINIC_ADMIN"]),
  discharge: (roles: Role[]) => has(roles, ["DOCTOR"]),
  defineWards: (roles: Role[]) => has(roles, ["CLINIC_ADMIN"]),
};
