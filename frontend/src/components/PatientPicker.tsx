"use client";

import { useState } from "react";
import { consistency, read, type Api } from "@/api/client";
import type { Page, Patient } from "@/api/types";
import { Field } from "./forms";
import { useLoaded } from "@/lib/useLoaded";

/** Find a patient by name or phone and choose one. */
export function PatientPicker({
  api,
  value,
  onChange,
  error,
}: {
  api: Api;
  value: string;
  onChange: (patientId: string) => void;
  error?: string;
}) {
  const [q, setQ] = useState("");
  const found = useLoaded<Page<Patient>>(q.trim().length >= 2 ? q : null, () =>
    read(() => api.GET("/v1/patients", { params: { query: { q, limit: 8, min_position: consistency() } } })),
  );
  return (
    <fieldset className="choices">
      <legend>Patient</legend>
      <Field label="Find the patient (name or phone)" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
      {found.data?.items.map((p) => (
        <label key={p.id}>
          <input type="radio" name="patient" value={p.id} checked={value === p.id} onChange={() => onChange(p.id)} />
          {p.given_name} {p.family_name} · born {p.birth_date ?? "?"}
        </label>
      ))}
      {error && <span className="error">{error}</span>}
    </fieldset>
  );
}
