/**
 * A child process for test/strategies/chaos-lock-holder.test.ts: takes four locks and holds them until it
 * is killed. `node --import tsx test/support/child-chaos-lock.ts` with
 *
 * - `CACHE_URL` (`redis://…` or `upstash+http://…`), `TOKEN` (upstash), `NAMESPACE`, `KEY`, `LOCK_TTL` (ms);
 * - the locks, each with ttl `LOCK_TTL`:
 *   - `S`: the `locked` strategy on key `<KEY>:S` (stored as `<NAMESPACE>:lock:<KEY>:S`);
 *   - `L`: `cache.lock("<KEY>:L")` (stored as `<NAMESPACE>:<KEY>:L`);
 *   - `W`: `cache.withLock("<KEY>:W")` (stored as `<NAMESPACE>:<KEY>:W`);
 *   - `C`: `cache({ key: "<KEY>:C", lock: true, lockTtl })` (its lock stored as `<NAMESPACE>:<KEY>:C:lock`);
 *   each body runs forever (the lock is never released by this process).
 *
 * Prints `holding` once the four bodies run (so the four locks are held), then waits to be killed.
 */
import { Cache } from "../../src/index.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`child-chaos-lock: ${name} is required`);
  return value;
};
const key = env("KEY");
const ttl = Number(env("LOCK_TTL"));
const cache = new Cache("holder").setup(env("CACHE_URL"), {
  namespace: env("NAMESPACE"),
  timeout: 5000,
  ...(process.env.TOKEN ? { token: process.env.TOKEN } : {}),
});
await cache.init();

const running = new Set<string>();
/** A body that never returns; reports once all four are running. */
const hold = (name: string) => (): Promise<never> => {
  running.add(name);
  if (running.size === 4) process.stdout.write("holding\n");
  return new Promise<never>(() => {});
};

void cache.locked({ ttl, key: `${key}:S` })(hold("S"))();
void cache.lock(`${key}:L`, ttl).then(hold("L"));
void cache.withLock(`${key}:W`, ttl, hold("W"));
void cache.cache({ ttl: "1m", key: `${key}:C`, lock: true, lockTtl: ttl })(hold("C"))();

// Keep the process alive (the pending promises alone do not) until the parent kills it.
setInterval(() => {}, 1 << 30);
