"use client";

import Link from "next/link";
import { useState } from "react";
import { consistency, read } from "@/api/client";
import type { Invoice, Page } from "@/api/types";
import { Choice, ProblemNote } from "@/components/forms";
import { useSignedIn } from "@/app/providers";
import { may } from "@/lib/roles";
import { useLoaded } from "@/lib/useLoaded";

type Status = "draft" | "issued" | "partially_paid" | "paid" | "refunded" | "void";

/** The tenant's invoices, by status: what is still to issue, what is owed, what is paid. */
export default function Billing() {
  const session = useSignedIn();
  const [status, setStatus] = useState<Status | "">("");
  const api = session?.api;
  const allowed = session ? may.readInvoices(session.roles) : false;
  const invoices = useLoaded<Page<Invoice>>(api && allowed ? `s:${status}` : null, () =>
    read(() => api!.GET("/v1/invoices", { params: { query: { status: status || null, limit: 200, min_position: consistency() } } })),
  );
  if (!session || !api) return null;
  if (!allowed) return <p>Invoices are for the front desk, finance and clinic admins.</p>;
  return (
    <section>
      <h1>Billing</h1>
      <Choice
        label="Status"
        value={status}
        onChange={(e) => setStatus(e.target.value as Status | "")}
        options={[
          { value: "", label: "all" },
          ...["draft", "issued", "partially_paid", "paid", "refunded", "void"].map((s) => ({ value: s, label: s.replace("_", " ") })),
        ]}
      />
      <ProblemNote problem={invoices.problem} />
      <table>
        <caption className="visually-hidden">Invoices</caption>
        <thead>
          <tr>
            <th scope="col">Invoice</th>
            <th scope="col">Status</th>
            <th scope="col">Total</th>
            <th scope="col">Balance</th>
          </tr>
        </thead>
        <tbody>
          {invoices.data?.items.map((i) => (
            <tr key={i.id}>
              <td>
                <Link href={`/billing/${i.id}`}>{i.id.slice(0, 8)}</Link>
              </td>
              <td>{i.status.replace("_", " ")}</td>
              <td>
                {i.total} {i.currency}
              </td>
              <td>{i.balance}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {invoices.data?.items.length === 0 && <p>No invoice.</p>}
    </section>
  );
}
