// The process definitions this server offers: the built-ins and a site's own folder
// (CELLBATCH_PROCESSES_DIR), all through the same checks. Machines are compiled once per content
// hash; a batch keeps the definition it started with, whatever versions are loaded later.
import fs from 'node:fs';
import path from 'node:path';
import { carT } from '../../workflows/builtin/car-t.js';
import { nk } from '../../workflows/builtin/nk.js';
import { checkDefinition, describeProblem } from '../../workflows/check.js';
import { compileProcess, type BatchMachine } from '../../workflows/compile.js';
import type { ProcessDefinition } from '../../workflows/definition.js';
import type { Store } from '../store/store.js';

export interface LoadedProcess { definition: ProcessDefinition; hash: string; machine: BatchMachine }

export class ProcessRegistry {
  private readonly byHash = new Map<string, LoadedProcess>();
  private readonly latest = new Map<string, LoadedProcess>();

  /** Adds a definition after its checks; throws with every problem named by step and field. */
  add(input: unknown, source: string): LoadedProcess {
    const result = checkDefinition(input);
    if (!result.ok) throw new Error(`${source}: ${result.problems.map(describeProblem).join('; ')}`);
    const loaded = this.remember(result.definition, result.hash);
    const current = this.latest.get(loaded.definition.id);
    if (current && current.definition.version === loaded.definition.version && current.hash !== loaded.hash) {
      throw new Error(`${source}: process ${loaded.definition.id} version ${loaded.definition.version} is already loaded with different content; issue a new version`);
    }
    if (!current || current.definition.version < loaded.definition.version) this.latest.set(loaded.definition.id, loaded);
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

export function loadProcesses(dir?: string): ProcessRegistry {
  const registry = new ProcessRegistry();
  registry.add(carT, 'built-in car-t');
  registry.add(nk, 'built-in nk');
  if (dir) {
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      const full = path.join(dir, file);
      let json: unknown;
      try {
        json = JSON.parse(fs.readFileSync(full, 'utf8'));
      } catch (e) {
        throw new Error(`${full}: not valid JSON (${(e as Error).message})`);
      }
      registry.add(json, full);
    }
  }
  return registry;
}

/**
 * A version is content: a file edited in place (same id and version, other content) would start new
 * batches on a master record that differs from the one earlier batches of that version used.
 */
export function assertVersionsUnchanged(store: Store, registry: ProcessRegistry) {
  for (const p of registry.list()) {
    const used = store.definitionHashes(p.definition.id, p.definition.version).filter((h) => h !== p.hash);
    if (used.length) {
      throw new Error(`process ${p.definition.id} version ${p.definition.version} was edited after batches used it (stored hash ${used[0].slice(0, 12)}…, loaded ${p.hash.slice(0, 12)}…); issue a new version instead`);
    }
  }
}
