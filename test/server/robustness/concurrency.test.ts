// Two terminals at the same moment: writes to one batch are serialised (exactly one wins, the other is
// a 409 problem+json and writes nothing), and writers on different batches never interfere (every one
// succeeds, each batch holds exactly its own entries, chains valid, projections equal their rebuild).
// The requests really overlap: each awaits its signer's password check (argon2, off the event loop)
// after reading the batch and before its write transaction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createBatch, din, harness, HOUR, recordState, sign, type Harness } from '../../helpers.js';
import { rebuildProjection } from '../../../server/services/projection.js';
import { problemViolations } from './fuzz-support.js';

let h: Harness;
beforeAll(async () => { h = await harness(); });
afterAll(async () => h.close());

type Reply = Awaited<ReturnType<typeof post>>;

/** A POST as `user` (session), answering status, JSON body and the raw response for the problem checks. */
async function post(user: string, url: string, payload: unknown) {
  const res = await h.app.inject({
    method: 'POST', url: `/api/v1${url}`, payload: JSON.stringify(payload),
    headers: { authorization: `Bearer ${h.tokens[user]}`, 'content-type': 'application/json' },
  });
  return { status: res.statusCode, body: res.json(), res };
}

const iso = (ms: number) => new Date(ms).toISOString();
const receipt = (seq: number, volume = 200) => {
  const now = h.ctx.clock.now().getTime();
  return { bagScan: din(seq).keyed, collectionEnd: iso(now - 10 * HOUR), receivedAt: iso(now - HOUR), transportTemperature: 4, volume };
};
const sample = (viability = 95) => ({ wbcConcentration: 50, viability, cd3Positive: 60 });

const entriesOf = (batchId: string) => h.ctx.store.entriesOfBatch(batchId);
const stepEntries = async (batchId: string, stepId: string) => (await entriesOf(batchId)).filter((e) => e.kind === 'step' && e.stepId === stepId);

/** Exactly one 201 and one 409 problem+json; returns them in that order. */
function oneWinsOneConflicts(replies: Reply[]): [Reply, Reply] {
  const statuses = replies.map((r) => r.status).sort();
  expect(statuses, JSON.stringify(replies.map((r) => r.body)).slice(0, 600)).toEqual([201, 409]);
  const winner = replies.find((r) => r.status === 201)!;
  const loser = replies.find((r) => r.status === 409)!;
  expect(problemViolations(loser.res)).toEqual([]);
  return [winner, loser];
}

async function expectProjectionsRebuilt(ids: string[]) {
  for (const id of ids) {
    const p = (await rebuildProjection(h.ctx, id))!;
    expect(p.cached, `projection of batch ${id}`).toEqual(p.rebuilt);
  }
}

describe('the same step submitted from two terminals at the same moment', () => {
  it('records it once: one 201, one 409, one entry and one signature written', async () => {
    // A few rounds, each on a new batch: the outcome must not depend on which request gets ahead.
    for (const seq of [1, 2, 3, 4]) {
      const batch = await createBatch(h, 'car-t', seq);
      const before = await recordState(h);
      const replies = await Promise.all([
        post('op1', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receipt(seq, 210), signature: sign('op1'), expectedVersion: batch.version }),
        post('op2', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receipt(seq, 220), signature: sign('op2'), expectedVersion: batch.version }),
      ]);
      const [winner] = oneWinsOneConflicts(replies);
      const after = await recordState(h);
      expect(after.entries - before.entries, 'exactly one entry written').toBe(1);
      expect(after.signatures - before.signatures, 'exactly one signature written').toBe(1);
      expect(after.chain).toBe(true);
      const recorded = await stepEntries(batch.id, 'apheresis-receipt');
      expect(recorded).toHaveLength(1);
      expect(recorded[0].id).toBe(winner.body.entry.id);
      // The entry holds the winner's values and the winner's signature, nothing of the loser's.
      expect(JSON.parse(recorded[0].payload).values.volume).toBe(winner.body.entry.values.volume);
      const view = (await call(h, 'qa1', 'GET', `/batches/${batch.id}`)).body;
      expect(view.version).toBe(batch.version + 1);
      expect(view.entries.filter((e: any) => e.stepId === 'apheresis-receipt')).toHaveLength(1);
      expect(view.entries.find((e: any) => e.id === winner.body.entry.id).signatures.map((s: any) => s.username)).toEqual([winner.body.entry.signatures[0].username]);
      await expectProjectionsRebuilt([batch.id]);
    }
  });

  it('a step and a termination at the same moment: exactly one of them is written', async () => {
    const batch = await createBatch(h, 'car-t', 10);
    const before = await recordState(h);
    const replies = await Promise.all([
      post('op1', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receipt(10), signature: sign('op1'), expectedVersion: batch.version }),
      post('sup1', `/batches/${batch.id}/terminate`, { reason: 'bag damaged in transport', signature: sign('sup1') }),
    ]);
    oneWinsOneConflicts(replies);
    const after = await recordState(h);
    expect(after.entries - before.entries).toBe(1);
    expect(after.signatures - before.signatures).toBe(1);
    expect(after.chain).toBe(true);
    await expectProjectionsRebuilt([batch.id]);
  });
});

describe('two verifications of the same entry at the same moment', () => {
  async function pendingSample(seq: number) {
    const batch = await createBatch(h, 'car-t', seq);
    const r1 = await post('op1', `/batches/${batch.id}/steps/apheresis-receipt`, { values: receipt(seq), signature: sign('op1'), expectedVersion: batch.version });
    expect(r1.status).toBe(201);
    const r2 = await post('op1', `/batches/${batch.id}/steps/starting-material-sample`, { values: sample(), signature: sign('op1'), expectedVersion: r1.body.batch.version });
    expect(r2.status).toBe(201);
    expect(r2.body.entry.verified).toBe(false);
    return { batchId: batch.id as string, entryId: r2.body.entry.id as string, version: r2.body.batch.version as number };
  }

  for (const withVersion of [true, false]) {
    it(`verifies it once, by op2 or sup1: one 201, one 409 (${withVersion ? 'both stating' : 'neither stating'} expectedVersion)`, async () => {
      for (const seq of withVersion ? [20, 21, 22] : [30, 31, 32]) {
        const p = await pendingSample(seq);
        const before = await recordState(h);
        const body = (u: string) => ({ signature: sign(u), ...(withVersion && { expectedVersion: p.version }) });
        const replies = await Promise.all([
          post('op2', `/batches/${p.batchId}/entries/${p.entryId}/verify`, body('op2')),
          post('sup1', `/batches/${p.batchId}/entries/${p.entryId}/verify`, body('sup1')),
        ]);
        const [winner] = oneWinsOneConflicts(replies);
        expect(winner.body.entry.verified).toBe(true);
        const after = await recordState(h);
        expect(after.entries - before.entries, 'one verification entry').toBe(1);
        expect(after.signatures - before.signatures, 'one verified signature').toBe(1);
        expect(after.chain).toBe(true);
        expect((await entriesOf(p.batchId)).filter((e) => e.kind === 'verification')).toHaveLength(1);
        const view = (await call(h, 'qa1', 'GET', `/batches/${p.batchId}`)).body;
        const verified = view.entries.find((e: any) => e.id === p.entryId).signatures.filter((s: any) => s.meaning === 'verified');
        expect(verified).toHaveLength(1);
        expect(['op2', 'sup1']).toContain(verified[0].username);
        await expectProjectionsRebuilt([p.batchId]);
      }
    });
  }
});

describe('parallel writers on different batches', () => {
  const N = 8;
  const performers = ['op1', 'op2', 'sup1', 'sup2'];
  const verifierOf = (performer: string) => (performer.startsWith('op') ? (performer === 'op1' ? 'sup1' : 'sup2') : (performer === 'sup1' ? 'op1' : 'op2'));

  it(`${N} writers never interfere: all 201, each batch has exactly its entries, chains valid, projections rebuilt`, async () => {
    const batches = [];
    for (let i = 0; i < N; i++) batches.push(await createBatch(h, 'car-t', 100 + i, 60 + i));
    const before = await recordState(h);
    const who = batches.map((_, i) => performers[i % performers.length]);

    // Round 1: every batch's receipt at once; each with its own volume so that values cannot cross.
    const receipts = await Promise.all(batches.map((b, i) =>
      post(who[i], `/batches/${b.id}/steps/apheresis-receipt`, { values: receipt(100 + i, 300 + i), signature: sign(who[i]), expectedVersion: b.version })));
    expect(receipts.map((r) => r.status), JSON.stringify(receipts.map((r) => r.body)).slice(0, 600)).toEqual(Array(N).fill(201));

    // Round 2: every batch's sample at once, each with its own viability.
    const samples = await Promise.all(batches.map((b, i) =>
      post(who[i], `/batches/${b.id}/steps/starting-material-sample`, { values: sample(80 + i), signature: sign(who[i]), expectedVersion: receipts[i].body.batch.version })));
    expect(samples.map((r) => r.status), JSON.stringify(samples.map((r) => r.body)).slice(0, 600)).toEqual(Array(N).fill(201));

    // Round 3: every sample verified at once, by someone other than its performer.
    const verifications = await Promise.all(batches.map((b, i) =>
      post(verifierOf(who[i]), `/batches/${b.id}/entries/${samples[i].body.entry.id}/verify`, { signature: sign(verifierOf(who[i])), expectedVersion: samples[i].body.batch.version })));
    expect(verifications.map((r) => r.status), JSON.stringify(verifications.map((r) => r.body)).slice(0, 600)).toEqual(Array(N).fill(201));

    const after = await recordState(h);
    expect(after.chain).toBe(true);
    expect(after.entries - before.entries, 'receipt, sample and verification per batch').toBe(3 * N);
    expect(after.signatures - before.signatures, 'performed, performed and verified per batch').toBe(3 * N);

    for (let i = 0; i < N; i++) {
      const b = batches[i];
      const entries = await entriesOf(b.id);
      expect(entries.map((e) => [e.kind, e.stepId]), `batch ${i}`).toEqual([
        ['batch-created', null], ['step', 'apheresis-receipt'], ['step', 'starting-material-sample'], ['verification', 'starting-material-sample'],
      ]);
      expect(entries.every((e) => e.batchId === b.id)).toBe(true);
      expect(entries.map((e) => e.batchSeq)).toEqual([1, 2, 3, 4]);
      const values = entries.slice(1, 3).map((e) => JSON.parse(e.payload).values);
      expect(values[0].volume, 'its own receipt').toBe(300 + i);
      expect(values[0].bagScan).toBe(din(100 + i).keyed);
      expect(values[1].viability, 'its own sample').toBe(80 + i);
      expect(JSON.parse(entries[3].payload).entryId).toBe(samples[i].body.entry.id);

      const view = (await call(h, 'qa1', 'GET', `/batches/${b.id}`)).body;
      expect(view.version).toBe(4);
      expect(view.patient.weightKg).toBe(60 + i);
      const sampleEntry = view.entries.find((e: any) => e.id === samples[i].body.entry.id);
      expect(sampleEntry.verified).toBe(true);
      expect(sampleEntry.signatures.map((s: any) => [s.meaning, s.username])).toEqual([['performed', who[i]], ['verified', verifierOf(who[i])]]);
      expect(view.availableSteps.map((s: any) => s.stepId)).toContain('cd4-cd8-selection');
    }
    await expectProjectionsRebuilt(batches.map((b) => b.id));
    expect((await call(h, 'qa1', 'GET', '/audit/verify')).body.valid).toBe(true);
  });
});
