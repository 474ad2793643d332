// The signed checkpoint log survives crashes at any moment of its own writes, and a server that
// crashed before signing its heads signs them at the next start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CHAIN_TABLES, CheckpointLog, loadOrCreateKey, checkCheckpointLog, type Head } from '../../../server/store/checkpoints.js';
import { buildApp } from '../../../server/app.js';
import { createBatch, harness, type Harness } from '../../helpers.js';

const dirs: string[] = [];
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-cp-')); dirs.push(d); return d; };
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const heads = (n: number) => Object.fromEntries(CHAIN_TABLES.map((t) => [t, { seq: n, hash: String(n).padStart(64, '0') }])) as Record<(typeof CHAIN_TABLES)[number], Head>;

function logIn(dir: string) {
  const key = loadOrCreateKey(path.join(dir, 'keys'), () => new Date('2026-03-02T08:00:00Z'));
  const keys = new Map([[key.id, key.publicKeyPem]]);
  return { log: new CheckpointLog(path.join(dir, 'db.checkpoints.jsonl'), key, path.join(dir, 'keys', 'checkpoint-latest.json')), keys };
}

describe('checkpoint log under crashes', () => {
  it('accepts a log one checkpoint ahead of its mark (a crash between the two writes) and goes on signing', () => {
    const dir = tmp();
    const { log, keys } = logIn(dir);
    log.append(heads(1), 'interval', new Date());
    const mark = fs.readFileSync(log.markFile!, 'utf8');
    log.append(heads(2), 'interval', new Date());
    fs.writeFileSync(log.markFile!, mark); // as if killed before the mark moved
    expect(checkCheckpointLog(log.read(), keys, log.mark())).toBeNull();
    expect(log.append(heads(3), 'interval', new Date())?.n).toBe(3);
    expect(log.damaged).toBeNull();
  });

  it('ignores a last line torn by a crash while it was written', () => {
    const dir = tmp();
    const { log, keys } = logIn(dir);
    log.append(heads(1), 'interval', new Date());
    fs.appendFileSync(log.file, '{"n":2,"at":"2026-'); // no newline: the write was cut
    expect(log.read().map((c) => c.n)).toEqual([1]);
    expect(checkCheckpointLog(log.read(), keys, log.mark())).toBeNull();
  });

  it('reports an unreadable mark as damage instead of failing to start', () => {
    const dir = tmp();
    const { log, keys } = logIn(dir);
    log.append(heads(1), 'interval', new Date());
    fs.writeFileSync(log.markFile!, '');
    expect(checkCheckpointLog(log.read(), keys, log.mark())).toMatch(/cannot be read/);
    expect(log.append(heads(2), 'interval', new Date())).toBeUndefined();
    expect(log.damaged).toMatch(/cannot be read/);
  });

  it('signs at start the heads a crashed run left unsigned', async () => {
    h = await harness();
    await createBatch(h, 'car-t', 1);
    const log = h.ctx.integrity!.log;
    const before = log.read().length;
    // A crash: the store is left without its shutdown checkpoint (closed directly, not through the app).
    await h.ctx.store.close();
    const { app, ctx } = await buildApp({ ...h.location, training: true });
    try {
      const last = ctx.integrity!.log.last()!;
      expect(ctx.integrity!.log.read().length).toBe(before + 1);
      expect(last.reason).toBe('start');
      expect(last.heads).toEqual(await ctx.store.heads());
      expect(ctx.recordCheck.report?.valid).toBe(true);
    } finally {
      await app.close();
    }
  });
});
