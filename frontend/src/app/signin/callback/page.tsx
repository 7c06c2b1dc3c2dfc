"use client";

import { useRouter } from "next/navigation";
import { useEffect, useSyncExternalStore } from "react";
import { useApp } from "@/app/providers";
import { landing } from "@/lib/landing";
import { sessionFromToken } from "@/lib/session";

/**
 * Where the clinic's identity provider sends the user back: the access token (a JWT the API
 * accepts: `sub`, `tid`, `roles`, `exp`) in the URL fragment, which never reaches a server.
 */
export default function Callback() {
  const { signIn } = useApp();
  const router = useRouter();
  const hash = useSyncExternalStore(
    () => () => {},
    () => window.location.hash,
    () => null,
  );
  const token = hash === null ? null : new URLSearchParams(hash.slice(1)).get("access_token");
  const failed = hash !== null && !(token && sessionFromToken(token));
  useEffect(() => {
    const session = token ? sessionFromToken(token) : null;
    if (!session) return;
    signIn(session);
    router.replace(landing(session.roles));
  }, [token, signIn, router]);
  return (
    <section className="narrow">
      <h1>Signing in</h1>
      {failed && <p role="alert">The identity provider sent no token this app can use.</p>}
    </section>
  );
}
