// The process definitions this server offers: the built-ins and a site's own folder
// (CELLBATCH_PROCESSES_DIR), all through the same checks. Machines are compiled once per content
// hash; a batch keeps the definition it started with, whatever versions are loaded later.
import fs from 'node:fs';
import path from 'node:path';
import { carT } from '../../workflows/builtin/car-t.js';
import { nk } from '../../workflows/builtin/nk.js';
import { checkDefinition, describeProblem } from '../../workflows/check.js';
import { compileProcess, type BatchMachine } from '../../workflows/compile.js';
import { z } from 'zod';
import { BUILTIN_PRODUCTS, ProductTypeSchema, type ProcessDefinition, type ProductType } from '../../workflows/definition.js';
import type { Store } from '../store/store.js';

export interface LoadedProcess { definition: ProcessDefinition; hash: string; machine: BatchMachine }

/** The site's product catalogue beside its definitions: [{type, prefix, title?}]. */
export const PRODUCTS_FILE = 'products.json';

export class ProcessRegistry {
  private readonly byHash = new Map<string, LoadedProcess>();
  private readonly latest = new Map<string, LoadedProcess>();
  /** Every definition added from code or the site folder, with where it came from: the start imports them as master records. */
  readonly added: { loaded: LoadedProcess; source: 'builtin' | 'site-folder' }[] = [];

  /** The product catalogue: the built-in types and the site's own. */
  constructor(readonly products: readonly ProductType[] = BUILTIN_PRODUCTS) {}

  /** The batch-number prefix of a product type (a pinned definition's type may have left the catalogue). */
  prefixOf(productType: string): string {
    return this.products.find((p) => p.type === productType)?.prefix ?? productType.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 8);
  }

  /** Adds a definition after its checks; throws with every problem named by step and field. */
  add(input: unknown, source: string): LoadedProcess {
    const result = checkDefinition(input, { products: this.products });
    if (!result.ok) throw new Error(`${source}: ${result.problems.map(describeProblem).join('; ')}`);
    const loaded = this.remember(result.definition, result.hash);
    const current = this.latest.get(loaded.definition.id);
    if (current && current.definition.version === loaded.definition.version && current.hash !== loaded.hash) {
      throw new Error(`${source}: process ${loaded.definition.id} version ${loaded.definition.version} is already loaded with different content; issue a new version`);
    }
    if (!current || current.definition.version < loaded.definition.version) this.latest.set(loaded.definition.id, loaded);
    this.added.push({ loaded, source: source.startsWith('built-in') ? 'builtin' : 'site-folder' });
    return loaded;
  }

  /** A definition pinned by a batch (from the store), compiled on first use. */
  remember(definition: ProcessDefinition, hash: string): LoadedProcess {
    let loaded = this.byHash.get(hash);
    if (!loaded) {
      loaded = { definition, hash, machine: compileProcess(definition) };
      this.byHash.set(hash, loaded);
    }
    return loaded;
  }

  /** The version new batches start on: the effective master record (server/processes/master-records.ts). */
  setCurrent(loaded: LoadedProcess) {
    this.latest.set(loaded.definition.id, loaded);
  }
  /** A process whose effective version was withdrawn offers nothing to new batches. */
  clearCurrent(id: string) {
    this.latest.delete(id);
  }

  byContentHash(hash: string) {
    return this.byHash.get(hash);
  }
  current(id: string) {
    return this.latest.get(id);
  }
  list() {
    return [...this.latest.values()].sort((a, b) => a.definition.id.localeCompare(b.definition.id));
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** The built-in catalogue plus the site's products.json; a type or a prefix means one thing only. */
export function productCatalogue(file?: string): ProductType[] {
  if (!file || !fs.existsSync(file)) return [...BUILTIN_PRODUCTS];
  const parsed = z.array(ProductTypeSchema).safeParse(readJson(file));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(catalogue)'}: ${i.message}`).join('; ')}`);
  const all = [...BUILTIN_PRODUCTS];
  for (const p of parsed.data) {
    const same = all.find((q) => q.type === p.type);
    if (same && same.prefix !== p.prefix) throw new Error(`${file}: product type ${p.type} has the batch-number prefix ${same.prefix}, not ${p.prefix}`);
    const clash = all.find((q) => q.prefix === p.prefix && q.type !== p.type);
    if (clash) throw new Error(`${file}: the batch-number prefix ${p.prefix} of ${p.type} is already that of ${clash.type}`);
    if (!same) all.push(p);
  }
  return all;
}

export function loadProcesses(dir?: string): ProcessRegistry {
  const registry = new ProcessRegistry(productCatalogue(dir && path.join(dir, PRODUCTS_FILE)));
  registry.add(carT, 'built-in car-t');
  registry.add(nk, 'built-in nk');
  if (dir) {
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== PRODUCTS_FILE).sort()) {
      const full = path.join(dir, file);
      registry.add(readJson(full), full);
    }
  }
  return registry;
}

/**
 * A version is content: a file edited in place (same id and version, other content) would start new
 * batches on a master record that differs from the one earlier batches of that version used.
 */
export async function assertVersionsUnchanged(store: Store, registry: ProcessRegistry) {
  for (const p of registry.list()) {
    const used = (await store.definitionHashes(p.definition.id, p.definition.version)).filter((h) => h !== p.hash);
    if (used.length) {
      throw new Error(`process ${p.definition.id} version ${p.definition.version} was edited after batches used it (stored hash ${used[0].slice(0, 12)}…, loaded ${p.hash.slice(0, 12)}…); issue a new version instead`);
    }
  }
}
