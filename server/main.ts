// Starts the service: builds the app, creates the first admin on an empty database, listens, and
// shuts down gracefully (closing the database cleanly) on SIGTERM/SIGINT.
import { buildApp } from './app.js';
import { bootstrapAdmin } from './services/bootstrap.js';

const env = process.env;
const { app, ctx } = await buildApp({
  dbFile: env.CELLBATCH_DB ?? './data/cellbatch.db',
  training: env.CELLBATCH_TRAINING === '1',
  processesDir: env.CELLBATCH_PROCESSES_DIR,
  timeZone: env.CELLBATCH_TZ ?? 'UTC',
  patientIdPattern: env.CELLBATCH_PATIENT_ID_PATTERN,
  idleTimeoutMinutes: Number(env.CELLBATCH_IDLE_MINUTES ?? 15),
  passwordMaxAgeDays: Number(env.CELLBATCH_PASSWORD_DAYS ?? 180),
  logger: env.CELLBATCH_LOG !== '0',
}).catch((e: unknown) => {
  // A start refused for a reason the operator must fix (mode of the database, a setting): say it plainly.
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
try {
  await bootstrapAdmin(ctx, env.CELLBATCH_ADMIN_PASSWORD, (line) => console.log(line), { username: env.CELLBATCH_ADMIN_USERNAME, fullName: env.CELLBATCH_ADMIN_NAME });
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  await app.close();
  process.exit(1);
}

const port = Number(env.PORT ?? 3000);
await app.listen({ port, host: env.HOST ?? '0.0.0.0' });
console.log(`cellbatch ${ctx.config.training ? 'TRAINING MODE ' : ''}listening on port ${port}; API docs at /docs`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0), () => process.exit(1));
  });
}
