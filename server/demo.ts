// `npm run demo`: a TRAINING-mode server for staff training programmes, seeded with users of every
// role, released lots, calibrated equipment, and one CAR-T and one NK batch part-way through.
// Every record it makes is marked TRAINING; the database is CELLBATCH_DEMO_DB (./data/demo.db), made
// afresh each run (or the PostgreSQL database CELLBATCH_DEMO_DATABASE_URL). It never reads CELLBATCH_DB
// or CELLBATCH_DATABASE_URL (a production variable left exported must not point the demo at a GMP
// record), and it deletes an existing record only if it is a demo database it made (server/demo-safety.ts). Every user gets its own generated password, printed once.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { createUser } from './services/accounts.js';
import { bootstrapAdmin } from './services/bootstrap.js';
import { checkCharacter } from './domain/isbt128.js';
import { DEMO_MARK, demoKeyDir, removeDemoDatabase } from './demo-safety.js';
import { writeAudit } from './services/audit.js';

const env = process.env;
const dbFile = env.CELLBATCH_DEMO_DB || './data/demo.db';
// The demo's own PostgreSQL database, if it is to run there (never CELLBATCH_DATABASE_URL, for the same
// reason as CELLBATCH_DB); its key folder stays beside CELLBATCH_DEMO_DB.
const databaseUrl = env.CELLBATCH_DEMO_DATABASE_URL || undefined;
try {
  await removeDemoDatabase(dbFile, databaseUrl);
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}

const passwords: Record<string, string> = {};
const passwordOf = (username: string) => (passwords[username] ??= `Trn-${randomBytes(9).toString('base64url')}`);
const USERS: [string, string, string[]][] = [
  ['lan.op', 'Nguyễn Thị Lan', ['operator']], ['minh.op', 'Trần Văn Minh', ['operator']],
  ['hoa.sup', 'Lê Thị Hoa', ['supervisor']], ['tuan.qc', 'Phạm Anh Tuấn', ['qc']], ['mai.qc', 'Võ Thị Mai', ['qc']],
  ['huong.qa', 'Đặng Thu Hương', ['qa']], ['insp', 'Inspector (read-only)', ['inspector']],
];

const { app, ctx } = await buildApp({ dbFile, databaseUrl, keyDir: demoKeyDir(dbFile), training: true, processesDir: env.CELLBATCH_PROCESSES_DIR, timeZone: env.CELLBATCH_TZ ?? 'UTC', logger: false });
// The mark that lets the next run delete this file (and nothing else).
await ctx.store.transaction(async () => {
  await ctx.store.putSetting(DEMO_MARK, '1');
  await writeAudit(ctx.store, ctx.clock, { userId: null, action: 'demo.created', entity: 'database', after: { training: true } });
});
const ADMIN_NAME = 'Bùi Quốc Khánh';
await bootstrapAdmin(ctx, passwordOf('admin'), () => {}, { fullName: ADMIN_NAME });
for (const [username, fullName, roles] of USERS) await createUser(ctx, null, { username, fullName, roles: roles as never, password: passwordOf(username) }, false);

const tokens: Record<string, string> = {};
async function as(app: FastifyInstance, username: string, method: 'GET' | 'POST', url: string, payload?: object) {
  tokens[username] ??= (await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: passwordOf(username) } })).json().token;
  const r = await app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${tokens[username]}` }, ...(payload && { payload }) });
  if (r.statusCode >= 300) throw new Error(`${method} ${url} as ${username} → ${r.statusCode}: ${r.body}`);
  return r.json();
}
const sig = (username: string) => ({ username, password: passwordOf(username) });
const ago = (minutes: number) => new Date(ctx.clock.now().getTime() - minutes * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
const until = new Date(ctx.clock.now().getTime() + 365 * 86_400_000).toISOString().slice(0, 10);

// Catalogue: one released lot per material type and one calibrated unit per equipment type.
const lots: Record<string, string> = {};
const equipment: Record<string, string> = {};
for (const { definition } of ctx.processes.list()) {
  for (const f of definition.phases.flatMap((p) => p.steps).flatMap((s) => s.fields)) {
    if (f.kind === 'lot' && f.materialType && !lots[f.materialType]) {
      lots[f.materialType] = (await as(app, 'huong.qa', 'POST', '/materials', { type: f.materialType, name: `${f.materialType} (training)`, lotNumber: `TR-${f.materialType.toUpperCase()}-01`, expiresOn: until, status: 'released' })).id;
    }
    if (f.kind === 'equipment' && f.equipmentType && !equipment[f.equipmentType]) {
      equipment[f.equipmentType] = (await as(app, 'hoa.sup', 'POST', '/equipment', { assetId: `TR-${f.equipmentType.toUpperCase()}-01`, type: f.equipmentType, name: `${f.equipmentType} (training)`, calibrationDueOn: until })).id;
    }
  }
}

async function step(batchId: string, stepId: string, values: object, verifier?: string) {
  const batch = await as(app, 'lan.op', 'GET', `/batches/${batchId}`);
  const r = await as(app, 'lan.op', 'POST', `/batches/${batchId}/steps/${stepId}`, { values, signature: sig('lan.op'), expectedVersion: batch.version });
  if (verifier) await as(app, verifier, 'POST', `/batches/${batchId}/entries/${r.entry.id}/verify`, { signature: sig(verifier) });
}

const dinOf = (seq: string) => { const d = `W1234${String(new Date().getUTCFullYear() % 100).padStart(2, '0')}${seq}`; return { d, keyed: d + checkCharacter(d) }; };

// CAR-T: received, sampled, selected and activated — transduction is due 18–30 h later.
const cart = dinOf('000101');
const c = await as(app, 'lan.op', 'POST', '/batches', { processId: 'car-t', din: cart.keyed, patient: { id: 'TRAIN-PT-001', weightKg: 62 } });
await step(c.id, 'apheresis-receipt', { bagScan: cart.keyed, collectionEnd: ago(600), receivedAt: ago(30), transportTemperature: 6, volume: 180 });
await step(c.id, 'starting-material-sample', { wbcConcentration: 25, viability: 96, cd3Positive: 62 }, 'minh.op');

// NK: blood received; PBMC isolation and plasma preparation are next.
const nk = dinOf('000102');
const n = await as(app, 'lan.op', 'POST', '/batches', { processId: 'nk', din: nk.keyed, patient: { id: 'TRAIN-PT-002', weightKg: 55 } });
await step(n.id, 'blood-receipt', { bagScan: nk.keyed, collectedAt: ago(240), receivedAt: ago(20), volume: 50, transportTemperature: 20 });

const port = Number(env.PORT ?? 3000);
const host = env.HOST || '127.0.0.1';
await app.listen({ port, host });
// Passwords on stderr, like the server's generated admin password: never into a collected stdout log.
console.error(`
cellbatch TRAINING MODE on http://${host === '0.0.0.0' ? 'localhost' : host}:${port}  (API docs: /docs; database ${dbFile}, made afresh each run)
Every record is marked TRAINING. The training clock moves with POST /api/v1/training/clock {advanceHours}.

Logins (each password generated for this run and shown once):
  admin     ${ADMIN_NAME.padEnd(24)} ${'admin (accounts only; signs nothing)'.padEnd(48)} ${passwordOf('admin')}
${USERS.map(([u, name, roles]) => `  ${u.padEnd(9)} ${name.padEnd(24)} ${roles.join(', ').padEnd(48)} ${passwordOf(u)}`).join('\n')}

Batches: ${c.batchNumber} (CAR-T, DIN ${cart.keyed}) and ${n.batchNumber} (NK, DIN ${nk.keyed}), part-way through.
`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => { app.close().then(() => process.exit(0)); });
