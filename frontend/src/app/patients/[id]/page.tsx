"use client";

import Link from "next/link";
import { useParams } from "next/navigation";
import { useState } from "react";
import { command, consistency, ifMatch, read } from "@/api/client";
import { asProblem, type ApiProblem } from "@/api/problem";
import type { Invoice, Page, Patient, Visit } from "@/api/types";
import { ProblemNote, StaleNote } from "@/components/forms";
import { PatientForm, changes } from "@/components/patients/PatientForm";
import { useSignedIn } from "@/app/providers";
import { may } from "@/lib/roles";
import { dateTime } from "@/lib/time";
import { useLoaded } from "@/lib/useLoaded";
import { useSpecialties } from "@/lib/useSpecialties";

/** One patient: the header (with the plugins' header fields), edit with If-Match, visits, bills. */
export default function PatientPage() {
  const { id } = useParams<{ id: string }>();
  const session = useSignedIn();
  const api = session?.api;
  const tenant = session?.tenant ?? null;
  const specialties = useSpecialties(api, tenant);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [editing, setEditing] = useState(0);
  const patient = useLoaded<Patient>(api ? id : null, () =>
    read<Patient>(() =>
      api!.GET("/v1/patients/{patient_id}", { params: { path: { patient_id: id }, query: { min_position: consistency() } } }),
    ),
  );
  const visits = useLoaded<{ items: Visit[] }>(api ? `v:${id}` : null, () =>
    read(() => api!.GET("/v1/visits", { params: { query: { patient_id: id, min_position: consistency() } } })),
  );
  const invoices = useLoaded<Page<Invoice>>(api && session && may.readInvoices(session.roles) ? `i:${id}` : null, () =>
    read(() => api!.GET("/v1/invoices", { params: { query: { patient_id: id } } })),
  );
  if (!session || !api) return null;
  const p = patient.data;
  const tz = tenant?.policy.timezone ?? "UTC";

  async function save(...args: Parameters<typeof changes> extends [Patient, ...infer R] ? R : never) {
    if (!p) return;
    setProblem(null);
    const changed = changes(p, ...args);
    try {
      await command(() =>
        api!.PATCH("/v1/patients/{patient_id}", {
          params: { path: { patient_id: id } },
          body: changed,
          headers: ifMatch(p.version),
        }),
      );
      await patient.reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  }

  async function reloadRecord() {
    setProblem(null);
    await patient.reload();
    setEditing((n) => n + 1);
  }

  const header = specialties.flatMap((s) =>
    [...s.header.primary_fields, ...s.header.secondary_fields]
      .filter((f) => p?.specialty_data[s.name]?.[f] !== undefined)
      .map((f) => ({ key: `${s.name}.${f}`, label: s.fields.find((x) => x.name === f)?.label ?? f, value: p?.specialty_data[s.name]?.[f] })),
  );

  return (
    <section>
      <ProblemNote problem={patient.problem} />
      {p && (
        <>
          <div className="heading">
            <h1>
              {p.given_name} {p.family_name}
            </h1>
            {may.readHistory(session.roles) && <Link href={`/patients/${id}/timeline`}>Timeline and as-of view</Link>}
          </div>
          <dl className="facts">
            <dt>Born</dt>
            <dd>{p.birth_date ?? "—"}</dd>
            <dt>Sex</dt>
            <dd>{p.sex}</dd>
            <dt>Phone</dt>
            <dd>{p.phone ?? "—"}</dd>
            {header.map((h) => (
              <div key={h.key}>
                <dt>{h.label}</dt>
                <dd>{String(h.value)}</dd>
              </div>
            ))}
            {p.deceased && (
              <>
                <dt>Status</dt>
                <dd>deceased</dd>
              </>
            )}
          </dl>
          {may.registerPatients(session.roles) && (
            <details className="panel">
              <summary>Edit details</summary>
              <StaleNote problem={problem} onReload={reloadRecord} />
              <PatientForm
                key={`${p.version}-${editing}`}
                initial={p}
                specialties={specialties}
                problem={problem}
                submitLabel="Save changes"
                onSubmit={save}
              />
            </details>
          )}
        </>
      )}
      <h2>Visits</h2>
      <ProblemNote problem={visits.problem} />
      <ul>
        {visits.data?.items.map((v) => (
          <li key={v.id}>
            <Link href={`/visits/${v.id}`}>
              {dateTime(v.opened_at, tz)} · {v.reason ?? "visit"} · {v.status}
            </Link>
          </li>
        ))}
      </ul>
      {visits.data?.items.length === 0 && <p>No visits yet.</p>}
      {invoices.data && (
        <>
          <h2>Invoices</h2>
          <ul>
            {invoices.data.items.map((i) => (
              <li key={i.id}>
                <Link href={`/billing/${i.id}`}>
                  {i.total} {i.currency} · {i.status} · balance {i.balance}
                </Link>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
