"use client";

import Link from "next/link";
import { useParams } from "next/navigation";
import { useState } from "react";
import { command, consistency, ifMatch, read } from "@/api/client";
import type { Invoice, Page, Payment } from "@/api/types";
import { Field, ProblemNote } from "@/components/forms";
import { CommandForm } from "@/components/visit/CommandForm";
import { useSignedIn } from "@/app/providers";
import { may } from "@/lib/roles";
import { useLoaded } from "@/lib/useLoaded";

const POLL_MS = 3000;

/**
 * The visit's invoice: lines, discount (the roles that may), issue, and the payments the
 * gateway reports, polled so they appear as they arrive; the balance is what is owed now.
 */
export default function InvoicePage() {
  const { id } = useParams<{ id: string }>();
  const session = useSignedIn();
  const api = session?.api;
  const [discount, setDiscount] = useState({ percent: "", reason: "" });
  const invoice = useLoaded<Invoice>(
    api ? id : null,
    () =>
      read(() =>
        api!.GET("/v1/invoices/{invoice_id}", { params: { path: { invoice_id: id }, query: { min_position: consistency() } } }),
      ),
    POLL_MS,
  );
  const payments = useLoaded<Page<Payment>>(
    api && session && may.readPayments(session.roles) ? `p:${id}` : null,
    () => read(() => api!.GET("/v1/payments", { params: { query: { invoice_id: id, min_position: consistency() } } })),
    POLL_MS,
  );
  if (!session || !api) return null;
  const i = invoice.data;
  const roles = session.roles;
  const threshold = session.tenant?.policy.discount_threshold_percent;
  const path = { params: { path: { invoice_id: id } } };
  const reload = () => invoice.reload();

  return (
    <section>
      <ProblemNote problem={invoice.problem} />
      {i && (
        <>
          <div className="heading">
            <h1>Invoice</h1>
            <span className={`badge pay-${i.status}`}>{i.status.replace("_", " ")}</span>
          </div>
          <p className="hint">
            <Link href={`/patients/${i.patient_id}`}>patient record</Link>
            {i.visit_id && (
              <>
                {" · "}
                <Link href={`/visits/${i.visit_id}`}>visit</Link>
              </>
            )}
          </p>
          <table>
            <caption className="visually-hidden">Lines</caption>
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Quantity</th>
                <th scope="col">Unit price</th>
                <th scope="col">Amount</th>
              </tr>
            </thead>
            <tbody>
              {i.lines.map((l) => (
                <tr key={l.line_id}>
                  <td>
                    {l.description} ({l.code})
                  </td>
                  <td>{l.quantity}</td>
                  <td>{l.unit_price}</td>
                  <td>{l.amount}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <dl className="facts totals" aria-label="Totals">
            <dt>Subtotal</dt>
            <dd>{i.subtotal}</dd>
            <dt>Discount{i.discount_percent ? ` (${i.discount_percent} %)` : ""}</dt>
            <dd>{i.discount}</dd>
            <dt>Total</dt>
            <dd>
              {i.total} {i.currency}
            </dd>
            <dt>Paid</dt>
            <dd>{i.paid}</dd>
            <dt>Balance</dt>
            <dd data-testid="balance">
              {i.balance} {i.currency}
            </dd>
          </dl>
          {i.status === "draft" && may.bill(roles) && (
            <CommandForm
              title="Discount"
              submitLabel="Apply discount"
              fields={["percent", "reason"]}
              send={() => command(() => api.POST("/v1/invoices/{invoice_id}/discount", { ...path, body: discount, headers: ifMatch(i.version) }))}
              onDone={reload}
              onReload={reload}
            >
              {(errors) => (
                <div className="row">
                  <Field
                    label="Percent"
                    inputMode="decimal"
                    value={discount.percent}
                    onChange={(e) => setDiscount({ ...discount, percent: e.target.value })}
                    error={errors.percent}
                    hint={
                      may.approveDiscounts(roles) ? undefined : `Above ${threshold ?? "the tenant's threshold"} % needs finance or a clinic admin.`
                    }
                  />
                  <Field label="Reason" value={discount.reason} onChange={(e) => setDiscount({ ...discount, reason: e.target.value })} error={errors.reason} />
                </div>
              )}
            </CommandForm>
          )}
          {i.status === "draft" && may.bill(roles) && (
            <CommandForm
              title="Issue"
              submitLabel="Issue the invoice"
              fields={[]}
              send={() => command(() => api.POST("/v1/invoices/{invoice_id}/issue", { ...path, headers: ifMatch(i.version) }))}
              onDone={reload}
              onReload={reload}
            >
              {() => <p className="hint">Issuing fixes the total; the patient then owes it.</p>}
            </CommandForm>
          )}
          <h2>Payments</h2>
          <p className="hint">Payments arrive from the payment gateway and show here as they do.</p>
          {payments.data ? (
            <ul aria-label="Payments">
              {payments.data.items.map((p) => (
                <li key={p.id}>
                  {p.amount} {p.currency} · {p.provider} · {p.status}
                </li>
              ))}
            </ul>
          ) : (
            <p>
              {i.payment_ids.length} payment{i.payment_ids.length === 1 ? "" : "s"} received, {i.paid} {i.currency} in all.
            </p>
          )}
        </>
      )}
    </section>
  );
}
