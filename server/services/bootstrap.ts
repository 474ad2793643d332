// The first administrator, created on an empty database (API.md "Start-up").
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../context.js';
import { createUser } from './accounts.js';

export async function bootstrapAdmin(ctx: AppContext, password: string | undefined, print: (line: string) => void) {
  if (ctx.store.countUsers() > 0) return;
  const generated = !password;
  const pw = password ?? `Adm-${randomBytes(9).toString('base64url')}`;
  await createUser(ctx, null, { username: 'admin', fullName: 'Administrator', roles: ['admin'], password: pw }, generated);
  if (generated) print(`First administrator created: username "admin", temporary password "${pw}" (shown once; it must be changed at first login).`);
  else print('First administrator "admin" created with the password in CELLBATCH_ADMIN_PASSWORD.');
}
