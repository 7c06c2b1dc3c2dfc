import type { Role } from "@/api/types";
import { may } from "./roles";

/** Where a role starts its day. */
export function landing(roles: Role[]): string {
  if (may.runFrontDesk(roles)) return "/today";
  if (may.readPatients(roles)) return "/patients";
  if (may.readInvoices(roles)) return "/billing";
  return "/patients";
}
