// The first administrator, created on an empty database (API.md "Start-up"): a named person, so that
// every account-management act in the audit trail is attributable (21 CFR 11.10(e), ALCOA attributable).
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import type { AppContext } from '../context.js';
import { createUser } from './accounts.js';
import { passwordProblem } from '../auth/passwords.js';

export interface FirstAdmin {
  /** CELLBATCH_ADMIN_USERNAME; API.md fixes the default `admin`. */
  username?: string;
  /** CELLBATCH_ADMIN_NAME: the printed name of the person who administers accounts. */
  fullName?: string;
}

/** The printed name when none is configured: only a training database may go without one. */
export const TRAINING_ADMIN_NAME = 'Training Administrator';

export async function bootstrapAdmin(ctx: AppContext, password: string | undefined, print: (line: string) => void, who: FirstAdmin = {}) {
  if (await ctx.store.countUsers() > 0) return;
  const username = who.username?.trim() || 'admin';
  // `npm ci && npm start` must work with no settings: without CELLBATCH_ADMIN_NAME a GMP database's
  // first administrator is named after the operating-system account that started the server (who
  // installed it), with a warning, so the account is still attributable to a person's login.
  let fullName = who.fullName?.trim() || (ctx.config.training ? TRAINING_ADMIN_NAME : undefined);
  if (!fullName) {
    fullName = `${userInfo().username} (operating-system account)`;
    print(`WARNING: CELLBATCH_ADMIN_NAME is not set: the first administrator is named "${fullName}". Set CELLBATCH_ADMIN_NAME to the printed name of the person who administers accounts before the first start of a GMP database.`);
  }
  if (!/^[A-Za-z0-9._-]{2,64}$/.test(username)) throw new Error(`CELLBATCH_ADMIN_USERNAME "${username}" is not a username: 2–64 letters, digits, dot, dash or underscore.`);
  // A start refused for the password names the setting and the rule (README: a setting that cannot be
  // used stops the start with a message naming it); createUser's 400 said only "does not meet the policy".
  const weak = password ? passwordProblem(password, username) : null;
  if (weak) throw new Error(`CELLBATCH_ADMIN_PASSWORD cannot be the first administrator's password: ${weak} (or leave it unset for a generated temporary password).`);
  const generated = !password;
  const pw = password ?? `Adm-${randomBytes(9).toString('base64url')}`;
  await createUser(ctx, null, { username, fullName, roles: ['admin'], password: pw }, generated);
  if (generated) print(`First administrator created: ${fullName}, username "${username}", temporary password "${pw}" (shown once; it must be changed at first login).`);
  else print(`First administrator ${fullName} ("${username}") created with the password in CELLBATCH_ADMIN_PASSWORD.`);
}
