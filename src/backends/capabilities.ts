/**
 * What a backend can do beyond get/set/delete, declared by its scheme (and by backends defined with
 * `defineBackend`): the flags a command or strategy checks before relying on them, so that a store
 * lacking one refuses with a {@link CacheCapabilityError} instead of giving a silently wrong answer.
 * @module
 */
import { CacheCapabilityError } from "../errors.js";

/**
 * The capability flags of a backend. `mem://`, `redis://`, `upstash://` and `deno-kv://` have every
 * one; `cloudflare-kv://` lists keys but has no atomic operation, no lock and no strong consistency;
 * `cloudflare-cache://` has only exact expiry.
 * @example
 * const kv: BackendCapabilities = { atomic: false, locks: false, listing: true, exactExpiry: true, strongConsistency: false };
 */
export interface BackendCapabilities {
  /** `incr`, `slidingIncr` and the tag sets (`tagAdd`/`tagPop`) are atomic across every client of the store: counters, rate limits, circuit breakers, `hit`, tags. */
  atomic: boolean;
  /** `setLock` (set if absent) and `unlock` (compare-and-delete) are atomic across clients: `lock`, `withLock`, `locked`, `lock: true`, `perf`. */
  locks: boolean;
  /** Keys can be listed by pattern: `scan`, `getMatch`, `deleteMatch`, `getKeysCount`, `clear`, glob `invalidate`. */
  listing: boolean;
  /** An entry reads as missing from the millisecond its expiry passes (not only when the store gets round to deleting it). */
  exactExpiry: boolean;
  /** A write acknowledged by the store is seen by every later read, from any client. */
  strongConsistency: boolean;
}

/** A capability flag's name. */
export type Capability = keyof BackendCapabilities;

/** Every capability: the built-in stores that have them all (memory, Redis, Upstash, Deno KV). */
export const ALL_CAPABILITIES: Readonly<BackendCapabilities> = Object.freeze({
  atomic: true,
  locks: true,
  listing: true,
  exactExpiry: true,
  strongConsistency: true,
});

/** What each capability is, and what to do without it, for error messages. */
const ADVICE: Readonly<Record<Capability, [what: string, instead: string]>> = {
  atomic: [
    "atomic operations",
    "keep counters, rate limits, circuit breakers and tags on a store that has them (mem://, redis://, upstash://, deno-kv://), e.g. routed by key prefix with setup(url, { prefix })",
  ],
  locks: [
    "atomic locks (set-if-absent and compare-and-delete)",
    "take locks on a store that has them (mem:// in one isolate; redis://, upstash://, deno-kv:// across processes), routed by key prefix with setup(url, { prefix }), or drop the lock",
  ],
  listing: [
    "listing keys by pattern",
    "delete keys by name (delete, deleteMany), or keep these keys on a store that lists them",
  ],
  exactExpiry: ["exact expiry", "use a store that expires entries exactly"],
  strongConsistency: [
    "strong consistency",
    "use a strongly consistent store (redis://, upstash://, deno-kv://) for what must be exact across processes",
  ],
};

/**
 * The error for `command` on a backend (scheme `backend`) that lacks `capability`; `why` says why
 * the store cannot (e.g. "Workers KV is eventually consistent").
 * @example
 * throw capabilityError("cloudflare-kv", "atomic", "incr", "Workers KV has no atomic read-modify-write");
 */
export function capabilityError(backend: string, capability: Capability, command: string, why?: string): CacheCapabilityError {
  const [what, instead] = ADVICE[capability];
  return new CacheCapabilityError(`${command} needs ${what}, which ${backend}:// does not have${why ? ` (${why})` : ""}: ${instead}`, backend, capability);
}
