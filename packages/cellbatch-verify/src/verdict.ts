// The verdict as plain text an inspector can paste into an inspection report: what file, its SHA-256,
// when it was verified, each check PASS or FAIL with its reason and places, what cannot be proven, and
// the overall verdict. (--json prints the same Verdict object for programs.)
import type { Verdict } from './verify.js';

/** At most this many places per failed check are listed; the count of the rest is given. */
const MAX_PLACES = 25;

export function verdictText(v: Verdict): string {
  const out: string[] = [];
  out.push(`cellbatch-verify ${v.version}: offline verification of a cellbatch PDF batch record`);
  out.push('');
  out.push(`File:          ${v.file.path}`);
  out.push(`SHA-256:       ${v.file.sha256}`);
  out.push(`Size:          ${v.file.bytes} bytes`);
  out.push(`Verified at:   ${v.verifiedAt} (clock of the computer that ran the verifier)`);
  if (v.record) {
    out.push(`Batch:         ${v.record.batchNumber}, DIN ${v.record.din}`);
    out.push(`Record:        ${v.record.format}, as of ${v.record.asOf}, time zone ${v.record.timeZone}, ${v.record.pages} pages${v.record.language ? ` (${v.record.language})` : ''}`);
    out.push(`Attachment:    record.json, SHA-256 ${v.record.attachmentSha256}`);
  }
  out.push('');
  if (v.verdict === 'UNUSABLE') {
    out.push(`CANNOT VERIFY: ${v.error}`);
    out.push('');
    out.push('VERDICT: UNUSABLE INPUT (exit status 2). Nothing was verified.');
    return `${out.join('\n')}\n`;
  }
  out.push('Checks:');
  for (const c of v.checks) {
    out.push(`  ${c.status.padEnd(7)} ${c.title}`);
    if (c.status !== 'FAIL') {
      if (c.detail) out.push(`          ${c.detail}`);
      continue;
    }
    for (const p of c.problems.slice(0, MAX_PLACES)) out.push(`          - ${p.place}: ${p.message}`);
    if (c.problems.length > MAX_PLACES) out.push(`          … and ${c.problems.length - MAX_PLACES} more (--json lists them all)`);
  }
  if (v.limits.length) {
    out.push('');
    out.push('Not proven by this file:');
    for (const l of v.limits) out.push(`  - ${l}`);
  }
  out.push('');
  const failed = v.checks.filter((c) => c.status !== 'PASS');
  out.push(v.verdict === 'PASS'
    ? `VERDICT: PASS. All ${v.checks.length} checks hold (exit status 0), within the limits above.`
    : `VERDICT: FAIL. ${failed.length} of ${v.checks.length} checks failed: ${failed.map((c) => c.id).join(', ')} (exit status 1). Do not rely on this copy of the record.`);
  return `${out.join('\n')}\n`;
}
