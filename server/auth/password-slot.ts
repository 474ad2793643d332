// The per-address slot a request holds for its password work (plugins/password-limits.ts) bounds that
// work, not the write that follows it. Held until the response closed, a slot also covered the
// request's write transaction and reply: with the default thread pool of two and one address's share
// of two, a lab behind one address (or 20 terminals behind a proxy) left the argon2 threads idle
// while the main thread wrote, and signed at ~0.8 × what the hash allows (docs/performance.md).
// A login or a signature therefore gives its slot back as soon as its password has been checked;
// a change of password (several checks: the current one, then the history) keeps it to the end.
// The request's handler runs inside a scope that carries the release (AsyncLocalStorage follows
// it across awaits); outside a request's scope there is nothing to give back.
import { AsyncLocalStorage } from 'node:async_hooks';

const slots = new AsyncLocalStorage<{ release: () => void }>();

/** Runs `next` (the rest of the request: its handler) in the scope of the slot `release` frees. */
export function inPasswordSlot(release: () => void, next: () => void): void {
  slots.run({ release }, next);
}

/** The password work of the current request is done: its address slot goes to the next waiting check. */
export function passwordChecked(): void {
  slots.getStore()?.release();
}
