/**
 * Who is signed in: the bearer token and what its claims say (tenant, actor, roles), kept in
 * this tab's sessionStorage (a shared front-desk computer forgets it with the tab). The claims
 * only shape what the page offers; the API decides what is allowed.
 */
import type { Role } from "@/api/types";

export interface Session {
  token: string;
  actor: string;
  tenantId: string;
  roles: Role[];
  expiresAt: number;
}

const KEY = "caretrail.session";

export function sessionFromToken(token: string): Session | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as { sub?: string; tid?: string; roles?: Role[]; exp?: number };
    if (!claims.sub || !claims.tid || !claims.exp) return null;
    return {
      token,
      actor: claims.sub,
      tenantId: claims.tid,
      roles: claims.roles ?? [],
      expiresAt: claims.exp * 1000,
    };
  } catch {
    return null;
  }
}

const CHANGED = "caretrail:session";

/** For useSyncExternalStore: the tab's token, and news of its change. */
export function subscribeToken(onChange: () => void): () => void {
  window.addEventListener(CHANGED, onChange);
  window.addEventListener("storage", onChange);
  return () => {
    window.removeEventListener(CHANGED, onChange);
    window.removeEventListener("storage", onChange);
  };
}

export function storedToken(): string | null {
  return storedSession()?.token ?? null;
}

export function storedSession(): Session | null {
  const token = window.sessionStorage.getItem(KEY);
  const session = token ? sessionFromToken(token) : null;
  return session && session.expiresAt > Date.now() ? session : null;
}

export function storeSession(session: Session | null): void {
  if (session) window.sessionStorage.setItem(KEY, session.token);
  else window.sessionStorage.removeItem(KEY);
  window.dispatchEvent(new Event(CHANGED));
}
