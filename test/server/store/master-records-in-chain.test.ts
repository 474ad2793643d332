// Master records in the chain (21 CFR 11.10(a), 11.70; Annex 11 §10). A process version and the
// signatures of its lifecycle live in tables outside the hash chains; each change of them writes a
// chained audit row that says what was written (the content hash, the status, the signature row). A
// version or a transition signature edited in the database behind the triggers (the SQLite file, or PostgreSQL as its owner), must make GET
// /audit/verify and `cellbatch verify` fail, naming table, row and field.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { runCliAsync } from '../../../server/cli.js';
import { carT } from '../../../workflows/builtin/car-t.js';
import { nk as nkBuiltin } from '../../../workflows/builtin/nk.js';
import { definitionHash } from '../../../workflows/check.js';
import { call, harness, PASSWORD, sign, type Harness } from '../../helpers.js';
import { cliRecordArgs, copyRecord, owner, type OwnerSql, type RecordLocation } from '../../owner.js';

interface Mismatch { table: string; row: string; field: string; row_value: unknown; chain_value: unknown }
interface Report { valid: boolean; mismatches?: Mismatch[]; firstInvalid?: unknown }

let h: Harness;
let versionId: string;
const copies: Awaited<ReturnType<typeof copyRecord>>[] = [];

beforeAll(async () => {
  h = await harness();
  const def = structuredClone(carT) as any;
  def.version = carT.version + 1;
  const created = await call(h, 'sup1', 'POST', '/processes', def);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  versionId = created.body.id;
  def.title = { ...def.title, en: 'CAR-T, corrected draft' };
  const edited = await h.app.inject({ method: 'PUT', url: `/api/v1/processes/car-t/versions/${def.version}`, payload: def, headers: { authorization: `Bearer ${h.tokens.sup1}`, 'if-match': `"${created.body.hash}"` } });
  expect(edited.statusCode, edited.body).toBe(200);
  for (const [action, signer] of [['submit', 'sup1'], ['review', 'sup2'], ['approve', 'qa1'], ['make-effective', 'qa2']]) {
    const r = await call(h, signer, 'POST', `/processes/car-t/versions/${def.version}/transitions`, { action, reason: `${action}: for the tampering test`, signature: sign(signer) });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  const nk = structuredClone(nkBuiltin) as any;
  nk.version = nkBuiltin.version + 1;
  const nkDraft = await call(h, 'sup1', 'POST', '/processes', nk);
  expect(nkDraft.status, JSON.stringify(nkDraft.body)).toBe(201);
  await h.app.close();
});

afterAll(async () => {
  for (const c of copies) await c.drop();
  await h.discard();
});

/** A copy of the stopped server's record (database, checkpoint log, keys), so each case tampers its own. */
async function copy(): Promise<RecordLocation> {
  const c = await copyRecord({ ...h.location, dir: h.dir });
  copies.push(c);
  return c;
}

/** Runs an edit with every trigger of `table` out of the way, as a forger with the database would (test/owner.ts). */
const behindTriggers = (at: RecordLocation, table: string, edit: (db: OwnerSql) => Promise<void>) => owner(at).behindTriggers(table, edit);

/** GET /audit/verify of a server started on the record, and `cellbatch verify` on it. */
async function verify(at: RecordLocation): Promise<{ served: Report; cli: Report; code: number }> {
  const { app } = await buildApp({ ...at, training: true, now: () => h.wall.now });
  try {
    const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'qa1', password: PASSWORD } });
    const r = await app.inject({ method: 'GET', url: '/api/v1/audit/verify', headers: { authorization: `Bearer ${login.json().token}` } });
    expect(r.statusCode, r.body).toBe(200);
    const cli = await runCliAsync(['verify', ...cliRecordArgs(at), '--keys', path.join(path.dirname(at.dbFile), 'keys')]);
    return { served: r.json(), cli: JSON.parse(cli.lines[0]) as Report, code: cli.code };
  } finally {
    await app.close();
  }
}

const signatureSeq = async (at: RecordLocation, meaning: string) =>
  (await owner(at).value<number>('select seq from process_version_signatures where version_id = ? and meaning = ?', versionId, meaning))!;

describe('master records held to the chain', () => {
  it('verifies an untouched record: drafted, edited, submitted, reviewed, approved and effective, with the built-ins superseded', async () => {
    const { served, cli, code } = await verify(await copy());
    expect(served.valid, JSON.stringify(served)).toBe(true);
    expect(served.mismatches).toBeUndefined();
    expect(code).toBe(0);
    expect(cli.valid).toBe(true);
  });

  it('names a transition signature whose signer, name or reason was edited in the database', async () => {
    const dbFile = await copy();
    const seq = await signatureSeq(dbFile, 'approved');
    await behindTriggers(dbFile, 'process_version_signatures', (db) =>
      db.run("update process_version_signatures set username = 'qa2', printed_name = 'Test QA2', reason = 'approved after all' where seq = ?", seq));
    const { served, cli, code } = await verify(dbFile);
    expect(served.valid).toBe(false);
    expect(served.firstInvalid).toBeUndefined(); // the chains themselves are intact: the row outside them is what changed
    expect(served.mismatches).toEqual([
      { table: 'process_version_signatures', row: String(seq), field: 'username', row_value: 'qa2', chain_value: 'qa1' },
      { table: 'process_version_signatures', row: String(seq), field: 'reason', row_value: 'approved after all', chain_value: 'approve: for the tampering test' },
      { table: 'process_version_signatures', row: String(seq), field: 'printedName', row_value: 'Test QA2', chain_value: 'Test QA1' },
    ]);
    expect(code).toBe(1);
    expect(cli.mismatches).toEqual(served.mismatches);
  });

  it('names a signature moved in time or to another signer id, one deleted, and one added', async () => {
    const dbFile = await copy();
    const reviewed = await signatureSeq(dbFile, 'reviewed');
    const authored = await signatureSeq(dbFile, 'authored');
    let added = 0;
    await behindTriggers(dbFile, 'process_version_signatures', async (db) => {
      await db.run("update process_version_signatures set signed_at = '2020-01-01T00:00:00.000Z', user_id = 'someone-else' where seq = ?", reviewed);
      await db.run('delete from process_version_signatures where seq = ?', authored);
      added = Number(await db.value("insert into process_version_signatures (version_id, action, meaning, user_id, username, printed_name, reason, signed_at) values (?, 'review', 'reviewed', 'x', 'qa2', 'Test QA2', 'a second review', '2026-03-02T08:00:00.000Z') returning seq", versionId));
    });
    const { served } = await verify(dbFile);
    expect(served.valid).toBe(false);
    expect(served.mismatches).toEqual(expect.arrayContaining([
      { table: 'process_version_signatures', row: String(authored), field: 'seq', row_value: null, chain_value: authored },
      expect.objectContaining({ table: 'process_version_signatures', row: String(reviewed), field: 'userId', row_value: 'someone-else' }),
      expect.objectContaining({ table: 'process_version_signatures', row: String(reviewed), field: 'signedAt', row_value: '2020-01-01T00:00:00.000Z' }),
      { table: 'process_version_signatures', row: String(added), field: 'seq', row_value: added, chain_value: null },
    ]));
    expect(served.mismatches).toHaveLength(4);
  });

  it('names a version whose status, content or content hash was edited in the database', async () => {
    const dbFile = await copy();
    await behindTriggers(dbFile, 'process_versions', async (db) => {
      // The superseded built-in made effective again; the effective version's content rewritten with a
      // matching hash; the draft's content changed without its audited PUT.
      await db.run("update process_versions set status = 'effective' where process_id = 'car-t' and version = ?", carT.version);
      const def = JSON.parse((await db.value<string>('select definition from process_versions where id = ?', versionId))!);
      def.title.en = 'CAR-T, rewritten in the database';
      await db.run('update process_versions set definition = ?, hash = ? where id = ?', JSON.stringify(def), definitionHash(def), versionId);
      const nk = JSON.parse((await db.value<string>("select definition from process_versions where process_id = 'nk' and version = ?", nkBuiltin.version + 1))!);
      nk.phases[0].steps[0].required = false;
      await db.run("update process_versions set definition = ? where process_id = 'nk' and version = ?", JSON.stringify(nk), nkBuiltin.version + 1);
    });
    const { served, cli } = await verify(dbFile);
    expect(served.valid).toBe(false);
    const named = served.mismatches!.map((m) => `${m.table} ${m.row === versionId ? 'car-t v2' : m.field === 'status' ? 'car-t v1' : 'nk v2'} ${m.field}`);
    expect(named.sort()).toEqual(['process_versions car-t v1 status', 'process_versions car-t v2 hash', 'process_versions nk v2 definition']);
    expect(served.mismatches).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'status', row_value: 'effective', chain_value: 'superseded' })]));
    expect(cli.mismatches).toEqual(served.mismatches);
  });
});
