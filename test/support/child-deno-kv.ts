/**
 * A child process for the cross-process Deno KV tests: `node --import tsx test/support/child-deno-kv.ts`
 * with `DB` (a database file), `NAMESPACE`, `N` (concurrent calls of each kind) and `LIMIT` (the
 * sliding window's limit). It opens the database through @deno/kv, prints `ready`, waits for a line
 * on stdin (the barrier: the parent releases every child at once), then runs `N` concurrent
 * `incr("counter")`, `N` concurrent `setLock("lock", <pid:i>)` and `N` concurrent
 * `slidingIncr("window", 60 s, LIMIT)`, prints `result <json>` (the values each call resolved) and exits.
 */
import { createDenoKvBackend } from "../../src/deno-kv.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`child-deno-kv: ${name} is required`);
  return value;
};
const n = Number(env("N"));
const limit = Number(env("LIMIT"));
const backend = createDenoKvBackend(`deno-kv://${env("DB")}`, { namespace: env("NAMESPACE") });
await backend.init();
process.stdout.write("ready\n");
await new Promise((resolve) => process.stdin.once("data", resolve));
process.stdin.destroy();
const range = Array.from({ length: n }, (_, i) => i);
const [incr, locks, sliding] = await Promise.all([
  Promise.all(range.map(() => backend.incr("counter", 1, 60_000))),
  Promise.all(range.map((i) => backend.setLock("lock", `${process.pid}:${i}`, 60_000))),
  Promise.all(range.map(() => backend.slidingIncr("window", 60_000, limit))),
]);
process.stdout.write(`result ${JSON.stringify({ incr, locks, sliding: sliding.map(([count]) => count) })}\n`);
await backend.close();
