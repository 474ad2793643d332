// What the signer saw is in the chain (issue 11, finding 2; 21 CFR 11.10(a), 211.188(b)). The
// inspector's finding, reproduced: a used lot's number or expiry edited in the database FILE was not
// detected, because entries held only the lot's internal id. Now every signed entry that names a lot
// or an instrument keeps (and hashes) what its signer saw, the view and the PDF show that, and
// verification names a lot or instrument row that disagrees with the chain by table, row and field.
import { afterEach, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { call, createBatch, harness, registerCatalogue, type Harness } from '../../helpers.js';
import { owner } from '../../owner.js';
import { BatchDriver, CART_PLAN } from '../lifecycle-driver.js';
import { pdfFile } from '../../reports/pdf-tools.js';

let h: Harness;
afterEach(() => h.discard());

it('R1 [11.10(a)]: a step keeps the lot and instrument as signed; an audited status change is not a mismatch, an edit in the file is, by table, row and field', async () => {
  h = await harness();
  const catalogue = await registerCatalogue(h, 'car-t');
  const d = new BatchDriver(h, await createBatch(h, 'car-t', 21), catalogue);
  await d.refresh();
  await d.run(CART_PLAN, 'activation');
  const selection = d.entriesOf('cd4-cd8-selection')[0];
  const buffer = catalogue.lots.buffer;
  const processor = catalogue.equipment['cell-processor'];
  const lot = (await call(h, 'qa1', 'GET', '/materials?type=buffer')).body.items[0];
  const instrument = (await call(h, 'qa1', 'GET', '/equipment')).body.items.find((q: any) => q.id === processor);
  expect(selection.used.bufferLot).toEqual({ kind: 'lot', id: buffer, type: 'buffer', name: lot.name, lotNumber: lot.lotNumber, expiresOn: lot.expiresOn, status: 'released' });
  expect(selection.used.cellProcessor).toEqual({ kind: 'equipment', id: processor, type: 'cell-processor', name: instrument.name, assetId: instrument.assetId, calibrationDueOn: instrument.calibrationDueOn });

  // QA quarantines the lot later (audited, with a reason): the entry still shows what was signed, and the record verifies.
  expect((await call(h, 'qa1', 'PATCH', `/materials/${buffer}`, { status: 'quarantined', reason: 'supplier recall notice' })).status).toBe(200);
  const after = (await call(h, 'qa1', 'GET', `/batches/${d.id}`)).body.entries.find((e: any) => e.id === selection.id);
  expect(after.used.bufferLot.status).toBe('released');
  const clean = await call(h, 'qa1', 'GET', '/audit/verify');
  expect(clean.body.valid, JSON.stringify(clean.body)).toBe(true);
  expect(clean.body.mismatches).toBeUndefined();

  await h.app.close();
  const db = owner(h.location);
  await db.run('update materials set lot_number = ?, expires_on = ? where id = ?', 'FORGED-LOT', '2099-12-31', buffer);
  await db.run('update equipment set calibration_due_on = ? where id = ?', '2099-12-31', processor);

  const { app } = await buildApp({ ...h.location, training: true, now: () => h.wall.now });
  try {
    const get = async (user: string, url: string) => app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { authorization: `Bearer ${h.tokens[user]}` } });
    const report = (await get('qa1', '/audit/verify')).json();
    expect(report.valid).toBe(false);
    expect(report.mismatches).toEqual(expect.arrayContaining([
      { table: 'materials', row: buffer, field: 'lotNumber', row_value: 'FORGED-LOT', chain_value: lot.lotNumber },
      { table: 'materials', row: buffer, field: 'expiresOn', row_value: '2099-12-31', chain_value: lot.expiresOn },
      { table: 'equipment', row: processor, field: 'calibrationDueOn', row_value: '2099-12-31', chain_value: instrument.calibrationDueOn },
    ]));
    expect(report.mismatches).toHaveLength(3);
    // The view and the PDF show what the signer saw, not the edited row.
    const view = (await get('qa1', `/batches/${d.id}`)).json();
    expect(view.entries.find((e: any) => e.id === selection.id).used.bufferLot.lotNumber).toBe(lot.lotNumber);
    const pdf = await get('qa1', `/batches/${d.id}/record.pdf`);
    expect(pdf.statusCode).toBe(200);
    const f = pdfFile(pdf.rawPayload);
    try {
      const text = f.text().replace(/\s+/g, ' ');
      expect(text).toContain(lot.lotNumber);
      expect(text).not.toContain('FORGED-LOT');
    } finally { f.done(); }
  } finally {
    await app.close();
  }
});
