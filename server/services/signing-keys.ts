// GET /audit/keys: every key this app server trusts to sign the checkpoints (its own and those
// installed in its key folder's trusted/), with what the database's checkpoints table records of each,
// the key ids the table names that it does not trust, and the files in trusted/ that hold no key. Several app servers sign one chain of
// checkpoints (issue 15 item 3): an inspector on one server must see the key of another that signed
// part of the record, and whether every key the record names is one the site installed on purpose
// (21 CFR 11.10(a): what vouches for the record is open to review).
import type { AppContext } from '../context.js';
import type { KeyUse } from '../store/store.js';

const signed = (use: KeyUse | undefined) => (use ? { count: use.count, first: use.first, last: use.last } : { count: 0 });

export async function signingKeys(ctx: AppContext) {
  const uses = await ctx.store.checkpointsByKey();
  const useOf = new Map(uses.map((u) => [u.keyId, u]));
  const { keys: installed, unreadable } = ctx.integrity?.keys() ?? { keys: [], unreadable: [] };
  const own = ctx.integrity?.key;
  const items = installed.map((k) => ({
    id: k.id, algorithm: 'Ed25519' as const, publicKey: k.publicKeyPem, source: k.source,
    ...(k.file !== undefined && { file: k.file }),
    // Only the own key's creation is recorded (checkpoint-ed25519.json beside it, when the server generated it); a trusted key's file says nothing of it.
    ...(k.source === 'own' && own?.id === k.id && own.createdAt !== undefined && { createdAt: own.createdAt }),
    checkpoints: signed(useOf.get(k.id)),
  }));
  const trusted = new Set(installed.map((k) => k.id));
  const untrusted = uses.filter((u) => !trusted.has(u.keyId)).map((u) => ({ id: u.keyId, checkpoints: signed(u) }));
  return { items, untrusted, unreadable };
}
