"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { command, consistency, read } from "@/api/client";
import { asProblem, type ApiProblem } from "@/api/problem";
import type { Page, Patient } from "@/api/types";
import { Field, ProblemNote } from "@/components/forms";
import { PatientForm, registration } from "@/components/patients/PatientForm";
import { useSignedIn } from "@/app/providers";
import { may } from "@/lib/roles";
import { useLoaded } from "@/lib/useLoaded";
import { useSpecialties } from "@/lib/useSpecialties";

/** Find a patient by name or phone; register a new one. */
export default function Patients() {
  const session = useSignedIn();
  const router = useRouter();
  const [q, setQ] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const api = session?.api;
  const specialties = useSpecialties(api, session?.tenant ?? null);
  const found = useLoaded<Page<Patient>>(api ? `q:${q}` : null, () =>
    read<Page<Patient>>(() =>
      api!.GET("/v1/patients", { params: { query: { q: q || undefined, limit: 50, min_position: consistency() } } }),
    ),
  );
  if (!session || !api) return null;

  async function register(...args: Parameters<typeof registration>) {
    setProblem(null);
    try {
      const patient = await command(() => api!.POST("/v1/patients", { body: registration(...args) }));
      router.push(`/patients/${patient.id}`);
    } catch (error) {
      setProblem(asProblem(error));
    }
  }

  return (
    <section>
      <h1>Patients</h1>
      <search>
        <Field label="Search by name or phone" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
      </search>
      <ProblemNote problem={found.problem} />
      <table>
        <caption className="visually-hidden">Patients found</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Born</th>
            <th scope="col">Phone</th>
          </tr>
        </thead>
        <tbody>
          {found.data?.items.map((p) => (
            <tr key={p.id}>
              <td>
                <Link href={`/patients/${p.id}`}>
                  {p.given_name} {p.family_name}
                </Link>
                {p.deceased && " (deceased)"}
              </td>
              <td>{p.birth_date}</td>
              <td>{p.phone}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {found.data?.items.length === 0 && <p>No patient matches.</p>}
      {may.registerPatients(session.roles) && (
        <details className="panel">
          <summary>Register a patient</summary>
          <PatientForm initial={null} specialties={specialties} problem={problem} submitLabel="Register" onSubmit={register} />
        </details>
      )}
    </section>
  );
}
