"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect, useState, type FormEvent } from "react";
import { read } from "@/api/client";
import { ApiProblem, asProblem } from "@/api/problem";
import type { DevSignInOptions, DevToken, Role } from "@/api/types";
import { Choice, ProblemNote } from "@/components/forms";
import { useApp } from "@/app/providers";
import { landing } from "@/lib/landing";
import { sessionFromToken } from "@/lib/session";

/**
 * In development (CARETRAIL_ENV=dev) the API offers its tenants, roles and practitioners and
 * mints a token for a choice (GET/POST /v1/dev/sign-in). Elsewhere that endpoint does not
 * exist, and the token comes from the clinic's identity provider (docs/frontend.md).
 */
function SignIn() {
  const { api, identityProvider, signIn } = useApp();
  const router = useRouter();
  const next = useSearchParams().get("next");
  const [options, setOptions] = useState<DevSignInOptions | null | "none">(null);
  const [tenantId, setTenantId] = useState("");
  const [role, setRole] = useState<Role>("RECEPTIONIST");
  const [practitionerId, setPractitionerId] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);

  useEffect(() => {
    read<DevSignInOptions>(() => api.GET("/v1/dev/sign-in")).then(
      (found) => {
        setOptions(found);
        setTenantId(found.tenants[0]?.id ?? "");
      },
      (error: unknown) => {
        const p = asProblem(error);
        if (p.status === 404) setOptions("none");
        else setProblem(p);
      },
    );
  }, [api]);

  if (options === "none") {
    return (
      <section className="narrow">
        <h1>Sign in</h1>
        <p>Caretrail signs you in through your clinic&apos;s identity provider.</p>
        {identityProvider ? (
          <a className="button" href={identityProvider}>
            Continue to your identity provider
          </a>
        ) : (
          <p>No identity provider is configured for this installation (CARETRAIL_IDP_URL).</p>
        )}
      </section>
    );
  }
  const tenant = options ? options.tenants.find((t) => t.id === tenantId) : undefined;

  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      const answer = await read<DevToken>(() =>
        api.POST("/v1/dev/sign-in", {
          body: {
            tenant_id: tenantId,
            role,
            practitioner_id: role === "DOCTOR" ? practitionerId || null : null,
          },
        }),
      );
      const session = sessionFromToken(answer.token);
      if (!session) throw new ApiProblem(0, "BAD_TOKEN", "The API answered a token this app cannot read.");
      signIn(session);
      router.replace(next ?? landing(session.roles));
    } catch (error) {
      setProblem(asProblem(error));
    }
  }

  return (
    <section className="narrow">
      <h1>Sign in (development)</h1>
      <p className="hint">
        This API runs with CARETRAIL_ENV=dev, so you may act as any role of any tenant. Run{" "}
        <code>make demo</code> if no tenant is listed.
      </p>
      {options === null && !problem && <p>Looking up tenants…</p>}
      {options && (
        <form onSubmit={submit}>
          <Choice
            label="Tenant"
            value={tenantId}
            onChange={(e) => setTenantId(e.target.value)}
            options={options.tenants.map((t) => ({ value: t.id, label: `${t.name} (${t.kind})` }))}
            error={problem?.fieldErrors().tenant_id}
          />
          <Choice
            label="Role"
            value={role}
            onChange={(e) => setRole(e.target.value as Role)}
            options={options.roles.map((r) => ({ value: r, label: r.toLowerCase().replace(/_/g, " ") }))}
            error={problem?.fieldErrors().role}
          />
          {role === "DOCTOR" && (
            <Choice
              label="Practitioner"
              value={practitionerId}
              onChange={(e) => setPractitionerId(e.target.value)}
              options={[
                { value: "", label: "Choose a practitioner" },
                ...(tenant?.practitioners ?? []).map((p) => ({ value: p.id, label: p.name })),
              ]}
              error={problem?.fieldErrors().practitioner_id}
            />
          )}
          <button type="submit" disabled={!tenantId}>
            Sign in
          </button>
        </form>
      )}
      <ProblemNote problem={problem} shownFields={["tenant_id", "role", "practitioner_id"]} />
    </section>
  );
}

export default function SignInPage() {
  return (
    <Suspense>
      <SignIn />
    </Suspense>
  );
}
