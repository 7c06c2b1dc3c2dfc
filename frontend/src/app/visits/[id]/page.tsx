"use client";

import Link from "next/link";
import { useParams } from "next/navigation";
import { useState } from "react";
import { command, consistency, ifMatch, read } from "@/api/client";
import type { Invoice, Note, Page, Patient, Practitioner, Visit } from "@/api/types";
import { Field, ProblemNote, TextArea } from "@/components/forms";
import { CommandForm } from "@/components/visit/CommandForm";
import { useSignedIn } from "@/app/providers";
import { may } from "@/lib/roles";
import { dateTime } from "@/lib/time";
import { useLoaded } from "@/lib/useLoaded";

const VITALS = [
  ["heart_rate", "Heart rate (/min)"],
  ["systolic", "Systolic (mmHg)"],
  ["diastolic", "Diastolic (mmHg)"],
  ["temperature_c", "Temperature (°C)"],
  ["spo2", "SpO₂ (%)"],
] as const;
type VitalKey = (typeof VITALS)[number][0];
const NO_NOTE: Note = { subjective: "", objective: "", assessment: "", plan: "" };

interface Loaded {
  visit: Visit;
  patient: Patient | null;
  practitioner: Practitioner | null;
}

/** The visit: vitals, SOAP note, services, prescriptions, lab orders; sign-off; addenda. */
export default function VisitPage() {
  const { id } = useParams<{ id: string }>();
  const session = useSignedIn();
  const api = session?.api;
  const [vitals, setVitals] = useState<Partial<Record<VitalKey, string>>>({});
  const [note, setNote] = useState<Note | null>(null);
  const [service, setService] = useState({ code: "", description: "", quantity: "1", unit_price: "" });
  const [rx, setRx] = useState({ medication: "", dose: "", route: "oral", frequency: "" });
  const [lab, setLab] = useState({ test_code: "", test_name: "" });
  const [addendum, setAddendum] = useState("");
  const [warnings, setWarnings] = useState<string[]>([]);

  const loaded = useLoaded<Loaded>(api ? id : null, async () => {
    const visit = await read<Visit>(() =>
      api!.GET("/v1/visits/{visit_id}", { params: { path: { visit_id: id }, query: { min_position: consistency() } } }),
    );
    const [patient, practitioner] = await Promise.all([
      read<Patient>(() => api!.GET("/v1/patients/{patient_id}", { params: { path: { patient_id: visit.patient_id } } })).catch(() => null),
      read<Practitioner>(() =>
        api!.GET("/v1/practitioners/{practitioner_id}", { params: { path: { practitioner_id: visit.practitioner_id } } }),
      ).catch(() => null),
    ]);
    return { visit, patient, practitioner };
  });
  const v = loaded.data?.visit;
  // The invoice the visit-invoice reaction drafts at sign-off: polled until it is there.
  const invoice = useLoaded<Invoice | null>(
    api && session && v?.status === "signed" && may.readInvoices(session.roles) ? `inv:${id}` : null,
    async () => {
      const page = await read<Page<Invoice>>(() => api!.GET("/v1/invoices", { params: { query: { patient_id: v!.patient_id } } }));
      return page.items.find((i) => i.visit_id === id) ?? null;
    },
    3000,
  );
  if (!session || !api) return null;
  const tz = session.tenant?.policy.timezone ?? "UTC";
  const reload = () => loaded.reload();
  const path = { params: { path: { visit_id: id } } };
  const open = v?.status === "open";
  const roles = session.roles;

  return (
    <section>
      <ProblemNote problem={loaded.problem} />
      {v && (
        <>
          <div className="heading">
            <h1>
              Visit · {loaded.data?.patient ? `${loaded.data.patient.given_name} ${loaded.data.patient.family_name}` : "patient"}
            </h1>
            <span className={`badge status-${v.status}`}>{v.status === "open" ? "Open" : "Signed off"}</span>
          </div>
          <p className="hint">
            {loaded.data?.practitioner?.name ?? "practitioner"} · opened {dateTime(v.opened_at, tz)}
            {v.reason ? ` · ${v.reason}` : ""} · <Link href={`/patients/${v.patient_id}`}>patient record</Link>
          </p>
          {invoice.data && (
            <p>
              <Link href={`/billing/${invoice.data.id}`}>
                Invoice: {invoice.data.total} {invoice.data.currency} · {invoice.data.status}
              </Link>
            </p>
          )}

          <h2>Vitals</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Taken</th>
                {VITALS.map(([k, label]) => (
                  <th scope="col" key={k}>
                    {label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {v.vitals.map((r) => (
                <tr key={r.reading_id} className={r.status === "entered_in_error" ? "struck" : undefined}>
                  <td>{dateTime(r.taken_at, tz)}</td>
                  {VITALS.map(([k]) => (
                    <td key={k}>{r[k] ?? ""}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {open && may.chart(roles) && (
            <CommandForm
              title="Record vitals"
              submitLabel="Record vitals"
              fields={[...VITALS.map(([k]) => k), "vitals"]}
              send={() =>
                command(() =>
                  api.POST("/v1/visits/{visit_id}/vitals", {
                    ...path,
                    body: Object.fromEntries(Object.entries(vitals).filter(([, x]) => x !== "").map(([k, x]) => [k, Number(x)])),
                  }),
                )
              }
              onDone={() => {
                setVitals({});
                return reload();
              }}
            >
              {(errors) => (
                <div className="row">
                  {VITALS.map(([k, label]) => (
                    <Field
                      key={k}
                      label={label}
                      type="number"
                      step="any"
                      inputMode="decimal"
                      value={vitals[k] ?? ""}
                      onChange={(e) => setVitals({ ...vitals, [k]: e.target.value })}
                      error={errors[k] ?? (k === "heart_rate" ? errors.vitals : undefined)}
                    />
                  ))}
                </div>
              )}
            </CommandForm>
          )}

          <h2>Note</h2>
          {open && may.chart(roles) ? (
            <CommandForm
              title="SOAP note"
              submitLabel="Save note"
              fields={["subjective", "objective", "assessment", "plan"]}
              send={() =>
                command(() =>
                  api.PUT("/v1/visits/{visit_id}/note", { ...path, body: note ?? v.note ?? NO_NOTE, headers: ifMatch(v.version) }),
                )
              }
              onDone={reload}
              onReload={() => {
                setNote(null);
                return reload();
              }}
            >
              {(errors) =>
                (["subjective", "objective", "assessment", "plan"] as const).map((k) => (
                  <TextArea
                    key={k}
                    label={k[0]!.toUpperCase() + k.slice(1)}
                    value={(note ?? v.note ?? NO_NOTE)[k]}
                    onChange={(e) => setNote({ ...(note ?? v.note ?? NO_NOTE), [k]: e.target.value })}
                    error={errors[k]}
                  />
                ))
              }
            </CommandForm>
          ) : v.note ? (
            <dl className="facts">
              {(["subjective", "objective", "assessment", "plan"] as const).map((k) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{v.note![k]}</dd>
                </div>
              ))}
            </dl>
          ) : (
            <p>No note yet.</p>
          )}

          <h2>Services</h2>
          <ul>
            {v.services.map((s, i) => (
              <li key={i}>
                {s.quantity} × {s.description} ({s.code}) at {s.unit_price}
              </li>
            ))}
          </ul>
          {open && may.addServices(roles) && (
            <CommandForm
              title="Add a service"
              submitLabel="Add service"
              fields={["code", "description", "quantity", "unit_price", "services"]}
              send={() =>
                command(() =>
                  api.POST("/v1/visits/{visit_id}/services", {
                    ...path,
                    body: { ...service, quantity: Number(service.quantity) },
                  }),
                )
              }
              onDone={() => {
                setService({ code: "", description: "", quantity: "1", unit_price: "" });
                return reload();
              }}
            >
              {(errors) => (
                <div className="row">
                  <Field label="Code" value={service.code} onChange={(e) => setService({ ...service, code: e.target.value })} error={errors.code} />
                  <Field
                    label="Description"
                    value={service.description}
                    onChange={(e) => setService({ ...service, description: e.target.value })}
                    error={errors.description}
                  />
                  <Field
                    label="Quantity"
                    type="number"
                    min={1}
                    value={service.quantity}
                    onChange={(e) => setService({ ...service, quantity: e.target.value })}
                    error={errors.quantity}
                  />
                  <Field
                    label="Unit price"
                    inputMode="decimal"
                    value={service.unit_price}
                    onChange={(e) => setService({ ...service, unit_price: e.target.value })}
                    error={errors.unit_price ?? errors.services}
                  />
                </div>
              )}
            </CommandForm>
          )}

          <h2>Prescriptions</h2>
          <ul>
            {v.prescriptions.map((p) => (
              <li key={p.prescription_id}>
                {p.medication} {p.dose} {p.route} {p.frequency} · {p.status}
              </li>
            ))}
          </ul>
          {warnings.length > 0 && (
            <div role="status" className="warning">
              {warnings.map((w) => (
                <p key={w}>{w}</p>
              ))}
            </div>
          )}
          {open && may.order(roles) && (
            <CommandForm
              title="Prescribe"
              submitLabel="Prescribe"
              fields={["medication", "dose", "route", "frequency"]}
              send={async () => {
                const answer = await command<Visit>(() => api.POST("/v1/visits/{visit_id}/prescriptions", { ...path, body: rx }));
                setWarnings((answer.warnings ?? []).map((w) => w.message));
              }}
              onDone={() => {
                setRx({ medication: "", dose: "", route: "oral", frequency: "" });
                return reload();
              }}
            >
              {(errors) => (
                <div className="row">
                  {(["medication", "dose", "route", "frequency"] as const).map((k) => (
                    <Field key={k} label={k[0]!.toUpperCase() + k.slice(1)} value={rx[k]} onChange={(e) => setRx({ ...rx, [k]: e.target.value })} error={errors[k]} />
                  ))}
                </div>
              )}
            </CommandForm>
          )}

          <h2>Lab orders</h2>
          <ul>
            {v.lab_orders.map((o) => (
              <li key={o.order_id}>
                {o.test_name} ({o.test_code}) · {o.status}
                {o.result ? ` · ${o.result.value} ${o.result.unit ?? ""}${o.result.abnormal ? " (abnormal)" : ""}` : ""}
              </li>
            ))}
          </ul>
          {may.order(roles) && (
            <CommandForm
              title="Order a lab test"
              submitLabel="Order test"
              fields={["test_code", "test_name"]}
              send={() => command(() => api.POST("/v1/visits/{visit_id}/lab-orders", { ...path, body: lab }))}
              onDone={() => {
                setLab({ test_code: "", test_name: "" });
                return reload();
              }}
            >
              {(errors) => (
                <div className="row">
                  <Field label="Test code" value={lab.test_code} onChange={(e) => setLab({ ...lab, test_code: e.target.value })} error={errors.test_code} />
                  <Field label="Test name" value={lab.test_name} onChange={(e) => setLab({ ...lab, test_name: e.target.value })} error={errors.test_name} />
                </div>
              )}
            </CommandForm>
          )}

          {open && may.signOff(roles, session.actor, v.practitioner_id) && (
            <CommandForm
              title="Sign-off"
              submitLabel="Sign off the visit"
              fields={[]}
              send={() => command(() => api.POST("/v1/visits/{visit_id}/sign-off", { ...path, headers: ifMatch(v.version) }))}
              onDone={reload}
              onReload={reload}
            >
              {() => <p className="hint">Signing off freezes the note, vitals, services and prescriptions; addenda remain possible.</p>}
            </CommandForm>
          )}

          {v.status === "signed" && (
            <>
              <h2>Addenda</h2>
              <ul>
                {v.addenda.map((a, i) => (
                  <li key={i}>
                    {dateTime(a.added_at, tz)} · {a.author}: {a.text}
                  </li>
                ))}
              </ul>
              {may.chart(roles) && (
                <CommandForm
                  title="Add an addendum"
                  submitLabel="Add addendum"
                  fields={["text"]}
                  send={() => command(() => api.POST("/v1/visits/{visit_id}/addenda", { ...path, body: { text: addendum } }))}
                  onDone={() => {
                    setAddendum("");
                    return reload();
                  }}
                >
                  {(errors) => <TextArea label="Addendum" value={addendum} onChange={(e) => setAddendum(e.target.value)} error={errors.text} />}
                </CommandForm>
              )}
            </>
          )}
        </>
      )}
    </section>
  );
}
