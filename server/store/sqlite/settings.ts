// Settings kept in the SQLite database.
import { eq } from 'drizzle-orm';
import type { SettingStore } from '../store.js';
import * as t from '../tables.js';
import type { SqliteConnection } from './connection.js';

export function sqliteSettings(c: SqliteConnection): SettingStore {
  const { db } = c;
  return {
    getSetting: (key) => c.run(() => db.select().from(t.settings).where(eq(t.settings.key, key)).get()?.value),
    putSetting: (key, value) => c.run(() => void db.insert(t.settings).values({ key, value }).onConflictDoUpdate({ target: t.settings.key, set: { value } }).run()),
  };
}
