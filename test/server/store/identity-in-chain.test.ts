// Identity in the chain (21 CFR 11.10(a), 211.188(b)). The inspector's finding, reproduced: editing
// `batches.din` or the patient's weight in the database (its file) left `integrity: true`, and identity scans
// and per-kg doses then used the edited values. Now a batch's identity comes from its hash-chained
// `batch-created` entry, and verification names the mutable row that disagrees (table, row, field).
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { runCliAsync } from '../../../server/cli.js';
import { createBatch, din, harness, HOUR, sign, type Harness } from '../../helpers.js';
import { cliRecordArgs, owner } from '../../owner.js';

let h: Harness;
afterEach(() => h.discard());

it('R1 [11.10(a)]: an edited DIN or patient weight in the database is reported by table, row and field; scans and the view use the chained identity', async () => {
  h = await harness();
  const batch = await createBatch(h, 'car-t', 1, 70);
  await h.app.close();

  await owner(h.location).run('update batches set din = ?, patient = ? where id = ?', din(9).din, JSON.stringify({ id: 'PT-1', weightKg: 35 }), batch.id);

  const { app } = await buildApp({ ...h.location, training: true, now: () => h.wall.now });
  try {
    const get = async (user: string, url: string, payload?: object) => {
      const r = await app.inject({ method: payload ? 'POST' : 'GET', url: `/api/v1${url}`, headers: { authorization: `Bearer ${h.tokens[user]}` }, ...(payload && { payload }) });
      return { status: r.statusCode, body: r.json() };
    };
    const view = await get('qa1', `/batches/${batch.id}`);
    expect(view.body).toMatchObject({ integrity: false, din: din(1).din, patient: { id: 'PT-1', weightKg: 70 } });
    const report = await get('qa1', '/audit/verify');
    expect(report.body.valid).toBe(false);
    expect(report.body.mismatches).toEqual([
      { table: 'batches', row: batch.id, field: 'din', row_value: din(9).din, chain_value: din(1).din },
      { table: 'batches', row: batch.id, field: 'patient.weightKg', row_value: 35, chain_value: 70 },
    ]);
    // The scan is judged against the chained DIN: the edited one is refused, the true one accepted.
    const now = Date.parse(view.body.createdAt);
    const receipt = (scan: string) => ({ values: { bagScan: scan, collectionEnd: new Date(now - 10 * HOUR).toISOString(), receivedAt: new Date(now - HOUR).toISOString(), transportTemperature: 6, volume: 180 }, signature: sign('op1'), expectedVersion: view.body.version });
    expect((await get('op1', `/batches/${batch.id}/steps/apheresis-receipt`, receipt(din(9).keyed))).status).toBe(422);
    expect((await get('op1', `/batches/${batch.id}/steps/apheresis-receipt`, receipt(din(1).keyed))).status).toBe(201);
  } finally {
    await app.close();
  }
  const cli = await runCliAsync(['verify', ...cliRecordArgs(h.location), '--keys', path.join(h.dir, 'keys')]);
  expect(cli.code).toBe(1);
  expect(JSON.parse(cli.lines[0]).mismatches.map((m: { field: string }) => m.field)).toEqual(['din', 'patient.weightKg']);
});
