/**
 * Child process of test/backends/memory/memory-bound.test.ts (run with `node --expose-gc --import tsx`): pushes
 * TOTAL distinct keys through `mem://?size=SIZE` and prints one `result <json>` line.
 *
 * - the entry count is checked after every write (the backend's map size, expired entries
 *   included) and with `getKeysCount()` every CHECK_EVERY writes;
 * - heap after full GCs is measured once SIZE entries are in (the reference) and at the end;
 * - every other key has a TTL, so the expiry heap is exercised too (an entry evicted by LRU must
 *   leave it); values are small objects, strings with `serialize` (argv[2] === "serialize").
 */
import { Cache } from "../../src/index.js";
import type { MemoryBackend } from "../../src/backends/memory.js";

const SIZE = 10_000;
const TOTAL = Number(process.env.MEMORY_BOUND_TOTAL ?? 1_000_000);
const CHECK_EVERY = 10_000;
const serialize = process.argv[2] === "serialize";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

function heapAfterGc(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

const cache = new Cache("memory-bound").setup(`mem://?size=${SIZE}${serialize ? "&serialize=1" : ""}`);
const backend = (await cache.route("").start()) as MemoryBackend;

let maxStored = 0;
let maxCounted = 0;
let checks = 0;
let reference = 0;
const started = Date.now();
for (let i = 0; i < TOTAL; i++) {
  await cache.set(`key:${i}`, { i, name: `value number ${i}`, tags: ["a", "b"] }, i % 2 === 0 ? { expire: "1h" } : {});
  const stored = backend.storedCount;
  if (stored > maxStored) maxStored = stored;
  if ((i + 1) % CHECK_EVERY === 0) {
    const counted = await cache.getKeysCount();
    if (counted > maxCounted) maxCounted = counted;
    checks++;
  }
  if (i + 1 === SIZE) reference = heapAfterGc();
}
const final = heapAfterGc();
const result = {
  serialize,
  total: TOTAL,
  maxStored,
  maxCounted,
  checks,
  finalCount: await cache.getKeysCount(),
  lastPresent: (await cache.get(`key:${TOTAL - 1}`)) !== undefined,
  firstAbsent: !(await cache.exists("key:0")),
  oldestKeptPresent: await cache.exists(`key:${TOTAL - SIZE}`),
  newestEvicted: !(await cache.exists(`key:${TOTAL - SIZE - 1}`)),
  reference,
  final,
  ms: Date.now() - started,
};
await cache.close();
console.log("result " + JSON.stringify(result));
