/**
 * Hit path of the memory backend: `MemoryBackend.peek` against `lru-cache`'s `get`, on 1000
 * pre-warmed keys, interleaved rounds. Run: `node --import tsx bench/memory-peek.ts`.
 */
import { LRUCache } from "lru-cache";
import { MemoryBackend } from "../src/backends/memory.js";

const KEYS = 1000;
const OPS = 2_000_000;
const ROUNDS = 5;

const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}:profile`);

const memory = new MemoryBackend({ size: 10_000, checkInterval: 0 });
const memoryTtl = new MemoryBackend({ size: 10_000, checkInterval: 0 });
const lru = new LRUCache<string, object>({ max: 10_000 });
const lruTtl = new LRUCache<string, object>({ max: 10_000, ttl: 3_600_000 });
for (const key of keys) {
  const value = { key };
  await memory.set(key, value, undefined);
  await memoryTtl.set(key, value, 3_600_000);
  lru.set(key, value);
  lruTtl.set(key, value);
}

let sink = 0;
function measure(read: (key: string) => unknown): number {
  const started = performance.now();
  for (let i = 0; i < OPS; i++) {
    if (read(keys[i % KEYS]!) !== undefined) sink++;
  }
  return ((performance.now() - started) * 1e6) / OPS;
}

const cases: Record<string, (key: string) => unknown> = {
  "mem peek (no TTL)": (key) => memory.peek(key),
  "lru-cache get (no TTL)": (key) => lru.get(key),
  "mem peek (TTL)": (key) => memoryTtl.peek(key),
  "lru-cache get (TTL)": (key) => lruTtl.get(key),
};
const results: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));

for (const read of Object.values(cases)) measure(read); // warm up
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, read] of Object.entries(cases)) results[name]!.push(measure(read));
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`${KEYS} keys, ${OPS} reads per round, ${ROUNDS} interleaved rounds (ns/op)`);
for (const [name, values] of Object.entries(results)) {
  console.log(`${name.padEnd(24)} median ${median(values).toFixed(1).padStart(6)}   rounds ${values.map((v) => v.toFixed(1)).join(" ")}`);
}
const ratio = (a: string, b: string): string => (median(results[a]!) / median(results[b]!)).toFixed(2);
console.log(`peek / lru-cache get: ${ratio("mem peek (no TTL)", "lru-cache get (no TTL)")}× without TTL, ${ratio("mem peek (TTL)", "lru-cache get (TTL)")}× with TTL`);
if (sink === 0) console.log("(no hits?)");
