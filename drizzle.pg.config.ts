import { defineConfig } from 'drizzle-kit';

// The PostgreSQL schema (server/store/postgres/tables.ts) and its migrations; drizzle.config.ts is SQLite's.
export default defineConfig({
  dialect: 'postgresql',
  schema: './server/store/postgres/tables.ts',
  out: './server/store/migrations-pg',
  casing: 'snake_case',
});
