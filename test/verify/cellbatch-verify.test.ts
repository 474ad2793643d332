// The offline verifier (packages/cellbatch-verify) as an inspector runs it: the command on a PDF the
// server issued, as a child process, with its exit status and verdict. A released record verifies; a
// record whose attachment, page text, checkpoints or rows were tampered with fails, naming the place;
// what is not a record is unusable input (21 CFR 11.10(a), (b); Annex 11 §7, §8).
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign as edSign, createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../server/app.js';
import { GENESIS, legacyChainHash } from '../../server/store/chain.js';
import { advance, call, createBatch, harness, PASSWORD, recordReceipt, registerCatalogue, sign, type Harness } from '../helpers.js';
import { owner } from '../owner.js';
import { BatchDriver, CART_PLAN, CART_RELEASE_VALUES } from '../server/lifecycle-driver.js';
import { pdfFile } from '../reports/pdf-tools.js';
import { renderBatchRecord } from '../../reports/batch-record.js';
import type { BatchRecordExport } from '../../schemas/export.js';
import { editPageText, removeAttachment, replaceAttachment } from './tamper.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'packages/cellbatch-verify/bin/cellbatch-verify.mjs');

let h: Harness;
let d: BatchDriver;
let dir: string;
let released: Buffer;
let releasedVi: Buffer;
let record: BatchRecordExport;
let recordJson: Buffer;
let siteKey: string;

interface Verdict { verdict: string; exitCode: number; error?: string; checks: { id: string; status: string; problems: { place: string; message: string }[] }[] }

/** Runs the command on the bytes (written to a file), as an inspector would: the verdict as JSON, and as text when asked. */
function verify(bytes: Buffer, ...args: string[]) {
  const file = path.join(dir, `record-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}.pdf`);
  fs.writeFileSync(file, bytes);
  const asText = args.includes('--text');
  const rest = args.filter((a) => a !== '--text');
  const json = spawnSync(process.execPath, [BIN, '--json', file, ...rest], { encoding: 'utf8' });
  const text = asText ? spawnSync(process.execPath, [BIN, file, ...rest], { encoding: 'utf8' }) : undefined;
  if (text) expect(text.status, text.stderr).toBe(json.status);
  return { status: json.status, stdout: text?.stdout ?? '', stderr: json.stderr, verdict: JSON.parse(json.stdout) as Verdict };
}

const failed = (v: Verdict) => v.checks.filter((c) => c.status !== 'PASS').map((c) => c.id);
const problems = (v: Verdict, id: string) => v.checks.find((c) => c.id === id)?.problems ?? [];
const clone = (): BatchRecordExport => JSON.parse(recordJson.toString());
const bytesOf = (doc: BatchRecordExport) => Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
/** A whole new PDF drawn from an edited record by the record's own renderer: pages, Keywords and attachment agree. */
const redrawn = (doc: BatchRecordExport) => renderBatchRecord({ record: doc, recordJson: bytesOf(doc), lang: 'en' });

/**
 * A forger's edit of the released record, run through the verifier, which must fail it (exit status 1):
 * `redrawn`, the whole PDF drawn again from the edited record (pages, Keywords and attachment agree);
 * `reattached`, the edited JSON put in the released PDF in place of its attachment.
 */
async function tampered(how: 'redrawn' | 'reattached', edit: (doc: BatchRecordExport) => void, ...args: string[]) {
  const doc = clone();
  edit(doc);
  const r = verify(how === 'redrawn' ? await redrawn(doc) : replaceAttachment(released, bytesOf(doc)), ...args);
  expect(r.status, r.stdout).toBe(1);
  return { ...r, doc };
}

/** Cuts the record's last entry, its signatures and the audit rows from its time on (as a forger hiding the disposition would). */
function cutLastEntry(doc: BatchRecordExport) {
  const last = doc.entries.pop()!;
  const sigIds = new Set(last.signatures.map((x) => x.id));
  doc.chains.entries.rows = doc.chains.entries.rows.filter((r) => r.seq !== last.seq);
  doc.chains.signatures.rows = doc.chains.signatures.rows.filter((r) => !sigIds.has(r.cells[1] as string));
  const cut = doc.audit.filter((a) => a.at >= last.recordedAt).map((a) => a.seq);
  doc.audit = doc.audit.filter((a) => !cut.includes(a.seq));
  doc.chains.audit_log.rows = doc.chains.audit_log.rows.filter((r) => !cut.includes(r.seq));
  delete doc.disposition;
  return { last, cut };
}

beforeAll(async () => {
  // The command runs the built program: build it from the sources under test.
  execFileSync(process.execPath, [path.join(ROOT, 'packages/cellbatch-verify/build.mjs')]);
  if (!fs.existsSync(path.join(ROOT, 'node_modules/pdfjs-dist/package.json'))) throw new Error('pdfjs-dist is not installed: run npm install (the workspace package cellbatch-verify depends on it)');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-verify-'));
  h = await harness();
  d = new BatchDriver(h, await createBatch(h, 'car-t', 1), await registerCatalogue(h, 'car-t'));
  await d.run(CART_PLAN);
  const sample = d.entriesOf('starting-material-sample')[0];
  const correction = await d.correct(sample.id, { viability: 93 }, 'Transcription error: the counter read 93 %');
  expect(correction.status).toBe(201);
  expect((await d.verify(correction.body.entry.id, 'op2')).status).toBe(201); // released only once verified again
  for (const [stepId, values] of Object.entries(CART_RELEASE_VALUES)) expect((await d.record(stepId, values, 'qc1')).status).toBe(201);
  expect((await call(h, 'qa1', 'POST', `/batches/${d.id}/review`, { comment: 'Reviewed by exception.', signature: { username: 'qa1', password: PASSWORD } })).status).toBe(201);
  await advance(h, 1); // the disposition is the record's latest row, alone at its time
  expect((await call(h, 'qa2', 'POST', `/batches/${d.id}/disposition`, { decision: 'release', signature: { username: 'qa2', password: PASSWORD } })).status).toBe(201);
  const get = async (lang: string) => (await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/record.pdf?lang=${lang}`, headers: { authorization: `Bearer ${h.tokens.insp1}` } })).rawPayload;
  released = await get('en');
  releasedVi = await get('vi');
  const f = pdfFile(released);
  recordJson = f.attachment('record.json');
  f.done();
  record = JSON.parse(recordJson.toString());
  siteKey = path.join(dir, 'site-key.pem');
  fs.writeFileSync(siteKey, h.ctx.integrity!.key.publicKeyPem);
}, 180_000);

afterAll(async () => {
  await h?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a released record', () => {
  it('verifies: every check PASS, exit status 0, a verdict naming the file, its SHA-256 and the time of verification', () => {
    const r = verify(released, '--text');
    expect(r.status, r.stdout).toBe(0);
    expect(r.verdict.verdict).toBe('PASS');
    expect(failed(r.verdict)).toEqual([]);
    expect(r.verdict.checks.map((c) => c.id)).toEqual([
      'attachment', 'format', 'row-hashes', 'links', 'signature-links', 'document-vs-rows', 'checkpoints', 'seal', 'server-integrity', 'completeness',
      'pages-frame', 'pages-cover', 'pages-entries', 'pages-signatures', 'pages-appendix',
    ]);
    expect(r.stdout).toContain(`SHA-256:       ${createHash('sha256').update(released).digest('hex')}`);
    expect(r.stdout).toMatch(/Verified at: {3}\d{4}-\d{2}-\d{2}T/);
    expect(r.stdout).toContain(`Batch:         ${d.batch.batchNumber}, DIN ${d.batch.din} ${d.batch.dinCheck}`);
    expect(r.stdout).toMatch(/^ {2}PASS {4}every signature as printed/m);
    expect(r.stdout).toContain('Not proven by this file:');
    expect(r.stdout).toContain('Every row of the batch is proven by the batch seal');
    expect(r.stdout).toMatch(/VERDICT: PASS\. All 15 checks hold/);
  });

  it('verifies in Vietnamese too, and against the key the site published (--key)', () => {
    expect(verify(releasedVi).status).toBe(0);
    const r = verify(released, '--key', siteKey, '--text');
    expect(r.status, r.stdout).toBe(0);
    expect(r.verdict.checks.find((c) => c.id === 'site-key')?.status).toBe('PASS');
    expect(r.stdout).not.toContain('compare this key id with the key the site published');
  });

  it('a record drawn again from its own attachment verifies (the renderer and the verifier read alike)', async () => {
    expect(verify(await redrawn(clone())).status).toBe(0);
  });
});

describe('an edited attachment', () => {
  it('fails when a value is changed in entries[].payload and the file re-embedded: the Keywords, the hashed cells and the pages disagree', async () => {
    const e = record.entries.find((x) => x.stepId === 'apheresis-receipt')!;
    const r = await tampered('reattached', (doc) => { (doc.entries.find((x) => x.id === e.id)!.payload.values as Record<string, unknown>).volume = 250; }, '--text');
    expect(failed(r.verdict)).toEqual(expect.arrayContaining(['attachment', 'document-vs-rows', 'pages-cover', 'pages-entries']));
    expect(problems(r.verdict, 'attachment')[0].place).toBe('PDF Keywords');
    expect(problems(r.verdict, 'document-vs-rows')).toContainEqual({ place: `entries seq ${e.seq} (entry ${e.batchSeq}) field payload.values.volume`, message: expect.stringMatching(/the document says 250, the hashed row \d+/) });
    expect(problems(r.verdict, 'pages-entries').map((p) => p.place)).toContainEqual(expect.stringMatching(new RegExp(`^page \\d+, entry ${e.batchSeq} \\(entries seq ${e.seq}\\) field volume$`)));
    expect(r.stdout).toMatch(/VERDICT: FAIL\. \d+ of \d+ checks failed: attachment, /);
  });

  it('fails when the whole PDF is drawn again from the edited record: only the hashed cells tell', async () => {
    const e = record.entries.find((x) => x.stepId === 'apheresis-receipt')!;
    const r = await tampered('redrawn', (doc) => { (doc.entries.find((x) => x.id === e.id)!.payload.values as Record<string, unknown>).transportTemperature = 9; });
    expect(failed(r.verdict)).toEqual(['document-vs-rows']);
    expect(problems(r.verdict, 'document-vs-rows')[0].place).toBe(`entries seq ${e.seq} (entry ${e.batchSeq}) field payload.values.transportTemperature`);
  });

  it('fails when the batch\'s identity is changed and the PDF drawn again: the hashed batch-created entry says otherwise', async () => {
    const r = await tampered('redrawn', (doc) => { doc.batch.din = doc.batch.din.replace(/\d$/, (x) => String((Number(x) + 1) % 10)); });
    expect(failed(r.verdict)).toEqual(['document-vs-rows']);
    expect(problems(r.verdict, 'document-vs-rows')[0]).toEqual({ place: 'batch.din', message: expect.stringContaining(`the hashed batch-created entry (entries seq ${record.entries[0].seq} (entry 1, batch-created)) "${record.batch.din}"`) });
  });

  it('reads DRAFT on every page of a record said to run on a draft master record, and finds that the hashed entry says otherwise', async () => {
    const r = await tampered('redrawn', (doc) => { doc.process.status = 'draft'; });
    expect(failed(r.verdict)).toEqual(['document-vs-rows']);
    expect(problems(r.verdict, 'document-vs-rows')).toEqual([{ place: 'process.status', message: expect.stringContaining('the document says "draft"') }]);
  });

  it('fails when the cells are edited too: the row no longer matches its hash', async () => {
    const row = record.chains.audit_log.rows[3];
    const r = await tampered('redrawn', (doc) => {
      doc.chains.audit_log.rows[3].cells[doc.chains.audit_log.columns.indexOf('reason')] = 'edited';
      doc.audit.find((a) => a.seq === row.seq)!.reason = 'edited';
    });
    expect(failed(r.verdict)).toEqual(['row-hashes']);
    expect(problems(r.verdict, 'row-hashes')).toEqual([{ place: `audit_log seq ${row.seq}`, message: expect.stringMatching(/was altered after it was written/) }]);
  });

  it('fails when a signature is moved to another entry: its entry hash is not that entry\'s', async () => {
    const sig = record.chains.signatures.rows[0];
    const r = await tampered('reattached', (doc) => {
      const at = doc.chains.signatures.columns.indexOf('entry_id');
      doc.chains.signatures.rows[0].cells[at] = doc.entries.find((e) => e.kind === 'step' && e.id !== sig.cells[at])!.id;
    });
    expect(problems(r.verdict, 'signature-links')).toContainEqual({ place: `signatures seq ${sig.seq}`, message: expect.stringMatching(/the signed entry was changed/) });
  });
});

describe('edited page text', () => {
  it('fails when a signer\'s printed name is changed on a page, naming the page and entry', () => {
    const receipt = record.entries.find((x) => x.stepId === 'apheresis-receipt')!;
    const r = verify(editPageText(released, 'Test OP1 (op1) · performed', 'Test OP2 (op1) · performed'));
    expect(r.status).toBe(1);
    expect(failed(r.verdict)).toEqual(['pages-signatures']);
    expect(problems(r.verdict, 'pages-signatures')[0]).toEqual({
      place: expect.stringMatching(new RegExp(`^page 2, entry ${receipt.batchSeq} \\(entries seq ${receipt.seq}\\) signature `)),
      message: expect.stringContaining('"Test OP1 (op1) · performed · 2026-03-02 08:00:00 UTC"'),
    });
  });

  it('fails when a printed value is changed, naming the page, entry and field', () => {
    const r = verify(editPageText(released, 'Volume', 'Volumf'));
    expect(r.status).toBe(1);
    expect(failed(r.verdict)).toEqual(['pages-entries']);
    expect(problems(r.verdict, 'pages-entries')[0].place).toMatch(/^page 2, entry 2 \(entries seq \d+\) field volume$/);
  });

  it('fails when the batch number is changed on the cover', () => {
    const n = d.batch.batchNumber as string;
    const r = verify(editPageText(released, n, `${n.slice(0, -1)}${n.endsWith('2') ? '3' : '2'}`));
    expect(r.status).toBe(1);
    expect(problems(r.verdict, 'pages-cover')[0].place).toBe('page 1: Batch number');
  });
});

describe('a forged checkpoint', () => {
  it('fails when the signed heads are changed (and the PDF drawn again): the signature does not verify', async () => {
    const cp = record.checkpoints[0];
    const r = await tampered('redrawn', (doc) => { doc.checkpoints[0].heads.entries = { seq: cp.heads.entries.seq + 1, hash: 'f'.repeat(64) }; });
    expect(problems(r.verdict, 'checkpoints')).toContainEqual({ place: `checkpoint ${cp.n}`, message: expect.stringMatching(/signature does not verify/) });
  });

  it('fails when the signature itself is changed', async () => {
    const cp = record.checkpoints[0];
    const r = await tampered('reattached', (doc) => {
      const sig = Buffer.from(cp.signature, 'base64');
      sig[0] ^= 1;
      doc.checkpoints[0].signature = sig.toString('base64');
    });
    expect(problems(r.verdict, 'checkpoints')).toContainEqual({ place: `checkpoint ${cp.n}`, message: expect.stringMatching(/signature does not verify/) });
  });

  it('re-signed with another key: passes on the key in the record, fails against the key the site published', async () => {
    const doc = clone();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const keyId = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
    const canonical = (v: unknown): unknown => (Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v);
    for (const cp of doc.checkpoints) {
      cp.keyId = keyId;
      const { signature: _, ...body } = cp;
      cp.signature = edSign(null, Buffer.from(JSON.stringify(canonical(body))), privateKey).toString('base64');
    }
    doc.publicKeys = [{ id: keyId, algorithm: 'Ed25519', publicKeyPem: pem }];
    const seal = doc.seal!;
    seal.statement.checkpoint.hash = createHash('sha256').update(JSON.stringify(canonical(doc.checkpoints[doc.checkpoints.length - 1]))).digest('hex');
    seal.keyId = keyId;
    seal.signature = edSign(null, Buffer.from(JSON.stringify(canonical(seal.statement))), privateKey).toString('base64');
    const forged = await redrawn(doc);
    expect(verify(forged).status).toBe(0);
    const r = verify(forged, '--key', siteKey);
    expect(r.status).toBe(1);
    expect(failed(r.verdict)).toEqual(['site-key']);
    expect(problems(r.verdict, 'site-key')[0]).toEqual({ place: `checkpoint ${doc.checkpoints[0].n}`, message: `it is signed with key ${keyId}; the site's published key is ${h.ctx.integrity!.key.id}` });
    expect(problems(r.verdict, 'site-key')).toContainEqual({ place: 'seal', message: `the batch seal is signed with key ${keyId}, not the site's published key` });
  });
});

describe('rows cut short', () => {
  it('fails when the last rows are cut from the attachment: the record\'s date is behind, and the pages print what it lacks', async () => {
    const r = await tampered('reattached', cutLastEntry);
    const { last, cut } = cutLastEntry(clone()); // what the edit cut
    expect(problems(r.verdict, 'completeness')).toContainEqual({ place: 'asOf', message: expect.stringMatching(/rows after .* were cut off/) });
    expect(problems(r.verdict, 'pages-entries')).toContainEqual({ place: expect.stringMatching(/^page \d+$/), message: `the table of other entries prints entry ${last.batchSeq}, which the attachment does not hold` });
    expect(problems(r.verdict, 'pages-appendix')).toContainEqual({ place: expect.stringMatching(/^page \d+$/), message: `the audit trail prints audit row ${cut[0]}, which the attachment does not hold` });
  });

  it('fails when an entry in the middle is left out, even from a PDF drawn again: entry numbers have a gap', async () => {
    const gone = record.entries.find((e) => e.stepId === 'culture-check' || (e.kind === 'step' && e.batchSeq > 10))!;
    const r = await tampered('redrawn', (doc) => {
      doc.entries = doc.entries.filter((e) => e.id !== gone.id);
      doc.chains.entries.rows = doc.chains.entries.rows.filter((row) => row.seq !== gone.seq);
      for (const s of gone.signatures) doc.chains.signatures.rows = doc.chains.signatures.rows.filter((row) => row.cells[1] !== s.id);
    });
    const next = r.doc.entries.find((e) => e.batchSeq === gone.batchSeq + 1)!;
    expect(problems(r.verdict, 'completeness')).toContainEqual({ place: `entries seq ${next.seq}`, message: expect.stringContaining(`entry ${gone.batchSeq} is missing`) });
  });
});

describe('the batch seal', () => {
  /** The record without its last entry, the signatures of it and the audit rows from its time on; dated by what is left. */
  const cutTail = () => {
    const doc = clone();
    const { last } = cutLastEntry(doc);
    doc.batch.status = 'qa_review';
    doc.asOf = [...doc.entries.map((e) => e.recordedAt), ...doc.audit.map((a) => a.at)].sort().at(-1)!;
    return { doc, last };
  };

  it('finds a tail of rows cut from a PDF drawn again, dated again and consistent in every other way: the sealed rows are missing', async () => {
    const { doc, last } = cutTail();
    const r = verify(await redrawn(doc));
    expect(r.status, r.stdout).toBe(1);
    expect(problems(r.verdict, 'seal')).toContainEqual({ place: `entries seq ${last.seq}`, message: 'the sealed row is missing from the record: rows were cut' });
    expect(problems(r.verdict, 'seal')).toContainEqual({ place: 'seal.statement.asOf', message: `it seals the record as of ${record.asOf}; the record is dated ${doc.asOf}` });
  });

  it('finds a row rewritten with its hash recomputed, where no link or signed head reaches it', async () => {
    const doc = clone();
    const rows = doc.chains.audit_log.rows;
    const heads = new Set(doc.checkpoints.map((c) => c.heads.audit_log.seq));
    const row = rows.find((x, i) => rows[i + 1] && rows[i + 1].seq !== x.seq + 1 && !heads.has(x.seq) && doc.audit.find((a) => a.seq === x.seq)!.reason === null)!;
    const reasonAt = doc.chains.audit_log.columns.indexOf('reason');
    row.cells[reasonAt] = 'rewritten';
    row.hash = createHash('sha256').update(JSON.stringify([row.prevHash, ...row.cells])).digest('hex');
    doc.audit.find((a) => a.seq === row.seq)!.reason = 'rewritten';
    doc.seal!.statement.rows.audit_log.find((x) => x.seq === row.seq)!.hash = row.hash; // the forger cannot re-sign it
    const r = verify(await redrawn(doc));
    expect(r.status).toBe(1);
    expect(failed(r.verdict)).toEqual(['seal']);
    expect(problems(r.verdict, 'seal')).toEqual([{ place: 'seal', message: expect.stringMatching(/signature does not verify/) }]);
    // Without the seal, nothing in the file shows it: the limit the verdict states.
    const unsealed = structuredClone(doc);
    delete unsealed.seal;
    const plain = verify(await redrawn(unsealed), '--text');
    expect(plain.status).toBe(0);
    expect(plain.stdout).toContain('The record carries no batch seal');
  });

  it('accepts a record made before the seal (no seal field), saying what it could not prove; --require-seal fails it', async () => {
    const doc = clone();
    delete doc.seal;
    const old = await redrawn(doc);
    const r = verify(old, '--text');
    expect(r.status, r.stdout).toBe(0);
    expect(r.verdict.checks.map((c) => c.id)).not.toContain('seal');
    expect(r.stdout).toMatch(/A row is proven inside the signed chain here only when consecutive rows of this record lead from it to a signed head; for .* rows they do not/);
    const strict = verify(old, '--require-seal');
    expect(strict.status).toBe(1);
    expect(problems(strict.verdict, 'seal')).toEqual([{ place: 'seal', message: 'the record carries no batch seal (--require-seal)' }]);
  });
});

describe('unusable input', () => {
  it('exits 2 for a file that is not a PDF, a PDF without record.json, and a record.json that is not JSON', async () => {
    const notPdf = verify(Buffer.from('{"format":"cellbatch.batch-record/1"}'), '--text');
    expect(notPdf.status).toBe(2);
    expect(notPdf.verdict).toMatchObject({ verdict: 'UNUSABLE', exitCode: 2, error: expect.stringContaining('not a PDF') });
    expect(notPdf.stdout).toContain('VERDICT: UNUSABLE INPUT (exit status 2)');

    const bare = verify(removeAttachment(released));
    expect(bare.status).toBe(2);
    expect(bare.verdict.error).toMatch(/no attached record\.json/);

    const coa = (await h.app.inject({ method: 'GET', url: `/api/v1/batches/${d.id}/coa.pdf`, headers: { authorization: `Bearer ${h.tokens.qa1}` } })).rawPayload;
    expect(verify(coa).verdict.error).toMatch(/no attached record\.json/);

    const garbled = verify(replaceAttachment(released, Buffer.from('not json')));
    expect(garbled.status).toBe(2);
    expect(garbled.verdict.error).toMatch(/not JSON/);
  });

  it('exits 2 with its usage for a missing file or an unknown option', () => {
    const missing = spawnSync(process.execPath, [BIN, path.join(dir, 'nothing.pdf')], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot be read/);
    const option = spawnSync(process.execPath, [BIN, '--frobnicate'], { encoding: 'utf8' });
    expect(option.status).toBe(2);
    expect(option.stderr).toMatch(/unknown option --frobnicate[\s\S]*Usage: cellbatch-verify/);
  });
});

describe('a database written before migration 0003 (rows hashed in the old form)', () => {
  it('verifies a record whose rows are in the legacy form', async () => {
    const old = await harness();
    let app: Awaited<ReturnType<typeof buildApp>>['app'] | undefined;
    try {
      const created = await createBatch(old, 'car-t', 7);
      const receipt = await recordReceipt(old, created, 7);
      const sample = await call(old, 'op1', 'POST', `/batches/${created.id}/steps/starting-material-sample`, {
        values: { wbcConcentration: 25, viability: 85, cd3Positive: 55 }, signature: sign('op1'), expectedVersion: receipt.batch.version,
      });
      expect(sample.status).toBe(201);
      expect((await call(old, 'op2', 'POST', `/batches/${created.id}/entries/${sample.body.entry.id}/verify`, { signature: sign('op2') })).status).toBe(201);
      // Every row rewritten as the code before migration 0003 hashed it (as test/server/store/verification.test.ts does).
      await old.app.close();
      const chains = ['entries', 'signatures', 'audit_log'];
      await owner(old.location).behindTriggers([...chains, 'checkpoints'], async (db) => {
        // The old heads were never signed in this form: the checkpoints begin again.
        await db.run('delete from checkpoints');
        const shapes: Record<string, (r: any) => Record<string, unknown>> = {
          entries: (r) => ({ seq: r.seq, id: r.id, batchId: r.batch_id, batchSeq: r.batch_seq, kind: r.kind, stepId: r.step_id, payload: JSON.parse(r.payload), recordedAt: r.recorded_at, actorId: r.actor_id, training: Boolean(r.training) }),
          signatures: (r) => ({ seq: r.seq, id: r.id, entryId: r.entry_id, entryHash: r.entry_hash, userId: r.user_id, username: r.username, printedName: r.printed_name, meaning: r.meaning, signedAt: r.signed_at }),
          audit_log: (r) => ({ seq: r.seq, at: r.at, userId: r.user_id, action: r.action, entity: r.entity, entityId: r.entity_id, batchId: r.batch_id, before: r.before, after: r.after, reason: r.reason }),
        };
        const entryHash = new Map<string, string>();
        for (const table of chains) {
          let prev = GENESIS;
          for (const r of await db.rows<any>(`select * from ${table} order by seq`)) {
            const row = table === 'signatures' ? { ...r, entry_hash: entryHash.get(r.entry_id) } : r;
            const hash = legacyChainHash(prev, shapes[table](row));
            await db.run(`update ${table} set prev_hash = ?, hash = ?${table === 'signatures' ? ', entry_hash = ?, entry_seq = NULL' : ''} where seq = ?`,
              ...(table === 'signatures' ? [prev, hash, row.entry_hash, r.seq] : [prev, hash, r.seq]));
            if (table === 'entries') entryHash.set(r.id, hash);
            prev = hash;
          }
        }
        const heads = Object.fromEntries(await Promise.all(chains.map(async (t) => [t, await db.value<number>(`select max(seq) from ${t}`)])));
        // A SQLite file has this setting since migration 0003; a PostgreSQL database only when a legacy record was moved into it.
        await db.run("insert into settings (key, value) values ('chain.legacy-heads', ?) on conflict (key) do update set value = excluded.value", JSON.stringify(heads));
      });
      fs.rmSync(path.join(old.dir, 'keys', 'checkpoint-latest.json'), { force: true });

      ({ app } = await buildApp({ ...old.location, training: true, now: () => old.wall.now }));
      const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'qa1', password: PASSWORD } });
      const pdf = await app.inject({ method: 'GET', url: `/api/v1/batches/${created.id}/record.pdf`, headers: { authorization: `Bearer ${login.json().token}` } });
      expect(pdf.statusCode).toBe(200);
      const r = verify(pdf.rawPayload);
      expect(r.status, JSON.stringify(r.verdict.checks.filter((c) => c.status !== 'PASS'))).toBe(0);
      expect((r.verdict.checks.find((c) => c.id === 'row-hashes') as any).detail).toMatch(/legacy/);
    } finally {
      await app?.close();
      await old.discard();
    }
  });
});
