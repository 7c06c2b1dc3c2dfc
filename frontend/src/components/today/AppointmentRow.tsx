"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { command, type Api } from "@/api/client";
import { asProblem, type ApiProblem } from "@/api/problem";
import type { DeskAppointment, Visit } from "@/api/types";
import { Field, ProblemNote } from "@/components/forms";
import { clock } from "@/lib/time";

const STATUS: Record<string, string> = {
  requested: "Requested",
  confirmed: "Confirmed",
  checked_in: "Checked in",
  completed: "Completed",
  cancelled: "Cancelled",
  no_show: "No-show",
};

const PAYMENT: Record<string, string> = {
  none: "Not billed",
  draft: "Invoice draft",
  issued: "Unpaid",
  partially_paid: "Partly paid",
  paid: "Paid",
  refunded: "Refunded",
};

/** One appointment on the day: who, when, where it stands, and what the desk can do next. */
export function AppointmentRow({
  api,
  item,
  timeZone,
  onChanged,
}: {
  api: Api;
  item: DeskAppointment;
  timeZone: string;
  onChanged: () => void;
}) {
  const router = useRouter();
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [override, setOverride] = useState("");
  const id = item.appointment_id;
  const who = item.patient.name ?? "(patient)";

  async function act(step: "confirm" | "check-in" | "no-show", body?: { override_reason: string }) {
    setProblem(null);
    try {
      const params = { params: { path: { appointment_id: id } } };
      if (step === "confirm") await command(() => api.POST("/v1/appointments/{appointment_id}/confirm", params));
      if (step === "no-show") await command(() => api.POST("/v1/appointments/{appointment_id}/no-show", params));
      if (step === "check-in") {
        await command(() =>
          api.POST("/v1/appointments/{appointment_id}/check-in", { ...params, body: body ?? {} }),
        );
      }
      onChanged();
    } catch (error) {
      setProblem(asProblem(error));
    }
  }

  async function openVisit() {
    setProblem(null);
    try {
      const visit = await command<Visit>(() =>
        api.POST("/v1/visits", {
          body: { patient_id: item.patient.id, practitioner_id: item.practitioner.id, appointment_id: id },
        }),
      );
      router.push(`/visits/${visit.id}`);
    } catch (error) {
      setProblem(asProblem(error));
    }
  }

  const paid = item.payment.status;
  return (
    <article className="appointment" data-status={item.status} aria-label={`${clock(item.start, timeZone)} ${who}`}>
      <div className="line">
        <strong>
          <Link href={`/patients/${item.patient.id}`}>{who}</Link>
        </strong>
        <span className={`badge status-${item.status}`}>{STATUS[item.status] ?? item.status}</span>
        {item.visit && (
          <Link className="badge" href={`/visits/${item.visit.id}`}>
            Visit {item.visit.status}
          </Link>
        )}
        {item.payment.invoice_id ? (
          <Link className={`badge pay-${paid}`} href={`/billing/${item.payment.invoice_id}`}>
            {PAYMENT[paid]}
            {paid !== "paid" && item.payment.balance ? ` · owes ${item.payment.balance} ${item.payment.currency}` : ""}
          </Link>
        ) : (
          item.visit?.status === "signed" && <span className={`badge pay-${paid}`}>{PAYMENT[paid]}</span>
        )}
      </div>
      {item.reason && <div className="hint">{item.reason}</div>}
      <div className="actions">
        {item.status === "requested" && (
          <button type="button" onClick={() => act("confirm")}>
            Confirm
          </button>
        )}
        {item.status === "confirmed" && (
          <button type="button" onClick={() => act("check-in")}>
            Check in
          </button>
        )}
        {(item.status === "requested" || item.status === "confirmed") && !item.visit && (
          <button type="button" className="secondary" onClick={() => act("no-show")}>
            No-show
          </button>
        )}
        {(item.status === "confirmed" || item.status === "checked_in") && !item.visit && (
          <button type="button" className="secondary" onClick={openVisit}>
            Open visit
          </button>
        )}
      </div>
      <ProblemNote problem={problem}>
        {problem?.code === "OUTSIDE_CHECKIN_WINDOW" && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void act("check-in", { override_reason: override });
            }}
          >
            <Field label="Reason to check in anyway" value={override} onChange={(e) => setOverride(e.target.value)} required />
            <button type="submit">Check in with this reason</button>
          </form>
        )}
      </ProblemNote>
    </article>
  );
}
