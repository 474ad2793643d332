// Start-up that does not grow with the record (issue 15 item 5): the server serves before the whole
// record is verified, says `integrity: pending` until the verification has finished, raises an alert
// for QA and the administrator when it fails, and never chains anything onto a tail that disagrees with
// the last signed checkpoint (21 CFR 11.10(a)). The full verification is injected as a slow one the
// test releases (a promise, no sleeps), so "before" and "after" are exact.
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../../server/app.js';
import type { AppContext } from '../../../server/context.js';
import { verifyInFull, type Verifier } from '../../../server/services/record-check.js';
import { rowHash } from '../../../server/store/chain.js';
import { entryCells, type EntryRow } from '../../../server/store/store.js';
import { createBatch, din, harness, PASSWORD, type Harness } from '../../helpers.js';
import { owner, type OwnerSql } from '../../owner.js';
import { parseSettings } from '../../../server/settings.js';

let h: Harness;
const apps: FastifyInstance[] = [];

beforeEach(async () => {
  h = await harness();
  await createBatch(h, 'car-t', 1);
});

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  await h.discard();
});

/** A full verification that waits until the test releases it. */
function slowVerification() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  return { release, verify: async (ctx: AppContext) => { await gate; return verifyInFull(ctx); } };
}

/** The server started again on the same database, as main.ts starts it: it does not wait for the verification. */
async function restart(verify: Verifier) {
  const { app, ctx } = await buildApp({ ...h.location, training: true, now: () => h.wall.now, awaitVerification: false, verify });
  apps.push(app);
  await app.ready(); // what listen() does first: the background verification starts here
  const as = async (user: string | null, method: 'GET' | 'POST', url: string, payload?: object) => {
    const r = await app.inject({ method, url, headers: user ? { authorization: `Bearer ${h.tokens[user]}` } : {}, ...(payload && { payload }) });
    return { status: r.statusCode, body: r.json(), headers: r.headers };
  };
  return { app, ctx, as };
}

const newBatch = (seq: number) => ({ processId: 'car-t', din: din(seq).keyed, patient: { id: `PT-${seq}`, weightKg: 70 } });

/** An edit of a table's rows behind its append-only triggers, as a forger with the database would make it (test/owner.ts). */
const tamper = (table: string, edit: (db: OwnerSql) => Promise<unknown>) => owner(h.location).behindTriggers(table, edit);

describe('the server serves before the record is verified', () => {
  it('answers at once with integrity pending, takes writes on a tail its last signed checkpoint covers, then says verified', async () => {
    await h.app.close(); // a clean stop: the shutdown checkpoint signs the heads
    const slow = slowVerification();
    const s = await restart(slow.verify);

    expect((await s.as(null, 'GET', '/healthz')).body).toEqual({ status: 'ok', integrity: 'pending' });
    const created = await s.as('op1', 'POST', '/api/v1/batches', newBatch(2));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await s.as('qa1', 'GET', '/api/v1/alerts')).body.items.filter((a: { kind: string }) => a.kind === 'record-integrity')).toEqual([]);

    slow.release();
    const report = await s.ctx.recordCheck.verify(); // the running verification's own report
    expect(report.valid).toBe(true);
    expect((await s.as(null, 'GET', '/healthz')).body).toEqual({ status: 'ok', integrity: 'verified' });
    expect((await s.as('op1', 'POST', '/api/v1/batches', newBatch(3))).status).toBe(201);
  });

  it('a verification that fails (an old row edited, the tail intact) says failed and raises an alert for QA and the administrator', async () => {
    await h.app.close();
    await tamper('entries', (db) => db.run(`update entries set payload = replace(payload, '"weightKg":70', '"weightKg":90') where seq = 1`));
    const slow = slowVerification();
    const s = await restart(slow.verify);
    expect((await s.as(null, 'GET', '/healthz')).body.integrity).toBe('pending');

    slow.release();
    expect((await s.ctx.recordCheck.verify()).valid).toBe(false);
    expect((await s.as(null, 'GET', '/healthz')).body.integrity).toBe('failed');
    for (const reader of ['qa1', 'admin']) {
      const alerts = (await s.as(reader, 'GET', '/api/v1/alerts')).body.items;
      expect(alerts[0], reader).toMatchObject({ id: 'record-integrity', kind: 'record-integrity', open: true, userId: null });
      expect(alerts[0].detail).toMatch(/table entries, row 1/);
    }
    expect((await s.as('op1', 'GET', '/api/v1/alerts')).status).toBe(403);
  });
});

describe('nothing is chained onto a tail that disagrees with the last signed checkpoint', () => {
  const tails: [string, () => Promise<unknown>, RegExp][] = [
    ['the last audit row deleted', () => tamper('audit_log', (db) => db.run('delete from audit_log where seq = (select max(seq) from audit_log)')), /audit_log chain ends at row \d+, but signed checkpoint \d+ recorded row \d+: rows were removed/],
    ['the last entry rewritten with its hash recomputed', () => tamper('entries', async (db) => {
      const [r] = await db.rows<EntryRow>(`select seq, id, batch_id as "batchId", batch_seq as "batchSeq", kind, step_id as "stepId", payload, recorded_at as "recordedAt", actor_id as "actorId", training, prev_hash as "prevHash"
        from entries order by seq desc limit 1`);
      const forged = { ...r, training: Boolean(r.training), payload: r.payload.replace('"weightKg":70', '"weightKg":90') };
      expect(forged.payload).not.toBe(r.payload);
      await db.run('update entries set payload = ?, hash = ? where seq = ?', forged.payload, rowHash(r.prevHash, entryCells(forged)), r.seq);
    }), /row \d+ of the entries chain differs from what signed checkpoint \d+ recorded: the record was rewritten/],
  ];

  it.each(tails)('%s: writes 503 record-tail-altered at once, unaudited; sign-in, reads and the alert work; the verification fails', async (_name, edit, detail) => {
    await h.app.close();
    await edit();
    const slow = slowVerification();
    const s = await restart(slow.verify);
    const before = { heads: await s.ctx.store.heads(), counts: await s.ctx.store.counts() };

    const refused = await s.as('op1', 'POST', '/api/v1/batches', newBatch(2));
    expect(refused.status).toBe(503);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body.type).toMatch(/record-tail-altered$/);
    expect(refused.body.detail).toMatch(detail);
    expect((await s.as('qa1', 'POST', `/api/v1/materials`, { type: 'x', name: 'x', lotNumber: 'L', expiresOn: '2027-01-01', status: 'released' })).status).toBe(503);
    expect({ heads: await s.ctx.store.heads(), counts: await s.ctx.store.counts() }).toEqual(before); // nothing chained, not even the refusal

    expect((await s.as(null, 'GET', '/healthz')).body.integrity).toBe('failed');
    expect((await s.as(null, 'POST', '/api/v1/auth/login', { username: 'qa2', password: PASSWORD })).status).toBe(200);
    expect((await s.as('op1', 'GET', '/api/v1/batches')).status).toBe(200);
    const alert = (await s.as('qa1', 'GET', '/api/v1/alerts')).body.items[0];
    expect(alert).toMatchObject({ kind: 'record-integrity', open: true });
    expect(alert.detail).toMatch(detail);

    slow.release();
    expect((await s.ctx.recordCheck.verify()).valid).toBe(false);
    expect((await s.as('op1', 'POST', '/api/v1/batches', newBatch(3))).status).toBe(503);
  });

  it('rows written after the last signed checkpoint (a crash): writes wait, 503 record-verifying with Retry-After, until the verification shows them intact', async () => {
    await h.ctx.store.close(); // the process dies: no shutdown checkpoint signs the rows written since the last one
    await h.app.close();
    const slow = slowVerification();
    const s = await restart(slow.verify);

    const waiting = await s.as('op1', 'POST', '/api/v1/batches', newBatch(2));
    expect(waiting.status).toBe(503);
    expect(waiting.body.type).toMatch(/record-verifying$/);
    expect(Number(waiting.headers['retry-after'])).toBeGreaterThan(0);
    expect((await s.as(null, 'GET', '/healthz')).body.integrity).toBe('pending');

    slow.release();
    expect((await s.ctx.recordCheck.verify()).valid).toBe(true);
    expect((await s.as('op1', 'POST', '/api/v1/batches', newBatch(2))).status).toBe(201);
    expect((await s.as(null, 'GET', '/healthz')).body.integrity).toBe('verified');
  });
});

describe('the verification runs again on a schedule', () => {
  it('every CELLBATCH_VERIFY_EVERY_HOURS (default 24, 0: never again), and stops with the server', async () => {
    expect(parseSettings({}).verifyEveryHours).toBe(24);
    expect(parseSettings({ CELLBATCH_VERIFY_EVERY_HOURS: '0' }).verifyEveryHours).toBe(0);
    expect(() => parseSettings({ CELLBATCH_VERIFY_EVERY_HOURS: 'daily' })).toThrowError(/CELLBATCH_VERIFY_EVERY_HOURS/);

    await h.app.close();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }); // only the schedule's timer: the rest runs as usual
    try {
      let runs = 0;
      const { app, ctx } = await buildApp({ ...h.location, training: true, now: () => h.wall.now, verifyEveryHours: 6, verify: (c) => { runs++; return verifyInFull(c); } });
      expect(runs).toBe(1); // the one after start
      await app.ready();
      vi.advanceTimersByTime(6 * 3_600_000);
      expect(runs).toBe(2);
      expect((await ctx.recordCheck.verify()).valid).toBe(true); // the scheduled run's report
      vi.advanceTimersByTime(5 * 3_600_000);
      expect(runs).toBe(2);
      await app.close();
      vi.advanceTimersByTime(24 * 3_600_000);
      expect(runs).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
