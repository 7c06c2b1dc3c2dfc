"use client";

import { usePathname, useRouter } from "next/navigation";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import { forgetConsistency, makeApi, read, type Api } from "@/api/client";
import type { Tenant } from "@/api/types";
import { type Session, sessionFromToken, storeSession, storedToken, subscribeToken } from "@/lib/session";
import { Shell } from "@/components/Shell";

interface App {
  api: Api;
  apiUrl: string;
  identityProvider: string | null;
  /** undefined while the tab's session is being looked up, null when nobody is signed in. */
  session: Session | null | undefined;
  tenant: Tenant | null;
  signIn: (session: Session) => void;
  signOut: () => void;
}

const AppContext = createContext<App | null>(null);

export function Providers({
  apiUrl,
  identityProvider,
  children,
}: {
  apiUrl: string;
  identityProvider: string | null;
  children: ReactNode;
}) {
  // undefined while rendering on the server and hydrating: the tab's storage is not known yet.
  const token = useSyncExternalStore(subscribeToken, storedToken, () => undefined);
  const session = useMemo(
    () => (token === undefined ? undefined : token ? sessionFromToken(token) : null),
    [token],
  );
  const [tenant, setTenant] = useState<Tenant | null>(null);
  const api = useMemo(() => makeApi(apiUrl, storedToken), [apiUrl]);

  useEffect(() => {
    if (!token) return;
    read<Tenant>(() => api.GET("/v1/tenant")).then(setTenant, () => setTenant(null));
  }, [api, token]);

  const signIn = useCallback((next: Session) => {
    forgetConsistency();
    storeSession(next);
  }, []);
  const signOut = useCallback(() => {
    forgetConsistency();
    storeSession(null);
  }, []);

  const app = useMemo(
    () => ({ api, apiUrl, identityProvider, session, tenant, signIn, signOut }),
    [api, apiUrl, identityProvider, session, tenant, signIn, signOut],
  );
  return (
    <AppContext.Provider value={app}>
      <Shell>{children}</Shell>
    </AppContext.Provider>
  );
}

export function useApp(): App {
  const app = useContext(AppContext);
  if (!app) throw new Error("useApp outside Providers");
  return app;
}

/** The signed-in session for pages that need one; sends everyone else to the sign-in page. */
export function useSignedIn(): (Session & { tenant: Tenant | null; api: Api }) | null {
  const { session, tenant, api } = useApp();
  const router = useRouter();
  const path = usePathname();
  useEffect(() => {
    if (session === null) router.replace(`/signin?next=${encodeURIComponent(path)}`);
  }, [session, router, path]);
  return session ? { ...session, tenant, api } : null;
}
