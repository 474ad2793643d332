// Errors are values with codes. One handler (server/plugins/problem.ts) turns them into
// application/problem+json; nothing a client sends produces a 500.
export interface FieldProblem { field: string; message: string }

export class AppError extends Error {
  /** Set when the refusal already wrote its audit row (so that an attempt is audited exactly once). */
  audited = false;
  /** Seconds a client should wait before trying again (429): sent as Retry-After. */
  retryAfter?: number;
  /** The particulars in Vietnamese, answered to `Accept-Language: vi` (server/problem-texts.ts); the audit keeps the English. */
  vi?: { detail: string; messages?: string[] };

  constructor(
    readonly code: string,
    readonly status: number,
    readonly detail: string,
    readonly errors?: FieldProblem[],
  ) {
    super(detail);
  }

  /** Words the particulars in Vietnamese too: `messages` are those of `errors`, in the same order. */
  inVietnamese(detail: string, messages?: string[]): this {
    this.vi = { detail, ...(messages && { messages }) };
    return this;
  }
}

/** A text in both languages of the site: the particulars of a refusal a rule words before it is thrown. */
export interface Said { en: string; vi: string }

export const badRequest = (detail: string, errors: FieldProblem[]) => new AppError('invalid-input', 400, detail, errors);
export const unauthorized = (detail: string) => new AppError('unauthorized', 401, detail);
export const forbidden = (code: string, detail: string) => new AppError(code, 403, detail);
export const notFound = (what: string, id: string) => new AppError('not-found', 404, `${what} ${id} does not exist`);
export const conflict = (code: string, detail: string) => new AppError(code, 409, detail);
/** RFC 9110 §13.1.1: the If-Match a client sent names another representation than the current one (a lost update). */
export const preconditionFailed = (detail: string) => new AppError('stale-content', 412, detail);
/** RFC 6585 §3: a change that could overwrite another person's must say which content it replaces (If-Match). */
export const preconditionRequired = (detail: string) => new AppError('if-match-required', 428, detail);
export const refused = (code: string, detail: string, errors?: FieldProblem[]) => new AppError(code, 422, detail, errors);
export const locked = (detail: string) => new AppError('account-locked', 423, detail);
/** The server's clock reads earlier than the last row of a chain: no write until it is put right (ALCOA consistent). */
export const clockWentBack = (detail: string) => new AppError('clock-went-back', 503, detail);
export function tooManyRequests(code: string, detail: string, retryAfterSeconds: number): AppError {
  const e = new AppError(code, 429, detail);
  e.retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
  return e;
}

export const TITLES: Record<number, string> = {
  400: 'Invalid input', 401: 'Not authenticated', 403: 'Forbidden', 404: 'Not found', 405: 'Method not allowed',
  406: 'Not acceptable', 408: 'Request timeout', 409: 'Conflict', 412: 'Precondition failed', 413: 'Payload too large', 415: 'Unsupported media type',
  422: 'Refused by a business rule', 423: 'Account locked', 428: 'Precondition required', 429: 'Too many requests', 431: 'Request header fields too large', 500: 'Internal error', 503: 'Service unavailable',
};

/** Marks a refusal whose audit row is already written. */
export function alreadyAudited<E extends AppError>(e: E): E {
  e.audited = true;
  return e;
}
