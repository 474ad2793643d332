// Starts the service: reads and checks the settings (server/settings.ts; a bad one stops the start with
// a message and exit code 1), builds the app, creates the first admin on an empty database, listens,
// and shuts down gracefully (closing the database cleanly) on SIGTERM/SIGINT.
// stdout carries the request log; what a person must read (the generated admin password, warnings)
// goes to stderr, so that a log collector reading stdout never stores a password (docs/deployment.md).
import fs from 'node:fs';
import path from 'node:path';
import { buildApp } from './app.js';
import { bootstrapAdmin } from './services/bootstrap.js';
import { defaultKeyDir } from './services/integrity.js';
import { keyInsideDatabaseFolder, parseSettings, SettingsError, type Settings } from './settings.js';

let settings: Settings;
try {
  settings = parseSettings(process.env);
} catch (e) {
  if (!(e instanceof SettingsError)) throw e;
  console.error(e.message);
  process.exit(1);
}

const keyDir = settings.keyDir ?? defaultKeyDir(settings.dbFile);
if (keyInsideDatabaseFolder(settings.dbFile, keyDir)) {
  console.error(`WARNING: the checkpoint signing key (${path.resolve(keyDir)}) lies inside the database's folder: whoever can rewrite the database can reach the key that proves it unaltered. Set CELLBATCH_KEY_DIR to storage the database's administrator cannot write (docs/deployment.md).`);
}

const { app, ctx } = await buildApp({
  dbFile: settings.dbFile,
  databaseUrl: settings.databaseUrl,
  training: settings.training,
  processesDir: settings.processesDir,
  timeZone: settings.timeZone,
  patientIdPattern: settings.patientIdPattern,
  idleTimeoutMinutes: settings.idleTimeoutMinutes,
  sessionMaxHours: settings.sessionMaxHours,
  passwordMaxAgeDays: settings.passwordMaxAgeDays,
  keyDir,
  // Served at once whatever the record's size; verified in full in the background, then on schedule.
  awaitVerification: false,
  // Likewise the lists' read model of an upgraded database: filled in the background (services/projection.ts).
  awaitReadModel: false,
  verifyEveryHours: settings.verifyEveryHours,
  logger: settings.logger,
  trustProxy: settings.trustProxy,
  secureCookies: settings.secureCookies,
  https: settings.tls && { cert: fs.readFileSync(settings.tls.cert), key: fs.readFileSync(settings.tls.key) },
}).catch((e: unknown) => {
  // A start refused for a reason the operator must fix (mode of the database, a setting): say it plainly.
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
const env = process.env;
try {
  await bootstrapAdmin(ctx, env.CELLBATCH_ADMIN_PASSWORD, (line) => console.error(line), { username: env.CELLBATCH_ADMIN_USERNAME, fullName: env.CELLBATCH_ADMIN_NAME });
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  await app.close();
  process.exit(1);
}

await app.listen({ port: settings.port, host: settings.host });
// Served, but recording nothing (Annex 11 §7.1): say so, before the listening line, where whoever started it looks, not only in
// GET /healthz and every refused write. A database deleted or replaced beside the key folder that
// signed the old one's heads lands here too.
const gate = ctx.recordCheck.writes;
if (gate.state === 'refused') {
  console.error(`WARNING: every write is refused (503 record-tail-altered): ${gate.detail}. The key folder ${path.resolve(keyDir)} holds the checkpoints this record must agree with: investigate with \`npm run cellbatch -- verify\` and restore the last good backup; a new, empty record needs a key folder of its own (docs/deployment.md).`);
}
const scheme = settings.tls ? 'https' : 'http';
console.log(`cellbatch ${ctx.config.training ? 'TRAINING MODE ' : ''}listening on ${scheme}://${settings.host}:${settings.port}; API docs at /docs`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0), () => process.exit(1));
  });
}

