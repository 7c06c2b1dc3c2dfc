/** RFC 9457 problem+json, as the API sends every error, with its stable machine `code`. */

export interface FieldError {
  field: string;
  message: string;
}

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(`${status} ${code}: ${detail}`);
  }

  static from(response: Response, body: unknown): ApiProblem {
    const problem = (typeof body === "object" && body !== null ? body : {}) as Partial<{
      code: string;
      detail: string;
      title: string;
      errors: FieldError[];
    }>;
    return new ApiProblem(
      response.status,
      problem.code ?? `HTTP_${response.status}`,
      problem.detail ?? problem.title ?? response.statusText,
      Array.isArray(problem.errors) ? problem.errors : [],
    );
  }

  /** Each field's message, by the field the API named (`start`, `specialty_data.cardiac.x`). */
  fieldErrors(): Record<string, string> {
    return Object.fromEntries(this.errors.map((e) => [e.field, e.message]));
  }
}

/** A problem, or the network failing, as one thing a page can show. */
export function asProblem(error: unknown): ApiProblem {
  if (error instanceof ApiProblem) return error;
  return new ApiProblem(0, "NETWORK", "The Caretrail API does not answer. Check that it is running.");
}
