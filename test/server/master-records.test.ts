// Master batch records under change control (21 CFR 211.186, Annex 11 §10), through HTTP: the
// built-ins are the initial effective versions; a new version is drafted from the definition JSON,
// submitted by its author, reviewed by a second person, approved by QA (a third), put into effect;
// batches start on the effective version and keep theirs; training may rehearse a draft; a comparison
// says what changed and which batches run which version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { carT } from '../../workflows/builtin/car-t.js';
import { allSteps } from '../../workflows/definition.js';
import { call, din, harness, recordState, sign, type Harness } from '../helpers.js';
import { owner } from '../owner.js';
import { pdfFile } from '../reports/pdf-tools.js';

let h: Harness;
/** The built-in version every fresh database starts with, and the next one a test drafts. */
const B = carT.version as number;
const N = B + 1;
beforeAll(async () => { h = await harness(); });
afterAll(() => h.close());

const v2 = () => {
  const def = structuredClone(carT) as any;
  def.version = N;
  const step = allSteps(def).find((s) => s.fields.some((f) => f.spec?.min !== undefined))!;
  const field = step.fields.find((f) => f.spec?.min !== undefined)!;
  field.spec = { ...field.spec, min: field.spec!.min! + 1 };
  step.fields.push({ name: 'operatorNote', label: { en: 'Operator note', vi: 'Ghi chú' }, kind: 'text', required: false });
  return { def, step: step.id, field: field.name };
};
const transition = (version: number, action: string, signer: string, session = signer, extra: Record<string, unknown> = {}) =>
  call(h, session, 'POST', `/processes/car-t/versions/${version}/transitions`, { action, reason: `${action} for the test`, signature: { ...sign(signer), ...extra } });

describe('master records', () => {
  let oldBatch: any;

  it('holds the built-ins as effective versions from the first start, audited', async () => {
    const r = await call(h, 'qa1', 'GET', '/processes/car-t/versions');
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([expect.objectContaining({ processId: 'car-t', version: B, status: 'effective', source: 'builtin', signatures: [] })]);
    const audit = await call(h, 'qa1', 'GET', '/audit?action=process.version-created&limit=10');
    expect(audit.body.items.map((a: any) => a.after.processId).sort()).toEqual(['car-t', 'nk']);
    oldBatch = (await call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(701).keyed, patient: { id: 'PT-701', weightKg: 70 } })).body;
    expect(oldBatch).toMatchObject({ processVersion: B, processStatus: 'effective' });
  });

  it('refuses a draft that fails the load checks, naming each problem by its JSON path; an operator may not draft; a used version number is 409', async () => {
    const before = await recordState(h);
    const bad = structuredClone(carT) as any;
    bad.version = N;
    bad.phases[0].steps[0].fields[0].computed = { pow: [2, 3] };
    const r = await call(h, 'sup1', 'POST', '/processes', bad);
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(r.body.errors).toEqual([expect.objectContaining({ field: 'phases.0.steps.0.fields.0.computed', message: expect.stringMatching(/unsupported operator "pow"/) })]);
    expect((await call(h, 'op1', 'POST', '/processes', v2().def)).status).toBe(403);
    const same = await call(h, 'sup1', 'POST', '/processes', carT);
    expect(same.status).toBe(409);
    expect(same.body.detail).toContain(`already has a version ${B}: a change is a new version (next: ${N})`);
    expect(await recordState(h)).toEqual(before);
  });

  it('drafts the next version; training rehearses it, marked as a draft', async () => {
    const r = await call(h, 'sup1', 'POST', '/processes', v2().def);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ processId: 'car-t', version: N, status: 'draft', source: 'api', createdBy: 'sup1' });
    expect((await call(h, 'op1', 'GET', '/processes')).body.find((p: any) => p.id === 'car-t').version).toBe(B);
    const rehearsal = await call(h, 'op1', 'POST', '/batches', { processId: 'car-t', processVersion: N, din: din(702).keyed, patient: { id: 'PT-702', weightKg: 70 } });
    expect(rehearsal.status, JSON.stringify(rehearsal.body)).toBe(201);
    expect(rehearsal.body).toMatchObject({ processVersion: N, processStatus: 'draft', training: true });
  });

  it('moves through submit, review, approval and effect with three different people, each signed with a reason', async () => {
    expect((await transition(N, 'approve', 'qa1')).status).toBe(409); // not yet submitted
    const submitted = await transition(N, 'submit', 'sup1');
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    expect(submitted.body.status).toBe('in_review');
    const early = await transition(N, 'approve', 'qa1');
    expect(early.status).toBe(409);
    expect(early.body.detail).toMatch(/no review signature yet/);
    const selfReview = await transition(N, 'review', 'sup1');
    expect(selfReview.status).toBe(403);
    expect(selfReview.body.detail).toBe('the author of a version cannot review it');
    const wrongMeaning = await transition(N, 'review', 'sup2', 'sup2', { meaning: 'approved' });
    expect(wrongMeaning.status).toBe(400);
    expect(wrongMeaning.body.errors).toEqual([expect.objectContaining({ field: 'signature.meaning' })]);
    expect((await transition(N, 'review', 'sup2')).status).toBe(201);
    const byReviewer = await transition(N, 'approve', 'sup2', 'qa1');
    expect(byReviewer.status).toBe(403); // a supervisor's signature cannot approve
    const approved = await transition(N, 'approve', 'qa1');
    expect(approved.status).toBe(201);
    expect(approved.body.status).toBe('approved');
    const effective = await transition(N, 'make-effective', 'qa2');
    expect(effective.status).toBe(201);
    expect(effective.body.signatures.map((s: any) => [s.meaning, s.username])).toEqual([['authored', 'sup1'], ['reviewed', 'sup2'], ['approved', 'qa1'], ['effective', 'qa2']]);
    const versions = (await call(h, 'qa1', 'GET', '/processes/car-t/versions')).body.items;
    expect(versions.map((v: any) => [v.version, v.status])).toEqual([[B, 'superseded'], [N, 'effective']]);
    expect((await transition(N, 'submit', 'sup1')).status).toBe(409); // locked: a change is a new version
  });

  it('starts new batches on the effective version; a running batch keeps its own', async () => {
    expect((await call(h, 'op1', 'GET', '/processes')).body.find((p: any) => p.id === 'car-t').version).toBe(N);
    const fresh = await call(h, 'op1', 'POST', '/batches', { processId: 'car-t', din: din(703).keyed, patient: { id: 'PT-703', weightKg: 70 } });
    expect(fresh.body).toMatchObject({ processVersion: N, processStatus: 'effective' });
    const old = await call(h, 'op1', 'GET', `/batches/${oldBatch.id}`);
    expect(old.body).toMatchObject({ processVersion: B, processStatus: 'superseded' });
  });

  it('marks a batch started on the draft DRAFT for good — in the view, the export, the review and the certificate of analysis, and on every page of each of its documents — and a batch started on the effective version nowhere', async () => {
    const batches = (await call(h, 'qa1', 'GET', '/batches?limit=50')).body.items as { id: string; processVersion: number; batchNumber: string }[];
    const rehearsal = batches.filter((b) => b.processVersion === N).map((b) => b.id);
    const [draftRun, effectiveRun] = await Promise.all(rehearsal.map(async (id) => (await call(h, 'qa1', 'GET', `/batches/${id}`)).body))
      .then((bs) => [bs.find((b) => b.draftProcess), bs.find((b) => !b.draftProcess)]);
    // The new version is effective now; the batch that rehearsed it while it was a draft stays marked.
    expect(draftRun).toMatchObject({ processVersion: N, processStatus: 'effective', processStatusAtStart: 'draft', draftProcess: true, training: true });
    expect(effectiveRun).toMatchObject({ processVersion: N, processStatus: 'effective', processStatusAtStart: 'effective', draftProcess: false });
    const exported = async (id: string) => (await call(h, 'qa1', 'GET', `/batches/${id}/export`)).body;
    expect((await exported(draftRun.id)).process).toMatchObject({ id: 'car-t', version: N, status: 'draft' });
    expect((await exported(effectiveRun.id)).process).toMatchObject({ version: N, status: 'effective' });
    // The JSON of the review (the evidence packet) and of the certificate of analysis say it too.
    expect((await call(h, 'qa1', 'GET', `/batches/${draftRun.id}/review`)).body.batch).toMatchObject({ draftProcess: true, processStatusAtStart: 'draft', training: true });
    expect((await call(h, 'op1', 'GET', `/batches/${draftRun.id}/coa`)).body).toMatchObject({ draftProcess: true, processStatusAtStart: 'draft', training: true });
    expect((await call(h, 'qa1', 'GET', `/batches/${effectiveRun.id}/review`)).body.batch).toMatchObject({ draftProcess: false, processStatusAtStart: 'effective' });
    expect((await call(h, 'op1', 'GET', `/batches/${effectiveRun.id}/coa`)).body).toMatchObject({ draftProcess: false, processStatusAtStart: 'effective' });
    const pagesOf = async (id: string, document: string, lang: 'en' | 'vi') => {
      const pdf = await h.app.inject({ method: 'GET', url: `/api/v1/batches/${id}/${document}?lang=${lang}`, headers: { authorization: `Bearer ${h.tokens.qa1}` } });
      expect(pdf.statusCode, `${document} ${pdf.body.slice(0, 200)}`).toBe(200);
      const f = pdfFile(pdf.rawPayload);
      try {
        return f.text().split('\f').filter((p) => p.trim()).map((p) => p.replace(/\s+/g, ' '));
      } finally {
        f.done();
      }
    };
    for (const document of ['record.pdf', 'review.pdf', 'coa.pdf']) {
      for (const lang of ['en', 'vi'] as const) {
        const pages = await pagesOf(draftRun.id, document, lang);
        const mark = lang === 'en' ? 'TRAINING · DRAFT' : 'ĐÀO TẠO · BẢN NHÁP';
        pages.forEach((p, i) => expect(p, `${document} ${lang} page ${i + 1}`).toContain(mark));
        expect(pages[0], `${document} ${lang}`).toContain(lang === 'en' ? 'DRAFT: run on a draft master record, not approved' : 'BẢN NHÁP: chạy theo hồ sơ gốc dự thảo, chưa được phê duyệt');
        expect(pages[0], `${document} ${lang}`).toContain(lang === 'en' ? 'TRAINING RECORD: not for clinical use' : 'HỒ SƠ ĐÀO TẠO: không dùng cho lâm sàng');
      }
      const plain = await pagesOf(effectiveRun.id, document, 'en');
      expect(plain.join('\n'), document).not.toMatch(/DRAFT/);
    }
  });

  it('compares two versions in words, with the running batches of each', async () => {
    const { step, field } = v2();
    const r = await call(h, 'qa1', 'GET', `/processes/car-t/versions/${B}/compare/${N}`);
    expect(r.status).toBe(200);
    expect(r.body.changes).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'spec', change: 'changed', step, field, text: expect.stringMatching(/: specification \S+ .*→ \S+/) }),
      expect.objectContaining({ kind: 'field', change: 'added', step, field: 'operatorNote', text: expect.stringMatching(/field "Operator note" \(operatorNote, text\) added/) }),
    ]));
    expect(r.body.impact.map((i: any) => i.version)).toEqual([B, N]);
    expect(r.body.impact[0].batches).toEqual([expect.objectContaining({ id: oldBatch.id, batchNumber: oldBatch.batchNumber, status: 'in_process' })]);
    expect(r.body.impact[1].batches).toHaveLength(2); // the rehearsal of the draft and the batch started on the effective version
    expect((await call(h, 'qa1', 'GET', `/processes/car-t/versions/${B}/compare/9`)).status).toBe(404);
  });
});

describe('the database locks a version\'s content', () => {
  it('refuses an UPDATE of a definition past draft, of a version\'s identity, a DELETE of a version and any change of its signatures', async () => {
    const db = owner(h.location);
    await expect(db.run("update process_versions set definition = '{}' where process_id = 'car-t'")).rejects.toThrow(/the content of a version never changes once it leaves draft/);
    await expect(db.run("update process_versions set hash = 'x' where process_id = 'nk'")).rejects.toThrow(/the content of a version never changes once it leaves draft/);
    await expect(db.run("update process_versions set created_by = 'someone' where process_id = 'nk'")).rejects.toThrow(/the identity of a version never changes/);
    await expect(db.run("delete from process_versions where process_id = 'nk'")).rejects.toThrow(/DELETE refused/);
    await expect(db.run("update process_version_signatures set reason = 'x'")).rejects.toThrow(/append-only/);
    await expect(db.run('delete from process_version_signatures')).rejects.toThrow(/append-only/);
  });
});

describe('GMP mode', () => {
  it('starts batches only on the effective version', async () => {
    const g = await harness({ training: false });
    try {
      const draft = await call(g, 'sup1', 'POST', '/processes', v2().def);
      expect(draft.status).toBe(201);
      const r = await call(g, 'op1', 'POST', '/batches', { processId: 'car-t', processVersion: N, din: din(704).keyed, patient: { id: 'PT-704', weightKg: 70 } });
      expect(r.status).toBe(409);
      expect(r.body.detail).toBe(`process car-t v${N} is draft: GMP batches start only on the effective version (v${B})`);
    } finally {
      await g.close();
    }
  });
});
