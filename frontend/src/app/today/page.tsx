"use client";

import Link from "next/link";
import { useState } from "react";
import { consistency, read } from "@/api/client";
import type { DeskDay, Page, Practitioner, PractitionerDay } from "@/api/types";
import { ProblemNote } from "@/components/forms";
import { AppointmentRow } from "@/components/today/AppointmentRow";
import { BookingDialog, type Slot } from "@/components/today/BookingDialog";
import { rowsOf } from "@/components/today/slots";
import { useSignedIn } from "@/app/providers";
import { useLoaded } from "@/lib/useLoaded";
import { clock, todayIn } from "@/lib/time";

const POLL_MS = 2000;

interface Day {
  desk: DeskDay;
  practitioners: { practitioner: Practitioner; day: PractitionerDay }[];
}

/** The front desk's day: every practitioner's free and busy time, following new bookings. */
export default function Today() {
  const session = useSignedIn();
  const [chosen, setDate] = useState<string | null>(null);
  const [booking, setBooking] = useState<Slot | null>(null);
  const api = session?.api;
  const timeZone = session?.tenant?.policy.timezone ?? "UTC";
  const date = chosen ?? todayIn(timeZone); // the clinic's today until a day is chosen

  const { data, problem, reload } = useLoaded<Day>(
    api ? date : null,
    async () => {
      if (!api) throw new Error("signed out");
      const desk = await read<DeskDay>(() =>
        api.GET("/v1/front-desk/day", { params: { query: { date, min_position: consistency() } } }),
      );
      const listed = await read<Page<Practitioner>>(() =>
        api.GET("/v1/practitioners", { params: { query: { limit: 200, min_position: consistency() } } }),
      );
      const practitioners = await Promise.all(
        listed.items.map(async (practitioner) => ({
          practitioner,
          day: await read<PractitionerDay>(() =>
            api.GET("/v1/practitioners/{practitioner_id}/day", {
              params: { path: { practitioner_id: practitioner.id }, query: { date, min_position: consistency() } },
            }),
          ),
        })),
      );
      return { desk, practitioners };
    },
    POLL_MS,
  );

  if (!session || !api) return null;
  const shift = (days: number) => {
    const d = new Date(`${date}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + days);
    setDate(d.toISOString().slice(0, 10));
  };

  return (
    <section>
      <div className="heading">
        <h1>Today</h1>
        <div className="daybar" role="group" aria-label="Day">
          <button type="button" className="secondary" onClick={() => shift(-1)}>
            Previous day
          </button>
          <label>
            <span className="visually-hidden">Date</span>
            <input type="date" value={date} onChange={(e) => e.target.value && setDate(e.target.value)} />
          </label>
          <button type="button" className="secondary" onClick={() => shift(1)}>
            Next day
          </button>
        </div>
      </div>
      <ProblemNote problem={problem} />
      {!data && !problem && <p>Loading the day…</p>}
      {data && data.practitioners.length === 0 && <p>No practitioners yet: a clinic admin registers them.</p>}
      <div className="columns" data-date={data?.desk.date}>
        {data?.practitioners.map(({ practitioner, day }) => (
          <section key={practitioner.id} className="column" aria-labelledby={`p-${practitioner.id}`}>
            <h2 id={`p-${practitioner.id}`}>
              {practitioner.name}
              {practitioner.specialty && <span className="hint"> · {practitioner.specialty}</span>}
            </h2>
            <ol className="slots">
              {rowsOf(day, data.desk.items, timeZone).map((row) => (
                <li key={row.kind === "free" ? `free-${row.start}` : row.kind === "walk_in" ? row.visitId : row.appointmentId} className={row.kind === "walk_in" ? "busy" : row.kind}>
                  <time dateTime={row.start}>{clock(row.start, timeZone)}</time>
                  {row.kind === "free" ? (
                    <button
                      type="button"
                      className="slot"
                      aria-label={`Book ${practitioner.name} at ${clock(row.start, timeZone)}`}
                      onClick={() =>
                        setBooking({
                          practitionerId: practitioner.id,
                          practitionerName: practitioner.name,
                          start: row.start,
                          end: row.end,
                        })
                      }
                    >
                      Free
                    </button>
                  ) : row.kind === "walk_in" ? (
                    <span>
                      Walk-in: <Link href={`/patients/${row.item.patient.id}`}>{row.item.patient.name ?? "(patient)"}</Link>{" "}
                      <Link className="badge" href={`/visits/${row.visitId}`}>
                        Visit {row.item.visit?.status === "signed" ? "signed" : "open"}
                      </Link>
                    </span>
                  ) : row.item ? (
                    <AppointmentRow api={api} item={row.item} timeZone={timeZone} onChanged={reload} />
                  ) : (
                    <span className="hint">Booked</span>
                  )}
                </li>
              ))}
            </ol>
          </section>
        ))}
      </div>
      {booking && (
        <BookingDialog
          api={api}
          slot={booking}
          timeZone={timeZone}
          onClose={() => setBooking(null)}
          onBooked={() => {
            setBooking(null);
            void reload();
          }}
        />
      )}
    </section>
  );
}
