"use client";

import { useState, type FormEvent, type ReactNode } from "react";
import { asProblem, type ApiProblem } from "@/api/problem";
import { ProblemNote, StaleNote } from "@/components/forms";

/**
 * A form that sends one command: its fields get the API's messages (422) through `errors`,
 * other refusals show below it, a 412 offers a reload. Values are the caller's state.
 */
export function CommandForm({
  title,
  submitLabel,
  fields,
  send,
  onDone,
  onReload,
  children,
}: {
  title: string;
  submitLabel: string;
  fields: string[];
  send: () => Promise<unknown>;
  onDone: () => void | Promise<void>;
  onReload?: () => void;
  children: (errors: Record<string, string>) => ReactNode;
}) {
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(0);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setProblem(null);
    setDone(0);
    setBusy(true);
    try {
      await send();
      await onDone(); // read back at the command's position before saying it is done
      setDone((n) => n + 1);
    } catch (error) {
      setProblem(asProblem(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} aria-label={title} className="panel">
      <h3>{title}</h3>
      {children(problem?.fieldErrors() ?? {})}
      {onReload && (
        <StaleNote
          problem={problem}
          onReload={() => {
            setProblem(null);
            onReload();
          }}
        />
      )}
      <ProblemNote problem={problem?.code === "VERSION_CONFLICT" && onReload ? null : problem} shownFields={fields} />
      <button type="submit" disabled={busy}>
        {submitLabel}
      </button>
      <span role="status" className="hint">
        {done > 0 ? " Done." : ""}
      </span>
    </form>
  );
}
