// Opens the store a deployment names: a SQLite file (the embedded default) or a PostgreSQL database
// (a postgres:// address, issue 15: server/store/postgres/).
import type { Store, StoreOptions } from './store.js';
import { openSqliteStore } from './sqlite/store.js';
import { isPostgresUrl } from './postgres/database.js';
import { openPostgresStore } from './postgres/store.js';

export async function openStore(location: string, options: StoreOptions = {}): Promise<Store> {
  return isPostgresUrl(location) ? openPostgresStore(location, options) : openSqliteStore(location, options);
}
