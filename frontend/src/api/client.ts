/**
 * The typed client (openapi-fetch over schema.d.ts, generated from the API's /openapi.json by
 * `make web-client`) and the two ways a page uses it:
 *
 * - `command(...)`: a change. Its answer's `position` becomes the session's consistency token.
 * - `read(...)`: a read model. Pages pass `min_position: consistency()` so that what the user
 *   just did is on screen (docs/API.md, read-your-writes); the answer's X-Projection-Position
 *   becomes the token, so later reads are at least as new. A 503 PROJECTION_LAGGING is
 *   retried after the second it asks for.
 */
import createClient from "openapi-fetch";
import type { paths } from "./schema";
import { ApiProblem, asProblem } from "./problem";
import type { Written } from "./types";

export type Api = ReturnType<typeof createClient<paths>>;

interface Answer {
  data?: unknown;
  error?: unknown;
  response: Response;
}

let token: number | undefined;

/** The consistency token: the place in the store that every later read must reflect. */
export function consistency(): number | undefined {
  return token;
}

export function forgetConsistency(): void {
  token = undefined;
}

export function makeApi(baseUrl: string, bearer: () => string | null): Api {
  const api = createClient<paths>({ baseUrl });
  api.use({
    onRequest({ request }) {
      const credential = bearer();
      if (credential) request.headers.set("Authorization", `Bearer ${credential}`);
      return request;
    },
  });
  return api;
}

async function answer(call: () => Promise<Answer>): Promise<Answer> {
  try {
    return await call();
  } catch (error) {
    throw asProblem(error);
  }
}

export async function read<T>(call: () => Promise<Answer>): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    const { data, error, response } = await answer(call);
    if (response.ok) {
      const at = response.headers.get("X-Projection-Position");
      if (at) token = Number(at);
      return data as T;
    }
    const problem = ApiProblem.from(response, error);
    if (problem.code !== "PROJECTION_LAGGING" || attempt >= 3) throw problem;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export async function command<T = Written>(call: () => Promise<Answer>): Promise<T & Written> {
  const { data, error, response } = await answer(call);
  if (!response.ok) throw ApiProblem.from(response, error);
  const written = data as T & Written;
  if (typeof written.position === "number") token = written.position;
  return written;
}

/** `If-Match` for a resource read at `version`. */
export function ifMatch(version: number): { "If-Match": string } {
  return { "If-Match": `"${version}"` };
}
