// The harness's users and their passwords, and their argon2id hashes made once per test run
// (test/global-setup.ts), not once per test: ~20 argon2id operations per harness were most of its cost.
// The hashes are the product's own (server/auth/passwords.ts hashPassword, its parameters), one per
// user with its own salt, so every signature a test makes is checked by a real argon2id verification.
import { inject } from 'vitest';
import { hashPassword } from '../server/auth/passwords.js';

export const ADMIN_PASSWORD = 'Admin-Test-Password-1';
export const PASSWORD = 'Correct-Horse-Battery-9';

/** Users every test can sign with: two of each signing role, plus admin and inspector. */
export const ROSTER: [string, string[]][] = [
  ['op1', ['operator']], ['op2', ['operator']], ['sup1', ['supervisor']], ['sup2', ['supervisor']],
  ['qc1', ['qc']], ['qc2', ['qc']], ['qa1', ['qa']], ['qa2', ['qa']], ['insp1', ['inspector']],
];

export type SeedHashes = Record<string, string>;

declare module 'vitest' {
  export interface ProvidedContext { seedHashes: SeedHashes }
}

/** A hash of each seed user's password (admin's and the roster's), keyed by username. */
export async function makeSeedHashes(): Promise<SeedHashes> {
  const users: [string, string][] = [['admin', ADMIN_PASSWORD], ...ROSTER.map(([u]): [string, string] => [u, PASSWORD])];
  return Object.fromEntries(await Promise.all(users.map(async ([u, p]) => [u, await hashPassword(p)] as const)));
}

let local: Promise<SeedHashes> | undefined;
/** The run's hashes (provided by the global setup), or made in this process when no global setup ran. */
export function seedHashes(): Promise<SeedHashes> {
  let provided: SeedHashes | undefined;
  try { provided = inject('seedHashes'); } catch { provided = undefined; }
  return provided ? Promise.resolve(provided) : (local ??= makeSeedHashes());
}
