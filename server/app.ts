// Builds the Fastify application from plugins: external ones first (helmet, rate limit, OpenAPI),
// then ours (problem+json errors, authentication), then the routes. main.ts only listens; tests
// build this same app on a fresh database.
import Fastify, { type FastifyInstance } from 'fastify';
import helmet from 'helmet';
import rateLimit from '@fastify/rate-limit';
import swaggerUi from '@fastify/swagger-ui';
import { fillReadModel, openReadModel, type FillReport } from './services/projection.js';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AppContext, Config } from './context.js';
import { SystemClock, TrainingClock, type Clock } from './clock.js';
import { openStore } from './store/open.js';
import { assertVersionsUnchanged, loadProcesses, type ProcessRegistry } from './processes/registry.js';
import { storedOffset } from './services/training-clock.js';
import { bindMode } from './services/database-mode.js';
import { openIntegrity, trustOf, verifyRecord } from './services/integrity.js';
import { importCheckpointLog } from './services/checkpoint-import.js';
import { assertWritable, checkTail, uncheckedRecord, useVerifier, verifyInFull, type Verifier } from './services/record-check.js';
import { writeAudit } from './services/audit.js';
import problem, { clientErrorHandler, sendProblem } from './plugins/problem.js';
import auth from './plugins/auth.js';
import { isSafeMethod } from './plugins/cookie-session.js';
import authRoutes from './routes/auth.js';
import userRoutes from './routes/users.js';
import registryRoutes from './routes/registries.js';
import processRoutes from './routes/processes.js';
import { syncMasterRecords } from './processes/master-records.js';
import batchRoutes from './routes/batches.js';
import auditRoutes from './routes/audit.js';
import recordRoutes from './routes/records.js';
import trainingRoutes from './routes/training.js';
import webUi from './plugins/web-ui.js';
import siteRoutes from './routes/site.js';
import qaRoutes from './routes/qa.js';
import { patientIdPattern } from './domain/patient-id.js';
import { registerOpenApi } from './openapi.js';
import { HealthReply, json } from '../schemas/responses.js';
import { replySerializerCompiler } from './plugins/replies.js';
import { KeyedPools } from './auth/bounded-pool.js';
import { AppError, tooManyRequests } from './errors.js';
import passwordLimits from './plugins/password-limits.js';
import { refuseNulText } from './plugins/text-input.js';
import { attemptWindows } from './auth/attempt-windows.js';

/** Password checks of one account allowed to wait behind the running one before 429 (docs/security.md). */
const MAX_QUEUED_PER_USER = 16;
/** One password check at a time per account, case-insensitive as usernames are unique (21 CFR 11.300(d): services/accounts.ts). */
const perUserQueue = () => new KeyedPools(1, MAX_QUEUED_PER_USER,
  (username) => tooManyRequests('too-many-attempts', `too many password checks for ${username} at once; try again in a moment`, 1));

export interface BuildOptions {
  /** The SQLite file; with `databaseUrl`, only where an earlier checkpoint log is looked for to import (`<dbFile>.checkpoints.jsonl`) and the default key folder beside it. */
  dbFile: string;
  /** CELLBATCH_DATABASE_URL: the record lives in PostgreSQL (server/store/postgres/). */
  databaseUrl?: string;
  training?: boolean;
  processesDir?: string;
  timeZone?: string;
  /** CELLBATCH_PATIENT_ID_PATTERN: a regular expression a whole patient id must match (default DEFAULT_PATIENT_ID_PATTERN). */
  patientIdPattern?: string;
  idleTimeoutMinutes?: number;
  /** Absolute session lifetime in hours (default 12). */
  sessionMaxHours?: number;
  passwordMaxAgeDays?: number;
  /** Wall-clock source (tests inject one they control). */
  now?: () => number;
  logger?: boolean;
  processes?: ProcessRegistry;
  /** Where the checkpoint signing key lives: outside the database (default: keys/ beside it). */
  keyDir?: string;
  /**
   * Return before the record is verified in full and verify once the app is ready (the server's start);
   * default true: wait for it (tests and tools that read the outcome at once).
   */
  awaitVerification?: boolean;
  /**
   * Return before the lists' read model of an upgraded database is filled, and fill it once the app is
   * ready (the server's start); default true: fill it first (tests and tools). services/projection.ts.
   */
  awaitReadModel?: boolean;
  /** How the read model is filled (tests inject one they hold). */
  fillReadModel?: (ctx: AppContext, stopped: () => boolean) => Promise<FillReport>;
  /** Verify the whole record again every this many hours (CELLBATCH_VERIFY_EVERY_HOURS; 0 or absent: never). */
  verifyEveryHours?: number;
  /** How the record is verified in full (tests inject a slow one). */
  verify?: Verifier;
  /** Sign the chain heads every this many appended rows (default 1000). */
  checkpointEvery?: number;
  /** Refuse (500) a reply field its response schema does not declare, instead of dropping it (default: CELLBATCH_STRICT_REPLIES=1; the tests). */
  strictReplies?: boolean;
  /** Fastify's trustProxy (CELLBATCH_TRUST_PROXY): believe X-Forwarded-For/-Proto from these proxies. */
  trustProxy?: boolean | string | number;
  /** Session cookies always Secure (else only on requests that came over https). */
  secureCookies?: boolean;
  /** Serve HTTPS with this PEM certificate and key (CELLBATCH_TLS_CERT / CELLBATCH_TLS_KEY). */
  https?: { cert: Buffer; key: Buffer };
}

/**
 * A strict Content-Security-Policy (issue 10): scripts, styles, images and fonts from this origin only,
 * no inline scripts or event-handler attributes, no framing, no plugins. /docs (swagger-ui) loads
 * everything from its own static files and works under it; a Vite-built UI does too (Vite emits
 * <script type="module" src> and <link rel="stylesheet">, never inline code). data: images and fonts
 * are allowed for the icons swagger-ui embeds. No upgrade-insecure-requests: a site may run plain HTTP
 * on its own network while it sets up TLS (docs/deployment.md).
 */
/** The hash of the one inline <style> swagger-ui's bundle injects (allowed under /docs only). */
const SWAGGER_UI_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"], baseUri: ["'self'"], objectSrc: ["'none'"], frameAncestors: ["'none'"], formAction: ["'self'"],
  scriptSrc: ["'self'"], scriptSrcAttr: ["'none'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'], fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
};

/** The context with the record verified in this thread, before it is returned (the CLI's tools, benchmarks, tests). */
export async function createContext(opts: BuildOptions): Promise<AppContext> {
  const ctx = await openContext(opts);
  const report = await verifyRecord(ctx.store, trustOf(ctx.integrity));
  Object.assign(ctx.recordCheck, { report, status: report.valid ? 'verified' : 'failed', checkedAt: ctx.clock.wall().toISOString() });
  // Heads left unsigned by a run that crashed are signed now, once the record has verified.
  if (report.valid) await ctx.store.checkpoint('start');
  await syncOrClose(ctx);
  return ctx;
}

/** Start-up work whose failure stops the start: the store is closed before the error is thrown. */
async function orClose<T>(ctx: AppContext, work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (e) {
    await ctx.store.close();
    throw e;
  }
}

// Master records: built-ins and site-folder definitions not yet held become effective versions
// (audited), and new batches start on each process's effective version (Annex 11 §10).
const syncOrClose = (ctx: AppContext) => orClose(ctx, () => syncMasterRecords(ctx.store, ctx.clock, ctx.processes));

/**
 * R1 without a start that grows with the record (issue 15 item 5): the tail is checked against the last
 * signed checkpoint now, the whole record in the background once the server is ready (and on a
 * schedule, and at GET /audit/verify); `awaitVerification` waits for the first one (tests of a record
 * edited while the server was stopped). services/record-check.ts.
 */
async function startRecordCheck(ctx: AppContext, opts: BuildOptions): Promise<{ first: () => Promise<unknown> }> {
  ctx.recordCheck.writes = await checkTail(ctx);
  if (ctx.recordCheck.writes.state === 'refused') ctx.recordCheck.status = 'failed'; // known before the full verification
  // Nothing is chained onto a tail not shown intact: the master records wait for the full verification then.
  let synced = false;
  if (ctx.recordCheck.writes.state === 'open') {
    await syncOrClose(ctx);
    synced = true;
  }
  let started = false;
  useVerifier(ctx, opts.verify ?? verifyInFull, async () => {
    if (!started) await ctx.store.checkpoint('start'); // heads left unsigned by a run that crashed, now shown intact
    started = true;
    if (!synced) await syncMasterRecords(ctx.store, ctx.clock, ctx.processes);
    synced = true;
  });
  const first = () => ctx.recordCheck.verify();
  if (opts.awaitVerification ?? true) await orClose(ctx, first);
  return { first };
}

async function openContext(opts: BuildOptions): Promise<AppContext> {
  // Settings and definitions first: a bad one stops the start before any database file is created.
  const patientIds = patientIdPattern(opts.patientIdPattern);
  const processes = opts.processes ?? loadProcesses(opts.processesDir);
  const integrity = opts.dbFile === ':memory:' ? undefined : openIntegrity(opts.dbFile, opts.keyDir);
  const store = await openStore(opts.databaseUrl ?? opts.dbFile, { signer: integrity?.signer, checkpointEvery: opts.checkpointEvery, now: () => new Date(opts.now?.() ?? Date.now()) });
  try {
    await assertVersionsUnchanged(store, processes);
  } catch (e) {
    await store.close();
    throw e;
  }
  const training = !!opts.training;
  const clock: Clock = training ? new TrainingClock(await storedOffset(store), opts.now) : new SystemClock(opts.now);
  try {
    await bindMode(store, clock, training);
  } catch (e) {
    await store.close();
    throw e;
  }
  const config: Config = {
    training, idleTimeoutMinutes: opts.idleTimeoutMinutes ?? 15, sessionMaxHours: opts.sessionMaxHours ?? 12,
    timeZone: opts.timeZone ?? 'UTC', passwordMaxAgeDays: opts.passwordMaxAgeDays ?? 180, patientIdPattern: patientIds,
  };
  const ctx: AppContext = { store, clock, config, processes, integrity, recordCheck: undefined as never, credentialQueue: perUserQueue(), readModel: { filled: false } };
  ctx.recordCheck = uncheckedRecord(ctx);
  // A site that kept its checkpoints in a file: imported into the table once (issue 15 item 3).
  try {
    await importCheckpointLog(ctx);
  } catch (e) {
    await store.close();
    throw e;
  }
  // Whether the lists' read model is there; a database written before it is filled by the server
  // (startReadModelFill), never by a tool that only opens it.
  try {
    ctx.readModel = await openReadModel(ctx);
  } catch (e) {
    await store.close();
    throw e;
  }
  return ctx;
}

/**
 * Issue 15 item 5: an upgraded database's read model is filled from its entries in short transactions
 * while the server serves (the fill took 530 s at 10,000 batches before the listener when it ran first);
 * `awaitReadModel` fills it before returning instead. Runs once; ctx.readModel says when it is done.
 */
function startReadModelFill(ctx: AppContext, opts: BuildOptions, stopped: () => boolean): () => Promise<unknown> | undefined {
  if (ctx.readModel.filled) return () => undefined;
  const fill = opts.fillReadModel ?? ((c: AppContext, s: () => boolean) => fillReadModel(c, { stopped: s }));
  return () => (ctx.readModel.filling ??= fill(ctx, stopped).then((report) => {
    ctx.readModel.filled = report.filled;
    return report;
  }));
}

/** trustProxy as a number of hops: the addresses of the nearest `n` proxies are trusted. */
const hopsTrusted = (n: number) => (_address: string, hop: number) => hop < n;

export async function buildApp(opts: BuildOptions): Promise<{ app: FastifyInstance; ctx: AppContext }> {
  const ctx = await openContext(opts);
  const check = await startRecordCheck(ctx, opts);
  let closing = false;
  const fill = startReadModelFill(ctx, opts, () => closing);
  if (opts.awaitReadModel ?? true) await orClose(ctx, fill);
  const app = Fastify({
    logger: opts.logger ?? false, bodyLimit: 256 * 1024,
    trustProxy: typeof opts.trustProxy === 'number' ? hopsTrusted(opts.trustProxy) : opts.trustProxy ?? false,
    // The routes and hooks are the same over TLS; only the listening socket differs (typed as HTTP).
    ...(opts.https && ({ https: opts.https } as object)),
    clientErrorHandler,
    // Router errors (a malformed URL, an over-long path parameter) answer problem+json like the rest.
    frameworkErrors: (err, request, reply) => {
      // An id longer than the router's maxParamLength (100, the longest id) names nothing: API.md's 404
      // for an unknown id, as the not-found handler answers when such an id ends the path.
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return void sendProblem(reply, 404, 'not-found', `${request.url.split('?')[0].slice(0, 200)} names nothing: no id is longer than 100 characters`);
      const status = err.statusCode ?? 400;
      sendProblem(reply, status, String(err.code ?? 'bad-url').toLowerCase(), err.message, status === 400 ? [{ field: 'url', message: err.message }] : undefined);
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // Every body is JSON (API.md): Fastify's built-in text/plain parser let a text body through to the
  // schema, which answered 400 "expected object, received string" where form data or XML answer 415.
  app.removeContentTypeParser('text/plain');
  // JSON is UTF-8 (RFC 8259 §8.1): a body declared in another charset was decoded as UTF-8 anyway, so
  // Latin-1 'é' (0xE9) would have been stored as U+FFFD, not what the client meant (ALCOA accurate).
  app.addHook('preParsing', async (request) => {
    // Only a body is judged: a GET's stray headers describe nothing.
    if (request.headers['transfer-encoding'] === undefined && !(Number(request.headers['content-length'] ?? 0) > 0)) return;
    // Nor is a compressed body decoded (RFC 9110 §8.4: an unsupported content coding is 415): a gzip
    // body was read as JSON text (400), and a plain one labelled gzip was taken as it was.
    const coding = request.headers['content-encoding'];
    if (coding !== undefined && !/^\s*(identity)?\s*$/i.test(coding)) {
      throw new AppError('unsupported-content-encoding', 415, `a body in content coding "${coding.slice(0, 40)}" is not accepted: send it uncompressed`);
    }
    const type = request.headers['content-type'];
    if (type === undefined || !/charset/i.test(type)) return;
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(type)?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      throw new AppError('unsupported-charset', 415, `a body in charset "${charset.slice(0, 40)}" is not accepted: send JSON in UTF-8`);
    }
  });
  app.addHook('preValidation', refuseNulText); // U+0000 is 400 on its field, on either store (plugins/text-input.ts)
  app.setSerializerCompiler(replySerializerCompiler({ strict: opts.strictReplies ?? process.env.CELLBATCH_STRICT_REPLIES === '1' }));
  const verifyQuietly = () => check.first().catch((e: unknown) => {
    if (closing) return; // the database closed under a verification that was still running
    ctx.recordCheck.status = 'failed';
    app.log.error({ err: e }, 'the record could not be verified');
  });
  const every = (opts.verifyEveryHours ?? 0) * 3_600_000;
  const schedule = every > 0 ? setInterval(verifyQuietly, every).unref() : undefined;
  // Served first, verified in the background: the listener does not wait for a record of any size.
  if (opts.awaitVerification === false) app.addHook('onReady', async () => { void verifyQuietly(); });
  // Served first, the lists' read model filled in the background (a fill that fails is tried again at the next start).
  if (opts.awaitReadModel === false) {
    app.addHook('onReady', async () => {
      void fill()?.catch((e: unknown) => { if (!closing) app.log.error({ err: e }, 'the lists\' read model could not be filled'); });
    });
  }
  app.addHook('onClose', async () => {
    closing = true;
    clearInterval(schedule);
    await ctx.readModel.filling?.catch(() => undefined); // a fill stops after its current chunk
    // Heads are signed only while the tail is shown intact: a shutdown must not sign a tampered tail.
    if (ctx.recordCheck.writes.state === 'open') await ctx.store.checkpoint('shutdown');
    await ctx.store.close();
  });

  // helmet's security headers on every response. Its middleware is built once: @fastify/helmet built it
  // again for every request (~15 KB and ~50 µs each, on a signed step's path too).
  const securityHeaders = helmet({ contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES } });
  app.addHook('onRequest', (request, reply, done) => securityHeaders(request.raw, reply.raw, (e?: unknown) => done(e instanceof Error ? e : undefined)));
  // The per-minute limits count in the database, shared by every app server (auth/attempt-windows.ts).
  await app.register(rateLimit, {
    global: false, store: attemptWindows(ctx),
    // The plugin's own error has no code (it answered type …/bad-request with an English detail): the
    // refusal is the same too-many-attempts as the other password limits, in the reader's language.
    errorResponseBuilder: (_request, { ttl }) => {
      const seconds = Math.max(1, Math.ceil(ttl / 1000));
      return tooManyRequests('too-many-attempts', `too many attempts from this address in a minute; try again in ${seconds} s`, seconds)
        .inVietnamese(`quá nhiều lần thử từ địa chỉ này trong một phút; hãy thử lại sau ${seconds} giây`);
    },
  });
  await registerOpenApi(app);
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // swagger-ui's bundle injects one <style> element of its own: /docs alone allows exactly that style,
    // by its hash (test/server/security/csp-browser.test.ts fails if an upgrade changes it).
    transformStaticCSP: (header) => String(header).replace("style-src 'self'", `style-src 'self' ${SWAGGER_UI_STYLE}`),
  });
  await app.register(problem, {
    // A refused attempt is audited exactly once: here, unless the command already wrote its row.
    onRefusal: async (request, r) => {
      const params = (request.params ?? {}) as { id?: string };
      const url = request.routeOptions.url ?? request.url;
      // A refusal about a batch, or about one of its deviations, is on that batch's trail (its review lists it).
      const deviation = url.startsWith('/api/v1/deviations/') && params.id ? await ctx.store.getEntry(params.id) : undefined;
      const batchId = url.startsWith('/api/v1/batches/') && params.id && await ctx.store.getBatch(params.id) ? params.id
        : deviation?.kind === 'deviation' ? deviation.batchId : null;
      await ctx.store.transaction(() => writeAudit(ctx.store, ctx.clock, {
        userId: request.user!.id, action: 'attempt.refused', entity: url.split('/')[3] ?? 'api', entityId: params.id ?? null, batchId,
        after: { route: `${request.method} ${url}`, status: r.status, code: r.code, detail: r.detail, ...(r.errors && { errors: r.errors }) },
      }));
    },
  });
  await app.register(auth, { ctx, secureCookies: opts.secureCookies });
  await app.register(passwordLimits);
  // Nothing is chained onto a tail not shown intact (services/record-check.ts). Signing in and out stay
  // possible, so that QA and the administrator can read the alert and the verification.
  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    if (!url || isSafeMethod(request.method) || url === '/api/v1/auth/login' || url === '/api/v1/auth/logout') return;
    assertWritable(ctx);
  });

  app.get('/healthz', { config: { public: true }, schema: { tags: ['health'], operationId: 'getHealth', summary: 'Liveness, and whether the record has been verified since start', security: [], response: { 200: json(HealthReply, 'The service is up') } } }, async () => ({ status: 'ok' as const, integrity: ctx.recordCheck.status }));
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  await app.register(async (api) => {
    for (const routes of [siteRoutes, authRoutes, userRoutes, registryRoutes, processRoutes, batchRoutes, qaRoutes, auditRoutes, recordRoutes]) await api.register(routes, { ctx });
    if (ctx.config.training) await api.register(trainingRoutes, { ctx });
  }, { prefix: '/api/v1' });
  await app.register(webUi);
  return { app, ctx };
}
