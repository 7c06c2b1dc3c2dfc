"use client";

import { useState, type FormEvent } from "react";
import type { ApiProblem } from "@/api/problem";
import type { Patient, SpecialtyConfig, SpecialtyField } from "@/api/types";
import { Choice, Field, ProblemNote } from "@/components/forms";

export type Details = Record<"given_name" | "family_name" | "birth_date" | "sex" | "phone" | "email", string>;
export type SpecialtyValues = Record<string, Record<string, unknown>>;

const BLANK: Details = { given_name: "", family_name: "", birth_date: "", sex: "unknown", phone: "", email: "" };

export function detailsOf(patient: Patient | null): Details {
  if (!patient) return BLANK;
  return {
    given_name: patient.given_name,
    family_name: patient.family_name,
    birth_date: patient.birth_date ?? "",
    sex: patient.sex,
    phone: patient.phone ?? "",
    email: patient.email ?? "",
  };
}

/** A field value as the API wants it: numbers as numbers, "" as absent. */
function parsed(field: SpecialtyField, raw: string | boolean): unknown {
  if (field.type === "boolean") return raw;
  if (raw === "") return null;
  if (field.type === "number" || field.type === "integer") return Number(raw);
  return raw;
}

/**
 * The patient's details and the patient fields of the tenant's enabled plugins. The API's
 * message for each field (422) shows beside it: `birth_date`, `specialty_data.cardiac.nyha_class`.
 */
export function PatientForm({
  initial,
  specialties,
  problem,
  submitLabel,
  onSubmit,
}: {
  initial: Patient | null;
  specialties: SpecialtyConfig[];
  problem: ApiProblem | null;
  submitLabel: string;
  onSubmit: (details: Details, specialty: SpecialtyValues) => void;
}) {
  const [details, setDetails] = useState<Details>(detailsOf(initial));
  const [specialty, setSpecialty] = useState<SpecialtyValues>(initial?.specialty_data ?? {});
  const errors = problem?.fieldErrors() ?? {};
  const set = (key: keyof Details) => (e: { target: { value: string } }) =>
    setDetails({ ...details, [key]: e.target.value });
  const setSpecial = (plugin: string, field: SpecialtyField, raw: string | boolean) =>
    setSpecialty({ ...specialty, [plugin]: { ...(specialty[plugin] ?? {}), [field.name]: parsed(field, raw) } });
  const shown = [
    ...Object.keys(BLANK),
    ...specialties.flatMap((s) => s.fields.map((f) => `specialty_data.${s.name}.${f.name}`)),
  ];

  function submit(event: FormEvent) {
    event.preventDefault();
    onSubmit(details, specialty);
  }

  return (
    <form onSubmit={submit} className="grid-form">
      <Field label="Given name" value={details.given_name} onChange={set("given_name")} error={errors.given_name} required />
      <Field label="Family name" value={details.family_name} onChange={set("family_name")} error={errors.family_name} required />
      <Field label="Birth date" type="date" value={details.birth_date} onChange={set("birth_date")} error={errors.birth_date} required />
      <Choice
        label="Sex"
        value={details.sex}
        onChange={set("sex")}
        error={errors.sex}
        options={["female", "male", "other", "unknown"].map((v) => ({ value: v, label: v }))}
      />
      <Field label="Phone" type="tel" value={details.phone} onChange={set("phone")} error={errors.phone} />
      <Field label="Email" type="email" value={details.email} onChange={set("email")} error={errors.email} />
      {specialties.map((plugin) => {
        const fields = plugin.fields.filter((f) => f.applies_to.includes("patient"));
        if (fields.length === 0) return null;
        return (
          <fieldset key={plugin.name} className="plugin">
            <legend>{plugin.display_name}</legend>
            {fields.map((f) => {
              const value = specialty[plugin.name]?.[f.name];
              const error = errors[`specialty_data.${plugin.name}.${f.name}`];
              const label = `${f.label ?? f.name}${f.unit ? ` (${f.unit})` : ""}`;
              if (f.type === "boolean") {
                return (
                  <label key={f.name} className="check">
                    <input type="checkbox" checked={value === true} onChange={(e) => setSpecial(plugin.name, f, e.target.checked)} />
                    {label}
                    {error && <span className="error">{error}</span>}
                  </label>
                );
              }
              if (f.type === "enum") {
                return (
                  <Choice
                    key={f.name}
                    label={label}
                    value={typeof value === "string" ? value : ""}
                    onChange={(e) => setSpecial(plugin.name, f, e.target.value)}
                    error={error}
                    options={[{ value: "", label: "—" }, ...(f.values ?? []).map((v) => ({ value: v, label: v }))]}
                  />
                );
              }
              return (
                <Field
                  key={f.name}
                  label={label}
                  type={f.type === "number" || f.type === "integer" ? "number" : f.type === "date" ? "date" : "text"}
                  step={f.type === "number" ? "any" : undefined}
                  value={value === null || value === undefined ? "" : String(value)}
                  onChange={(e) => setSpecial(plugin.name, f, e.target.value)}
                  error={error}
                />
              );
            })}
          </fieldset>
        );
      })}
      <ProblemNote problem={problem?.code === "VERSION_CONFLICT" ? null : problem} shownFields={shown} />
      <div className="actions">
        <button type="submit">{submitLabel}</button>
      </div>
    </form>
  );
}

/** What changed, for a PATCH that sends changed fields only (cleared optional ones as null). */
export function changes(before: Patient, details: Details, specialty: SpecialtyValues): Record<string, unknown> {
  const was = detailsOf(before);
  const changed: Record<string, unknown> = {};
  for (const key of Object.keys(details) as (keyof Details)[]) {
    if (details[key] !== was[key]) changed[key] = details[key] === "" ? null : details[key];
  }
  const special: SpecialtyValues = {};
  for (const [plugin, values] of Object.entries(specialty)) {
    for (const [field, value] of Object.entries(values)) {
      if (before.specialty_data[plugin]?.[field] !== value) special[plugin] = { ...(special[plugin] ?? {}), [field]: value };
    }
  }
  if (Object.keys(special).length > 0) changed.specialty_data = special;
  return changed;
}

/** A registration's body: optional fields left out when empty, plugin fields when given. */
export function registration(details: Details, specialty: SpecialtyValues) {
  const data = Object.fromEntries(
    Object.entries(specialty)
      .map(([plugin, values]) => [plugin, Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null))])
      .filter(([, values]) => Object.keys(values as object).length > 0),
  );
  return {
    given_name: details.given_name,
    family_name: details.family_name,
    birth_date: details.birth_date,
    sex: details.sex as "female" | "male" | "other" | "unknown",
    phone: details.phone || null,
    email: details.email || null,
    specialty_data: Object.keys(data).length > 0 ? data : null,
  };
}
