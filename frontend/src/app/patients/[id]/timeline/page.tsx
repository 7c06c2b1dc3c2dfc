"use client";

import Link from "next/link";
import { useParams } from "next/navigation";
import { useState, type FormEvent } from "react";
import { read, type Api } from "@/api/client";
import { asProblem } from "@/api/problem";
import type { Patient, StreamEvent, StreamState, Visit } from "@/api/types";
import { Field, ProblemNote } from "@/components/forms";
import { useSignedIn } from "@/app/providers";
import { may } from "@/lib/roles";
import { dateTime, fromLocalInput } from "@/lib/time";
import { useLoaded } from "@/lib/useLoaded";

/** An entry recorded this much after it happened is marked as charted late. */
const LATE_CHARTING_MS = 15 * 60_000;

interface Entry extends StreamEvent {
  stream: "patient" | "visit";
  streamId: string;
}

interface Record_ {
  state: Patient | null;
  entries: Entry[];
}

async function history(api: Api, type: "patient" | "visit", id: string, asOf: string | null): Promise<Entry[]> {
  try {
    const { events } = await read<{ events: StreamEvent[] }>(() =>
      api.GET("/v1/streams/{stream_type}/{stream_id}/events", {
        params: { path: { stream_type: type, stream_id: id }, query: { recorded_to: asOf } },
      }),
    );
    return events.map((e) => ({ ...e, stream: type, streamId: id }));
  } catch (error) {
    if (asProblem(error).status === 404) return []; // the stream did not exist yet
    throw error;
  }
}

async function recordAsOf(api: Api, id: string, asOf: string | null): Promise<Record_> {
  const state = await read<StreamState<Patient>>(() =>
    api.GET("/v1/streams/{stream_type}/{stream_id}", {
      params: { path: { stream_type: "patient", stream_id: id }, query: { as_of: asOf } },
    }),
  ).then(
    (s) => s.state,
    (error: unknown) => {
      if (asProblem(error).status === 404) return null;
      throw error;
    },
  );
  const { items: visits } = await read<{ items: Visit[] }>(() =>
    api.GET("/v1/visits", { params: { query: { patient_id: id } } }),
  );
  const streams = await Promise.all([
    history(api, "patient", id, asOf),
    ...visits.map((v) => history(api, "visit", v.id, asOf)),
  ]);
  const entries = streams
    .flat()
    .sort((a, b) => Date.parse(b.occurred_at) - Date.parse(a.occurred_at) || Date.parse(b.recorded_at) - Date.parse(a.recorded_at));
  return { state, entries };
}

function words(type: string): string {
  return type.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase().replace(/^./, (c) => c.toUpperCase());
}

function summary(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([key, value]) => !key.endsWith("_id") && value !== null && typeof value !== "object")
    .map(([key, value]) => `${key.replace(/_/g, " ")}: ${String(value)}`)
    .join(" · ");
}

/**
 * The patient's history from the event store, newest first: the patient's own stream and their
 * visits'. "As of" shows the record as it stood at a moment (what the system knew then: events
 * recorded by then); entries charted late (recorded well after they happened) are marked.
 */
export default function Timeline() {
  const { id } = useParams<{ id: string }>();
  const session = useSignedIn();
  const [input, setInput] = useState("");
  const [asOf, setAsOf] = useState<string | null>(null);
  const api = session?.api;
  const allowed = session ? may.readHistory(session.roles) : false;
  const record = useLoaded<Record_>(api && allowed ? `${id}@${asOf ?? "now"}` : null, () => recordAsOf(api!, id, asOf));
  if (!session || !api) return null;
  const tz = session.tenant?.policy.timezone ?? "UTC";
  if (!allowed) {
    return (
      <section>
        <h1>Timeline</h1>
        <p>The record&apos;s history is for auditors and clinic admins.</p>
      </section>
    );
  }

  function show(event: FormEvent) {
    event.preventDefault();
    setAsOf(input ? fromLocalInput(input) : null);
  }

  const p = record.data?.state;
  return (
    <section>
      <div className="heading">
        <h1>Timeline{p ? ` of ${p.given_name} ${p.family_name}` : ""}</h1>
        <Link href={`/patients/${id}`}>Back to the patient</Link>
      </div>
      <form onSubmit={show} className="asof" aria-label="As of">
        <Field
          label="As of (your local time)"
          type="datetime-local"
          step={1}
          value={input}
          onChange={(e) => setInput(e.target.value)}
        />
        <button type="submit">Show the record as of then</button>
        {asOf && (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setInput("");
              setAsOf(null);
            }}
          >
            Back to now
          </button>
        )}
      </form>
      <p role="status" className="hint">
        {asOf ? `The record as it stood at ${dateTime(asOf, tz)} (${tz}).` : "The record as it stands now."}
      </p>
      <ProblemNote problem={record.problem} />
      {record.data && !p && <p>The patient was not registered yet at that time.</p>}
      {p && (
        <dl className="facts">
          <dt>Name</dt>
          <dd>
            {p.given_name} {p.family_name}
          </dd>
          <dt>Born</dt>
          <dd>{p.birth_date ?? "—"}</dd>
          <dt>Phone</dt>
          <dd>{p.phone ?? "—"}</dd>
        </dl>
      )}
      <ol className="timeline">
        {record.data?.entries.map((e) => {
          const late = Date.parse(e.recorded_at) - Date.parse(e.occurred_at) > LATE_CHARTING_MS;
          return (
            <li key={`${e.stream}-${e.streamId}-${e.version}`} className={late ? "late" : undefined}>
              <div className="line">
                <strong>{words(e.type)}</strong>
                {e.stream === "visit" && <Link href={`/visits/${e.streamId}`}>visit</Link>}
                {late && <span className="badge late">Charted late</span>}
              </div>
              <div className="hint">
                happened <time dateTime={e.occurred_at}>{dateTime(e.occurred_at, tz)}</time>
                {late && (
                  <>
                    {" "}
                    · recorded <time dateTime={e.recorded_at}>{dateTime(e.recorded_at, tz)}</time>
                  </>
                )}{" "}
                · by {e.actor}
              </div>
              <div>{summary(e.data)}</div>
            </li>
          );
        })}
      </ol>
    </section>
  );
}
