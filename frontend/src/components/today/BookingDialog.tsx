"use client";

import { useEffect, useRef, useState, type FormEvent } from "react";
import { command, consistency, read, type Api } from "@/api/client";
import { asProblem, type ApiProblem } from "@/api/problem";
import type { Appointment, PractitionerDay } from "@/api/types";
import { Field, ProblemNote } from "@/components/forms";
import { PatientPicker } from "@/components/PatientPicker";
import { clock } from "@/lib/time";
import { nextFree } from "./slots";

export interface Slot {
  practitionerId: string;
  practitionerName: string;
  start: string;
  end: string;
}

/**
 * Booking into a free slot: find the patient, give a reason, book. A 409 SLOT_TAKEN (someone
 * booked it meanwhile) says so and offers the practitioner's next free slot.
 */
export function BookingDialog({
  api,
  slot,
  timeZone,
  onClose,
  onBooked,
}: {
  api: Api;
  slot: Slot;
  timeZone: string;
  onClose: () => void;
  onBooked: (appointment: Appointment) => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [current, setCurrent] = useState(slot);
  const [patientId, setPatientId] = useState("");
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [offer, setOffer] = useState<{ start: string; end: string } | null | undefined>(undefined);

  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  async function book(at: { start: string; end: string }) {
    setProblem(null);
    setOffer(undefined);
    try {
      const booked = await command<Appointment>(() =>
        api.POST("/v1/appointments", {
          body: {
            patient_id: patientId,
            practitioner_id: slot.practitionerId,
            start: at.start,
            end: at.end,
            reason: reason || null,
          },
        }),
      );
      onBooked(booked);
    } catch (error) {
      const refused = asProblem(error);
      setProblem(refused);
      if (refused.code === "SLOT_TAKEN") {
        const day = await read<PractitionerDay>(() =>
          api.GET("/v1/practitioners/{practitioner_id}/day", {
            params: {
              path: { practitioner_id: slot.practitionerId },
              query: { date: at.start.slice(0, 10), min_position: consistency() },
            },
          }),
        ).catch(() => null);
        setOffer(day ? nextFree(day, at, timeZone) : null);
      }
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    void book(current);
  }

  const errors = problem?.fieldErrors() ?? {};
  return (
    <dialog ref={dialog} aria-labelledby="booking-title" onClose={onClose}>
      <form onSubmit={submit}>
        <h2 id="booking-title">
          Book {slot.practitionerName} at {clock(current.start, timeZone)}
        </h2>
        <PatientPicker api={api} value={patientId} onChange={setPatientId} error={errors.patient_id} />
        <Field label="Reason" value={reason} onChange={(e) => setReason(e.target.value)} error={errors.reason} />
        {(errors.start || errors.end) && <p className="error">{errors.start ?? errors.end}</p>}
        {problem?.code === "SLOT_TAKEN" ? (
          <div role="alert" className="problem">
            <p>
              {clock(current.start, timeZone)} was just taken by another booking. <code>SLOT_TAKEN</code>
            </p>
            {offer ? (
              <button
                type="button"
                onClick={() => {
                  setCurrent({ ...current, ...offer });
                  void book(offer);
                }}
              >
                Book the next free slot, {clock(offer.start, timeZone)}
              </button>
            ) : (
              offer === null && <p>{slot.practitionerName} has no free slot later that day.</p>
            )}
          </div>
        ) : (
          <ProblemNote problem={problem} shownFields={["patient_id", "reason", "start", "end"]} />
        )}
        <div className="actions">
          <button type="submit" disabled={!patientId}>
            Book
          </button>
          <button type="button" className="secondary" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
