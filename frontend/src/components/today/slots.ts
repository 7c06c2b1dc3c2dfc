import type { DeskAppointment, DeskItem, DeskWalkIn, PractitionerDay } from "@/api/types";

export const SLOT_MINUTES = 30;
const OPENING_HOUR = 7;
const CLOSING_HOUR = 20;

export type Row =
  | { kind: "free"; start: string; end: string }
  | { kind: "busy"; start: string; item: DeskAppointment | undefined; appointmentId: string }
  | { kind: "walk_in"; start: string; item: DeskWalkIn; visitId: string };

/** Whether a slot lies inside the clinic's opening hours, read in the tenant's time zone. */
function open(iso: string, timeZone: string): boolean {
  const hour = Number(
    new Intl.DateTimeFormat("en-GB", { hour: "2-digit", hourCycle: "h23", timeZone }).format(new Date(iso)),
  );
  return hour >= OPENING_HOUR && hour < CLOSING_HOUR;
}

/** The free 30-minute slots of a day: whole slots inside the API's free intervals. */
export function freeSlots(day: PractitionerDay, timeZone: string, notBefore = 0): { start: string; end: string }[] {
  const slots: { start: string; end: string }[] = [];
  const step = SLOT_MINUTES * 60_000;
  for (const gap of day.free) {
    const gapEnd = new Date(gap.end).getTime();
    let at = Math.ceil(new Date(gap.start).getTime() / step) * step;
    for (; at + step <= gapEnd; at += step) {
      const start = new Date(at).toISOString();
      if (at >= notBefore && open(start, timeZone)) {
        slots.push({ start, end: new Date(at + step).toISOString() });
      }
    }
  }
  return slots;
}

/** The practitioner's day as the desk reads it: free slots, appointments and walk-ins, by time. */
export function rowsOf(day: PractitionerDay, items: DeskItem[], timeZone: string): Row[] {
  const theirs = items.filter((i) => i.practitioner.id === day.practitioner_id);
  const mine = theirs.filter((i): i is DeskAppointment => i.kind === "appointment");
  const walkIns = theirs.filter((i): i is DeskWalkIn => i.kind === "walk_in");
  const busyIds = new Set(day.busy.map((b) => b.appointment_id));
  const rows: Row[] = [
    // Time already begun is not offered: a booking is for what is ahead.
    ...freeSlots(day, timeZone, Date.now()).map((s) => ({ kind: "free" as const, ...s })),
    ...day.busy.map((b) => ({
      kind: "busy" as const,
      start: b.start,
      appointmentId: b.appointment_id,
      item: mine.find((i) => i.appointment_id === b.appointment_id),
    })),
    // Appointments that no longer hold time (completed, no-show, cancelled) stay on the list.
    ...mine
      .filter((i) => !busyIds.has(i.appointment_id))
      .map((i) => ({ kind: "busy" as const, start: i.start, appointmentId: i.appointment_id, item: i })),
    // A walk-in's visit was opened without an appointment: it holds no slot, but it is seen.
    ...walkIns
      .filter((i) => i.visit !== null)
      .map((i) => ({ kind: "walk_in" as const, start: i.start, item: i, visitId: i.visit?.id ?? "" })),
  ];
  return rows.sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
}

/** The first free slot after a taken one, for "that slot was just taken: take HH:MM?". */
export function nextFree(
  day: PractitionerDay,
  taken: { start: string; end: string },
  timeZone: string,
): { start: string; end: string } | null {
  const after = new Date(taken.end).getTime();
  return freeSlots(day, timeZone, after)[0] ?? null;
}
