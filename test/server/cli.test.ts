// The command line checks a process definition without a server: exit 0 and OK for a good one,
// exit 1 naming step and field for a bad one, exit 2 with the usage for anything it does not know.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../server/cli.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(ROOT, 'test', 'workflows', 'fixtures');
const VALID = path.join(FIXTURES, 'site-process.json');
const BROKEN = path.join(FIXTURES, 'broken-process.json');

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tempFile(name: string, content: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellbatch-cli-'));
  temps.push(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

describe('cellbatch process check', () => {
  it('exits 0 and reports OK, with process id, version and hash, for a valid definition', () => {
    const r = runCli(['process', 'check', VALID]);
    expect(r.code).toBe(0);
    expect(r.lines.some((l) => l.includes('OK'))).toBe(true);
    expect(r.lines.join('\n')).toMatch(/site-nk-mini version 1 \(NK\), 3 steps, hash [0-9a-f]{64}/);
  });

  it('exits 1 and names the step and field for a broken definition', () => {
    const r = runCli(['process', 'check', BROKEN]);
    expect(r.code).toBe(1);
    const text = r.lines.join('\n');
    expect(text).toContain('step "culture"');
    expect(text).toContain('field "viability"');
    expect(text).toMatch(/lower limit 80 is above the upper limit 20/);
    expect(r.lines.some((l) => l.includes('OK'))).toBe(false);
  });

  it('exits 1 for a file that is not JSON', () => {
    const file = tempFile('not-json.json', 'id: site-nk-mini\nversion: 1\n');
    const r = runCli(['process', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.lines.join('\n')).toMatch(/cannot be read as JSON/);
  });

  it('exits 1 for a file that does not exist', () => {
    const r = runCli(['process', 'check', path.join(os.tmpdir(), 'cellbatch-no-such-file.json')]);
    expect(r.code).toBe(1);
  });

  it('exits 2 with the usage when given no command', () => {
    const r = runCli([]);
    expect(r.code).toBe(2);
    expect(r.lines.join('\n')).toMatch(/usage:/);
    expect(r.lines.join('\n')).toContain('process check FILE');
  });

  it('exits 2 with the usage when "process check" has no file', () => {
    expect(runCli(['process', 'check']).code).toBe(2);
  });

  it('exits 1 from the real command line for a broken definition, naming the step on stderr', () => {
    let status: number | null = 0;
    let stderr = '';
    try {
      execFileSync('npx', ['tsx', 'server/cli.ts', 'process', 'check', BROKEN], { cwd: ROOT, stdio: 'pipe', encoding: 'utf8' });
    } catch (e) {
      const err = e as { status: number | null; stderr: string };
      status = err.status;
      stderr = err.stderr;
    }
    expect(status).toBe(1);
    expect(stderr).toContain('step "culture", field "viability"');
  });

  it('exits 0 from the real command line for a valid definition', () => {
    const out = execFileSync('npx', ['tsx', 'server/cli.ts', 'process', 'check', VALID], { cwd: ROOT, stdio: 'pipe', encoding: 'utf8' });
    expect(out).toContain('OK');
  });
});
