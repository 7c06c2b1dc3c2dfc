"use client";

import Link from "next/link";
import { useState } from "react";
import { command, consistency, ifMatch, read } from "@/api/client";
import type { Admission, CensusEntry, Occupancy, Patient } from "@/api/types";
import { Choice, Field, ProblemNote } from "@/components/forms";
import { PatientPicker } from "@/components/PatientPicker";
import { CommandForm } from "@/components/visit/CommandForm";
import { useSignedIn } from "@/app/providers";
import { may } from "@/lib/roles";
import { dateTime } from "@/lib/time";
import { useLoaded } from "@/lib/useLoaded";

const DISPOSITIONS = ["home", "transfer", "rehabilitation", "against_medical_advice", "deceased"] as const;

interface Ward {
  occupancy: Occupancy;
  census: { entry: CensusEntry; patient: Patient | null }[];
}

/** A hospital's census: wards and beds, who lies where; admit, transfer, discharge. */
export default function Census() {
  const session = useSignedIn();
  const api = session?.api;
  const [admit, setAdmit] = useState({ patient_id: "", ward_id: "", bed: "", reason: "" });
  const [ward, setWard] = useState({ name: "", beds: "" });
  const [moving, setMoving] = useState<{ admission: string; ward_id: string; bed: string; disposition: string }>({
    admission: "",
    ward_id: "",
    bed: "",
    disposition: "home",
  });
  const loaded = useLoaded<Ward>(api ? "census" : null, async () => {
    const [occupancy, census] = await Promise.all([
      read<Occupancy>(() => api!.GET("/v1/wards/occupancy", { params: { query: { min_position: consistency() } } })),
      read<{ items: CensusEntry[] }>(() => api!.GET("/v1/census", { params: { query: { min_position: consistency() } } })),
    ]);
    const entries = await Promise.all(
      census.items.map(async (entry) => ({
        entry,
        patient: await read<Patient>(() => api!.GET("/v1/patients/{patient_id}", { params: { path: { patient_id: entry.patient_id } } })).catch(
          () => null,
        ),
      })),
    );
    return { occupancy, census: entries };
  });
  if (!session || !api) return null;
  const roles = session.roles;
  const tz = session.tenant?.policy.timezone ?? "UTC";
  const wards = loaded.data?.occupancy.items ?? [];
  const wardOptions = [{ value: "", label: "Choose a ward" }, ...wards.map((w) => ({ value: w.ward_id, label: `${w.name} (${w.free} free)` }))];
  const reload = () => loaded.reload();

  async function admission(id: string): Promise<Admission> {
    return read<Admission>(() => api!.GET("/v1/admissions/{admission_id}", { params: { path: { admission_id: id } } }));
  }

  return (
    <section>
      <h1>Census</h1>
      {session.tenant?.policy.kind === "clinic" && <p>This tenant is a clinic: admissions are for hospitals.</p>}
      <ProblemNote problem={loaded.problem} />
      <table>
        <caption>Wards</caption>
        <thead>
          <tr>
            <th scope="col">Ward</th>
            <th scope="col">Beds</th>
            <th scope="col">Occupied</th>
            <th scope="col">Free</th>
          </tr>
        </thead>
        <tbody>
          {wards.map((w) => (
            <tr key={w.ward_id}>
              <td>{w.name}</td>
              <td>{w.beds}</td>
              <td>{w.occupied}</td>
              <td>{w.free}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <table>
        <caption>Inpatients</caption>
        <thead>
          <tr>
            <th scope="col">Ward</th>
            <th scope="col">Bed</th>
            <th scope="col">Patient</th>
            <th scope="col">Admitted</th>
            <th scope="col">Move or discharge</th>
          </tr>
        </thead>
        <tbody>
          {loaded.data?.census.map(({ entry, patient }) => (
            <tr key={entry.admission_id}>
              <td>{wards.find((w) => w.ward_id === entry.ward_id)?.name}</td>
              <td>{entry.bed}</td>
              <td>
                <Link href={`/patients/${entry.patient_id}`}>{patient ? `${patient.given_name} ${patient.family_name}` : "patient"}</Link>
              </td>
              <td>{dateTime(entry.admitted_at, tz)}</td>
              <td>
                <button
                  type="button"
                  className="secondary"
                  aria-pressed={moving.admission === entry.admission_id}
                  onClick={() => setMoving({ ...moving, admission: entry.admission_id })}
                >
                  Move or discharge {patient ? `${patient.given_name} ${patient.family_name}` : ""}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {moving.admission && may.admit(roles) && (
        <CommandForm
          title="Transfer"
          submitLabel="Transfer"
          fields={["ward_id", "bed"]}
          send={async () => {
            const a = await admission(moving.admission);
            return command(() =>
              api.POST("/v1/admissions/{admission_id}/transfer", {
                params: { path: { admission_id: a.id } },
                body: { ward_id: moving.ward_id, bed: moving.bed },
                headers: ifMatch(a.version),
              }),
            );
          }}
          onDone={reload}
        >
          {(errors) => (
            <div className="row">
              <Choice label="To ward" value={moving.ward_id} onChange={(e) => setMoving({ ...moving, ward_id: e.target.value })} options={wardOptions} error={errors.ward_id} />
              <Field label="To bed" value={moving.bed} onChange={(e) => setMoving({ ...moving, bed: e.target.value })} error={errors.bed} />
            </div>
          )}
        </CommandForm>
      )}
      {moving.admission && may.discharge(roles) && (
        <CommandForm
          title="Discharge"
          submitLabel="Discharge"
          fields={["disposition"]}
          send={async () => {
            const a = await admission(moving.admission);
            return command(() =>
              api.POST("/v1/admissions/{admission_id}/discharge", {
                params: { path: { admission_id: a.id } },
                body: { disposition: moving.disposition as (typeof DISPOSITIONS)[number] },
                headers: ifMatch(a.version),
              }),
            );
          }}
          onDone={() => {
            setMoving({ ...moving, admission: "" });
            return reload();
          }}
        >
          {(errors) => (
            <Choice
              label="Disposition"
              value={moving.disposition}
              onChange={(e) => setMoving({ ...moving, disposition: e.target.value })}
              options={DISPOSITIONS.map((d) => ({ value: d, label: d.replace(/_/g, " ") }))}
              error={errors.disposition}
            />
          )}
        </CommandForm>
      )}
      {may.admit(roles) && (
        <CommandForm
          title="Admit a patient"
          submitLabel="Admit"
          fields={["patient_id", "ward_id", "bed", "reason"]}
          send={() => command(() => api.POST("/v1/admissions", { body: admit }))}
          onDone={() => {
            setAdmit({ patient_id: "", ward_id: "", bed: "", reason: "" });
            return reload();
          }}
        >
          {(errors) => (
            <>
              <PatientPicker api={api} value={admit.patient_id} onChange={(patient_id) => setAdmit({ ...admit, patient_id })} error={errors.patient_id} />
              <div className="row">
                <Choice label="Ward" value={admit.ward_id} onChange={(e) => setAdmit({ ...admit, ward_id: e.target.value })} options={wardOptions} error={errors.ward_id} />
                <Field label="Bed" value={admit.bed} onChange={(e) => setAdmit({ ...admit, bed: e.target.value })} error={errors.bed} />
                <Field label="Reason" value={admit.reason} onChange={(e) => setAdmit({ ...admit, reason: e.target.value })} error={errors.reason} />
              </div>
            </>
          )}
        </CommandForm>
      )}
      {may.defineWards(roles) && (
        <CommandForm
          title="Define a ward"
          submitLabel="Define ward"
          fields={["name", "beds"]}
          send={() =>
            command(() =>
              api.POST("/v1/wards", {
                body: { name: ward.name, beds: ward.beds.split(",").map((b) => b.trim()).filter(Boolean) },
              }),
            )
          }
          onDone={() => {
            setWard({ name: "", beds: "" });
            return reload();
          }}
        >
          {(errors) => (
            <div className="row">
              <Field label="Ward name" value={ward.name} onChange={(e) => setWard({ ...ward, name: e.target.value })} error={errors.name} />
              <Field label="Beds (comma-separated)" value={ward.beds} onChange={(e) => setWard({ ...ward, beds: e.target.value })} error={errors.beds} />
            </div>
          )}
        </CommandForm>
      )}
    </section>
  );
}
