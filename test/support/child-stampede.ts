/**
 * A child process for the cross-process lock tests and the stampede bench:
 * `node --import tsx test/support/child-stampede.ts` with
 *
 * - `REDIS_URL`, `KEY`, `NAMESPACE` (default `"stampede"`), `FN_MS` (the function's duration, default 200);
 * - `MODE=stampede`: `N` concurrent callers of `cache({ ttl: "1m", key: KEY, lock: true })` (with
 *   `PROTECTED=0`: `protected: false`, so that every caller takes part in the lock itself); the
 *   function INCRs `<KEY>:executions` (through a separate bookkeeping client) and sleeps `FN_MS`;
 * - `MODE=locked`: `CALLS` concurrent calls of `locked({ ttl: "10s", key: KEY })`; the function
 *   records `[pid, start, end]` (epoch ms) in the list `<KEY>:intervals` and sleeps `FN_MS`;
 * - `MODE=hold` with `STRATEGY=cache|locked` and `LOCK_TTL`: one call whose function prints
 *   `holding <epoch ms>` and never returns (the parent then kills the process).
 *
 * Protocol: after connecting it prints `ready`, waits for a line on stdin (the barrier: the
 * parent releases every child at once), runs, prints `result <json>` and exits. The result
 * holds the Redis commands this process's cache sent from the barrier on (`commands`, counted on
 * the wire), its backend calls (`calls`, before GET coalescing) and each caller's latency.
 */
import { countingClient, rawClient } from "./counting-client.js";
import { Cache } from "../../src/index.js";
import { stateOf } from "../../src/core/state.js";

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`child-stampede: ${name} is required`);
  return value;
};
const url = env("REDIS_URL");
const key = env("KEY");
const mode = env("MODE", "stampede");
const fnMs = Number(env("FN_MS", "200"));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// The cache runs on a client of our own, so that the Redis commands it sends can be counted on
// the wire (the backend coalesces concurrent GETs into one MGET); the bookkeeping client is apart.
const { client, commands } = await countingClient(url);
const cache = new Cache("child").setup(url, { namespace: env("NAMESPACE", "stampede"), timeout: 5000, client });
const bookkeeping = rawClient(url); // a Cluster for a redis+cluster:// URL
await Promise.all([cache.init(), bookkeeping.connect()]);
for (const name of Object.keys(commands)) delete commands[name]; // count from the barrier on

// Also count the backend calls (before the GET coalescing).
const calls: Record<string, number> = {};
const backend = stateOf(cache).routes[0]!.backend! as unknown as Record<string, unknown>;
for (const name of ["get", "getMany", "set", "setLock", "unlock", "exists", "delete", "incr", "expire", "getExpire"]) {
  const original = backend[name] as (...args: unknown[]) => unknown;
  backend[name] = function (this: unknown, ...args: unknown[]) {
    calls[name] = (calls[name] ?? 0) + 1;
    return original.apply(this, args);
  };
}

process.stdout.write("ready\n");
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
process.stdin.pause();

let result: Record<string, unknown>;
if (mode === "stampede") {
  const n = Number(env("N", "50"));
  let executedHere = 0;
  const load = cache.cache({ ttl: "1m", key, lock: true, protected: env("PROTECTED", "1") !== "0" })(async () => {
    executedHere++;
    await bookkeeping.incr(`${key}:executions`);
    await sleep(fnMs);
    return { computedBy: process.pid, at: Date.now() };
  });
  const latencies: number[] = [];
  const values = await Promise.all(
    Array.from({ length: n }, async () => {
      const started = performance.now();
      const value = await load();
      latencies.push(performance.now() - started);
      return value;
    }),
  );
  result = { pid: process.pid, executedHere, values, latencies, commands, calls };
} else if (mode === "locked") {
  const calls = Number(env("CALLS", "5"));
  const job = cache.locked({ ttl: "10s", key })(async (i: number) => {
    const start = Date.now();
    await sleep(fnMs);
    const end = Date.now();
    await bookkeeping.rpush(`${key}:intervals`, JSON.stringify([process.pid, i, start, end]));
    return i;
  });
  const done = await Promise.all(Array.from({ length: calls }, (_, i) => job(i)));
  result = { pid: process.pid, done, commands, calls };
} else if (mode === "hold") {
  const lockTtl = Number(env("LOCK_TTL"));
  const body = async (): Promise<never> => {
    process.stdout.write(`holding ${Date.now()}\n`);
    return new Promise<never>(() => {});
  };
  const wrapped =
    env("STRATEGY") === "locked" ? cache.locked({ ttl: lockTtl, key })(body) : cache.cache({ ttl: "1m", key, lock: true, lockTtl })(body);
  await wrapped();
  result = {};
} else {
  throw new Error(`child-stampede: unknown MODE ${mode}`);
}

process.stdout.write(`result ${JSON.stringify(result)}\n`);
await cache.close();
client.disconnect();
bookkeeping.disconnect();
