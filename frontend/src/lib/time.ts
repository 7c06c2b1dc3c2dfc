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

/** Today's date as the API's days go (UTC), `YYYY-MM-DD`. */
export function utcToday(): string {
  return new Date().toISOString().slice(0, 10);
}

export function addMinutes(iso: string, minutes: number): string {
  return new Date(new Date(iso).getTime() + minutes * 60_000).toISOString();
}

/** A `datetime-local` value (the browser's zone) as an RFC 3339 time with offset. */
export function fromLocalInput(value: string): string {
  return new Date(value).toISOString();
}
