/** Times as the clinic reads them: in the tenant's time zone (its policy), 24-hour clock. */

export function clock(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone }).format(
    new Date(iso),
  );
}

export function dateTime(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    dateStyle: "medium",
    timeStyle: "medium",
    timeZone,
  }).format(new Date(iso));
}

/** Today's date in the clinic's time zone, `YYYY-MM-DD`: the API's days are the tenant's. */
export function todayIn(timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(
    new Date(),
  );
}

export function addMinutes(iso: string, minutes: number): string {
  return new Date(new Date(iso).getTime() + minutes * 60_000).toISOString();
}

/** A `datetime-local` value (the browser's zone) as an RFC 3339 time with offset. */
export function fromLocalInput(value: string): string {
  return new Date(value).toISOString();
}
