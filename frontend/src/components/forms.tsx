"use client";

import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from "react";
import type { ApiProblem } from "@/api/problem";

/** A labelled input with the API's message for its field beside it (422 `errors[].field`). */
export function Field({
  label,
  error,
  hint,
  ...input
}: { label: string; error?: string; hint?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  const described = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(" ");
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
        {...input}
      />
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
      {error && (
        <span id={`${id}-error`} className="error">
          {error}
        </span>
      )}
    </div>
  );
}

export function Choice({
  label,
  error,
  options,
  ...select
}: {
  label: string;
  error?: string;
  options: { value: string; label: string }[];
} & SelectHTMLAttributes<HTMLSelectElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        {...select}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {error && (
        <span id={`${id}-error`} className="error">
          {error}
        </span>
      )}
    </div>
  );
}

/**
 * A refusal the form cannot show beside a field: its `detail` and stable `code`. Field errors
 * are left to the fields; what no field shown carries is listed here.
 */
export function ProblemNote({
  problem,
  shownFields = [],
  children,
}: {
  problem: ApiProblem | null;
  shownFields?: string[];
  children?: ReactNode;
}) {
  if (!problem) return null;
  const unshown = problem.errors.filter((e) => !shownFields.includes(e.field));
  if (problem.status === 422 && problem.errors.length > 0 && unshown.length === 0) return null;
  return (
    <div role="alert" className="problem">
      <p>
        {problem.detail} <code>{problem.code}</code>
      </p>
      {unshown.length > 0 && (
        <ul>
          {unshown.map((e) => (
            <li key={e.field}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
      {children}
    </div>
  );
}

/** What a 412 means to the person at the screen, and the way out. */
export function StaleNote({ problem, onReload }: { problem: ApiProblem | null; onReload: () => void }) {
  if (problem?.code !== "VERSION_CONFLICT") return null;
  return (
    <div role="alert" className="problem">
      <p>Someone changed this record after you opened it, so your change was not saved.</p>
      <button type="button" onClick={onReload}>
        Reload the record
      </button>
    </div>
  );
}

export function TextArea({
  label,
  error,
  ...area
}: { label: string; error?: string } & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        rows={3}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        {...area}
      />
      {error && (
        <span id={`${id}-error`} className="error">
          {error}
        </span>
      )}
    </div>
  );
}
