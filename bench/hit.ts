// Hit-path benchmark: cashews against the floor (an async lru-cache get) and raw ioredis.
// Run with `npm run bench`. Each contender is measured in interleaved rounds; medians are printed.
import { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import { Cache } from "../src/index.js";
import "../src/redis.js";
import { startRedis } from "../test/support/redis-server.js";

const KEYS = 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const keys = Array.from({ length: KEYS }, (_, i) => `item:${i}`);
const value = (i: number) => ({ id: i, name: `item ${i}`, tags: ["a", "b"], price: i * 1.5 });

type Call = (i: number) => Promise<unknown>;
interface Contender {
  name: string;
  call: Call;
}

async function sequential(call: Call, ops: number): Promise<number> {
  const started = performance.now();
  for (let n = 0; n < ops; n++) await call(n % KEYS);
  return ((performance.now() - started) * 1e6) / ops;
}

async function inFlight(call: Call, ops: number, width = 100): Promise<number> {
  const started = performance.now();
  for (let n = 0; n < ops; n += width) {
    const batch: Promise<unknown>[] = new Array(width);
    for (let j = 0; j < width; j++) batch[j] = call((n + j) % KEYS);
    await Promise.all(batch);
  }
  return ((performance.now() - started) * 1e6) / ops;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(tier: string, contenders: Contender[], ops: { seq: number; flight: number }): Promise<Record<string, { seq: number; flight: number }>> {
  const samples = Object.fromEntries(contenders.map((c) => [c.name, { seq: [] as number[], flight: [] as number[] }]));
  for (const c of contenders) {
    await sequential(c.call, Math.min(ops.seq, 20_000)); // warm-up
    await inFlight(c.call, Math.min(ops.flight, 20_000));
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of contenders) {
      samples[c.name]!.seq.push(await sequential(c.call, ops.seq));
      samples[c.name]!.flight.push(await inFlight(c.call, ops.flight));
    }
  }
  const out: Record<string, { seq: number; flight: number }> = {};
  for (const c of contenders) out[c.name] = { seq: median(samples[c.name]!.seq), flight: median(samples[c.name]!.flight) };
  const floor = out[contenders[0]!.name]!;
  console.log(`\n${tier} (median of ${ROUNDS} rounds, ns per call; ratio to ${contenders[0]!.name})`);
  console.log(`${"contender".padEnd(42)} ${"sequential".padStart(12)} ${"ratio".padStart(6)} ${"100 in flight".padStart(14)} ${"ratio".padStart(6)}`);
  for (const c of contenders) {
    const r = out[c.name]!;
    console.log(
      `${c.name.padEnd(42)} ${r.seq.toFixed(0).padStart(12)} ${(r.seq / floor.seq).toFixed(2).padStart(6)} ${r.flight.toFixed(0).padStart(14)} ${(r.flight / floor.flight).toFixed(2).padStart(6)}`,
    );
  }
  return out;
}

const TIERS = (process.env.BENCH_TIERS ?? "memory,redis").split(",");

// ---------------------------------------------------------------- memory tier
if (TIERS.includes("memory")) {
  const lru = new LRUCache<string, object>({ max: 10_000 });
  keys.forEach((k, i) => lru.set(k, value(i)));
  const floor = async (i: number) => lru.get(keys[i]!);

  const cache = new Cache("bench").setup("mem://?size=10000");
  let loads = 0;
  const load = cache({ ttl: "1h", key: "item:{i}" })(async (i: number) => {
    loads++;
    return value(i);
  });
  for (let i = 0; i < KEYS; i++) await load(i);
  const warmLoads = loads;
  await measure("memory hit", [
    { name: "floor: async lru-cache.get()", call: floor },
    { name: "cashews mem:// cached call", call: load },
  ], { seq: 200_000, flight: 200_000 });
  if (loads !== warmLoads) throw new Error(`memory tier: ${loads - warmLoads} calls were misses`);
  await cache.close();
}

// ---------------------------------------------------------------- redis tier
if (TIERS.includes("redis")) {
  const server = await startRedis();
  const plain = new Redis(server.url);
  const pipelined = new Redis(server.url, { enableAutoPipelining: true });
  await plain.flushdb();
  const cache = new Cache("bench").setup(server.url, { namespace: "" });
  let loads = 0;
  const load = cache({ ttl: "1h", key: "item:{i}" })(async (i: number) => {
    loads++;
    return value(i);
  });
  for (let i = 0; i < KEYS; i++) await load(i);
  const warmLoads = loads;
  const rawSeq = async (i: number) => JSON.parse((await plain.get(keys[i]!))!);
  const rawFlight = async (i: number) => JSON.parse((await pipelined.get(keys[i]!))!);
  const seq = await measure("redis hit, sequential baseline: ioredis without auto-pipelining", [
    { name: "raw ioredis get + JSON.parse", call: rawSeq },
    { name: "cashews redis:// cached call", call: load },
  ], { seq: 20_000, flight: 20_000 });
  const flight = await measure("redis hit, in-flight baseline: ioredis with auto-pipelining", [
    { name: "raw ioredis (auto-pipelining) get + JSON.parse", call: rawFlight },
    { name: "cashews redis:// cached call", call: load },
  ], { seq: 20_000, flight: 100_000 });
  if (loads !== warmLoads) throw new Error(`redis tier: ${loads - warmLoads} calls were misses`);
  console.log(
    `\nredis summary: sequential ${(seq["cashews redis:// cached call"]!.seq / seq["raw ioredis get + JSON.parse"]!.seq).toFixed(2)}x raw ioredis, ` +
      `100 in flight ${(flight["cashews redis:// cached call"]!.flight / flight["raw ioredis (auto-pipelining) get + JSON.parse"]!.flight).toFixed(2)}x raw ioredis (auto-pipelined)`,
  );
  await cache.close();
  plain.disconnect();
  pipelined.disconnect();
  await server.stop();
}
