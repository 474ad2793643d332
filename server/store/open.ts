// Opens the store a deployment names: a SQLite file (the embedded default). PostgreSQL (a
// postgres:// address, issue 15) opens here too once its store exists.
import type { Store, StoreOptions } from './store.js';
import { openSqliteStore } from './sqlite/store.js';

export async function openStore(location: string, options: StoreOptions = {}): Promise<Store> {
  return openSqliteStore(location, options);
}
