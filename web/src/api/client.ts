// The one API client: openapi-fetch over the types generated from the server's OpenAPI description
// (schema.d.ts, `npm run web:types`). No other code calls fetch. The browser session is the httpOnly
// cookie set at login; a request that changes anything carries the CSRF token from login (or from
// GET /auth/csrf after a reload) in x-csrf-token, and every request asks for the chosen language.
import createClient from 'openapi-fetch';
import type { paths } from './schema';
import type { Problem } from './types';

export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });

const session = { csrf: '', lang: 'en' };
export const setCsrfToken = (token: string) => { session.csrf = token; };
export const setApiLanguage = (lang: string) => { session.lang = lang; };

api.use({
  onRequest({ request }) {
    request.headers.set('accept-language', session.lang);
    if (request.method !== 'GET' && session.csrf) request.headers.set('x-csrf-token', session.csrf);
    return request;
  },
});

/** A refusal from the API, with its problem details (API.md "Errors"). */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
  }
  get status() { return this.problem.status; }
  /** The batch changed since it was read (409 stale-version): read it again before signing. */
  get isStale() { return this.problem.type.endsWith('/stale-version'); }
  /** The message of the error naming `field` (a dotted path such as values.viability), if any. */
  fieldMessage(field: string) {
    return this.problem.errors?.find((e) => e.field === field || e.field.startsWith(`${field}.`))?.message;
  }
}

type Answer = { data?: unknown; error?: unknown; response: Response };
/** The body of an answer's success, as the generated schema declares it for that operation. */
type Body<A extends Answer> = NonNullable<A['data']>;

/** Listeners told when the session turned out to be gone (the page then asks to log in again). */
const expiredListeners = new Set<() => void>();
export const onSessionExpired = (listener: () => void) => {
  expiredListeners.add(listener);
  return () => { expiredListeners.delete(listener); };
};

/**
 * The body of a successful answer, typed as the caller expects; a refusal becomes an ApiError.
 * A 401 is either a session that ended or (on a signed request) wrong signature credentials: the
 * session is asked (GET /me) to tell which, and only an ended session sends the user to log in.
 */
export async function read<A extends Answer>(answer: Promise<A>): Promise<Body<A>> {
  const { data, error, response } = await answer;
  if (response.ok) return data as Body<A>;
  const problem: Problem = isProblem(error) ? error : { type: 'about:blank', title: response.statusText, status: response.status, detail: response.statusText };
  if (response.status === 401 && !response.url.endsWith('/auth/login')) {
    const me = await api.GET('/api/v1/me');
    if (me.response.status === 401) expiredListeners.forEach((l) => l());
  }
  throw new ApiError(problem);
}

const isProblem = (e: unknown): e is Problem => typeof e === 'object' && e !== null && 'status' in e && 'title' in e;
