"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import type { ReactNode } from "react";
import { useApp } from "@/app/providers";
import { may } from "@/lib/roles";

export function Shell({ children }: { children: ReactNode }) {
  const { session, tenant, signOut } = useApp();
  const path = usePathname();
  const roles = session?.roles ?? [];
  const links = [
    { href: "/today", label: "Today", shown: may.runFrontDesk(roles) },
    { href: "/patients", label: "Patients", shown: may.readPatients(roles) },
    { href: "/billing", label: "Billing", shown: may.readInvoices(roles) },
    {
      href: "/census",
      label: "Census",
      shown: may.readCensus(roles) && tenant?.policy.kind === "hospital",
    },
  ].filter((l) => l.shown);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Caretrail{tenant ? ` · ${tenant.name}` : ""}</span>
        {session && (
          <nav aria-label="Main">
            <ul>
              {links.map((l) => (
                <li key={l.href}>
                  <Link href={l.href} aria-current={path.startsWith(l.href) ? "page" : undefined}>
                    {l.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {session && (
          <div className="who">
            <span>{session.roles.join(", ").toLowerCase().replace(/_/g, " ")}</span>
            <button type="button" className="link" onClick={signOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main">{children}</main>
    </>
  );
}
