// Master records in the chain (21 CFR 11.10(a), 11.70; Annex 11 §10). A process version and the
// signatures of its lifecycle live in tables outside the hash chains; each change of them writes a
// chained audit row that says what was written (the content hash, the status, the signature row). A
// version or a transition signature edited in the database FILE, behind the triggers, must make GET
// /audit/verify and `cellbatch verify` fail, naming table, row and field.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.js';
import { runCliAsync } from '../../../server/cli.js';
import { carT } from '../../../workflows/builtin/car-t.js';
import { nk as nkBuiltin } from '../../../workflows/builtin/nk.js';
import { definitionHash } from '../../../workflows/check.js';
import { call, harness, PASSWORD, sign, type Harness } from '../../helpers.js';

interface Mismatch { table: string; row: string; field: string; row_value: unknown; chain_value: unknown }
interface Report { valid: boolean; mismatches?: Mismatch[]; firstInvalid?: unknown }

let h: Harness;
let versionId: string;
const copies: string[] = [];

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

afterAll(() => {
  for (const dir of [h.dir, ...copies]) fs.rmSync(dir, { recursive: true, force: true });
});

/** A copy of the stopped server's folder (database, checkpoint log, keys), so each case tampers its own. */
function copy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-tamper-'));
  copies.push(dir);
  fs.cpSync(h.dir, dir, { recursive: true });
  return path.join(dir, 'cellbatch.db');
}

/** Runs an edit on the file with every trigger of `table` dropped, then puts them back as they were. */
function behindTriggers(dbFile: string, table: string, edit: (db: Database.Database) => void) {
  const db = new Database(dbFile);
  try {
    const triggers = db.prepare("select name, sql from sqlite_master where type = 'trigger' and tbl_name = ?").all(table) as { name: string; sql: string }[];
    expect(triggers.length).toBeGreaterThan(0);
    for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
    edit(db);
    for (const t of triggers) db.exec(t.sql);
  } finally {
    db.close();
  }
}

/** GET /audit/verify of a server started on the file, and `cellbatch verify --db FILE`. */
async function verify(dbFile: string): Promise<{ served: Report; cli: Report; code: number }> {
  const { app } = await buildApp({ dbFile, training: true, now: () => h.wall.now });
  try {
    const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'qa1', password: PASSWORD } });
    const r = await app.inject({ method: 'GET', url: '/api/v1/audit/verify', headers: { authorization: `Bearer ${login.json().token}` } });
    expect(r.statusCode, r.body).toBe(200);
    const cli = await runCliAsync(['verify', '--db', dbFile, '--keys', path.join(path.dirname(dbFile), 'keys')]);
    return { served: r.json(), cli: JSON.parse(cli.lines[0]) as Report, code: cli.code };
  } finally {
    await app.close();
  }
}

const signatureSeq = (dbFile: string, meaning: string) => {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare('select seq from process_version_signatures where version_id = ? and meaning = ?').pluck().get(versionId, meaning) as number;
  } finally {
    db.close();
  }
};

describe('master records held to the chain', () => {
  it('verifies an untouched record: drafted, edited, submitted, reviewed, approved and effective, with the built-ins superseded', async () => {
    const { served, cli, code } = await verify(copy());
    expect(served.valid, JSON.stringify(served)).toBe(true);
    expect(served.mismatches).toBeUndefined();
    expect(code).toBe(0);
    expect(cli.valid).toBe(true);
  });

  it('names a transition signature whose signer, name or reason was edited in the file', async () => {
    const dbFile = copy();
    const seq = signatureSeq(dbFile, 'approved');
    behindTriggers(dbFile, 'process_version_signatures', (db) => {
      db.prepare("update process_version_signatures set username = 'qa2', printed_name = 'Test QA2', reason = 'approved after all' where seq = ?").run(seq);
    });
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
    const dbFile = copy();
    const reviewed = signatureSeq(dbFile, 'reviewed');
    const authored = signatureSeq(dbFile, 'authored');
    let added = 0;
    behindTriggers(dbFile, 'process_version_signatures', (db) => {
      db.prepare("update process_version_signatures set signed_at = '2020-01-01T00:00:00.000Z', user_id = 'someone-else' where seq = ?").run(reviewed);
      db.prepare('delete from process_version_signatures where seq = ?').run(authored);
      added = Number(db.prepare("insert into process_version_signatures (version_id, action, meaning, user_id, username, printed_name, reason, signed_at) values (?, 'review', 'reviewed', 'x', 'qa2', 'Test QA2', 'a second review', '2026-03-02T08:00:00.000Z')").run(versionId).lastInsertRowid);
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

  it('names a version whose status, content or content hash was edited in the file', async () => {
    const dbFile = copy();
    behindTriggers(dbFile, 'process_versions', (db) => {
      // The superseded built-in made effective again; the effective version's content rewritten with a
      // matching hash; the draft's content changed without its audited PUT.
      db.prepare("update process_versions set status = 'effective' where process_id = 'car-t' and version = ?").run(carT.version);
      const def = JSON.parse(db.prepare('select definition from process_versions where id = ?').pluck().get(versionId) as string);
      def.title.en = 'CAR-T, rewritten in the file';
      db.prepare('update process_versions set definition = ?, hash = ? where id = ?').run(JSON.stringify(def), definitionHash(def), versionId);
      const nk = JSON.parse(db.prepare("select definition from process_versions where process_id = 'nk' and version = ?").pluck().get(nkBuiltin.version + 1) as string);
      nk.phases[0].steps[0].required = false;
      db.prepare("update process_versions set definition = ? where process_id = 'nk' and version = ?").run(JSON.stringify(nk), nkBuiltin.version + 1);
    });
    const { served, cli } = await verify(dbFile);
    expect(served.valid).toBe(false);
    const named = served.mismatches!.map((m) => `${m.table} ${m.row === versionId ? 'car-t v2' : m.field === 'status' ? 'car-t v1' : 'nk v2'} ${m.field}`);
    expect(named.sort()).toEqual(['process_versions car-t v1 status', 'process_versions car-t v2 hash', 'process_versions nk v2 definition']);
    expect(served.mismatches).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'status', row_value: 'effective', chain_value: 'superseded' })]));
    expect(cli.mismatches).toEqual(served.mismatches);
  });
});
