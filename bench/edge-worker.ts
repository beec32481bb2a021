/**
 * The Worker of the edge tier (bench/suite.ts, `BENCH_TIER=edge`): bundled with esbuild like the
 * Worker tests (runtimes/workers/build.ts) and run in workerd through miniflare, one contender per
 * workerd instance (its id in the `CONTENDER` binding). The measurement loop runs INSIDE the isolate,
 * so what is timed is the contender's hit as a Worker sees it (the binding call into miniflare's KV
 * or Cache service, decoding, cashews' plumbing), not the dispatch from Node.
 *
 * - `GET /init?targetMs=…`: fills the store (1000 keys, one value of ~100 bytes each), checks every
 *   key is a hit with the right value, sizes the measurements to ~targetMs each, runs them once
 *   (JIT warm-up); answers `{ warmLoads, opsSeq, opsFlight }`.
 * - `GET /measure`: one sequential and one 100-in-flight measurement (ns per hit, median of 10
 *   chunks, as bench/lib/common.ts times them); answers `{ seq, flight, loads }` (loads: calls of the
 *   memoised function's body, i.e. misses, while timing; must be 0).
 *
 * Clocks: in workerd, `performance.now()` and `Date.now()` are frozen while JavaScript runs and
 * advance only when I/O completes (a Spectre mitigation). Every hit here awaits a binding call (I/O),
 * so a chunk's end is read right after its last hit's I/O completed; what is not seen is the CPU time
 * after that last I/O (one decode per chunk of hundreds of hits). The times are wall time between
 * I/O completions, with workerd's clock resolution (1 ms; a chunk lasts ~40 ms).
 *
 * Contenders (`CONTENDER`):
 * - `kv-raw`: `JSON.parse(await env.KV.get(key))` over prebuilt keys: the floor.
 * - `kv-raw-meta`: `env.KV.getWithMetadata(key, { type: "text" })`, the expiry in the metadata
 *   checked, then `JSON.parse`: what the cloudflare-kv backend's read costs below cashews (reference).
 * - `kv-cashews`: `cache({ ttl: "1h", key: "item:{i}" })(load)` on `cloudflare-kv://KV` (set up by
 *   `withCache`, which hands `env` to the scheme).
 * - `cache-raw`: `JSON.parse(await (await caches.default.match(url)).text())` over prebuilt URLs.
 * - `cache-cashews`: the same decorated function on `cloudflare-cache://` (`caches.default`).
 * - `kv-cashews-local`, `cache-cashews-local`: the same on `cloudflare-kv://KV?local=1&localTtl=1h` /
 *   `cloudflare-cache://?local=1&localTtl=1h` (the local tier; no bus on these schemes): local hits.
 * - `mem-cashews`: the same on `mem://?size=10000`, the yardstick of the local rows.
 *   These three do no I/O per hit, so their chunks end with one awaited KV read (see `NO_IO`).
 */
import { cache } from "../src/index.js";
import "../src/cloudflare-kv.js";
import "../src/cloudflare-cache.js";
import { withCache } from "../src/workers.js";
import { CHUNKS, KEYS, WIDTH, inFlight, sequential, type Call } from "./lib/common.js";

interface KvLike {
  get(key: string): Promise<string | null>;
  getWithMetadata(key: string, options: { type: "text" }): Promise<{ value: string | null; metadata: unknown }>;
  put(key: string, value: string, options?: { expirationTtl?: number; metadata?: unknown }): Promise<void>;
}
interface Env {
  KV: KvLike;
  CONTENDER: string;
}
declare const caches: { default: { match(url: string): Promise<Response | undefined>; put(url: string, response: Response): Promise<void> } };

/** A realistic small cached value: 103–115 bytes of JSON (`{"id":999,"name":"item 999","sku":"SKU-000999",…}`). */
export interface EdgeItem {
  id: number;
  name: string;
  sku: string;
  tags: string[];
  price: number;
  stock: number;
  updatedAt: string;
}
export const edgeValue = (i: number): EdgeItem => ({
  id: i,
  name: `item ${i}`,
  sku: `SKU-${String(i).padStart(6, "0")}`,
  tags: ["a", "b"],
  price: i * 1.5,
  stock: (i * 7) % 100,
  updatedAt: "2026-01-01",
});

const HOUR_S = 3600;
/** Calls of the memoised function's body (misses), in this isolate. */
let loads = 0;
async function load(i: number): Promise<EdgeItem> {
  loads++;
  return edgeValue(i);
}

const rawKeys = Array.from({ length: KEYS }, (_, i) => `item:${i}`);
const rawUrls = Array.from({ length: KEYS }, (_, i) => `https://bench.internal/raw/item%3A${i}`);

interface Contender {
  call: Call;
  warm(): Promise<void>;
}

/** Runs `fn(i)` for every key, WIDTH at a time. */
async function forEachKey(fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < KEYS; i += WIDTH) await Promise.all(Array.from({ length: Math.min(WIDTH, KEYS - i) }, (_, j) => fn(i + j)));
}

function contender(id: string, env: Env): Contender {
  switch (id) {
    case "kv-raw":
      return {
        call: async (i) => {
          const text = await env.KV.get(rawKeys[i]!);
          return text === null ? load(i) : JSON.parse(text);
        },
        async warm() {
          await forEachKey((i) => env.KV.put(rawKeys[i]!, JSON.stringify(edgeValue(i)), { expirationTtl: HOUR_S }));
        },
      };
    case "kv-raw-meta":
      return {
        call: async (i) => {
          const { value, metadata } = await env.KV.getWithMetadata(rawKeys[i]!, { type: "text" });
          const at = (metadata as { e?: unknown } | null)?.e;
          if (value === null || (typeof at === "number" && at <= Date.now())) return load(i);
          return JSON.parse(value);
        },
        async warm() {
          const e = Date.now() + HOUR_S * 1000;
          await forEachKey((i) => env.KV.put(rawKeys[i]!, JSON.stringify(edgeValue(i)), { expirationTtl: HOUR_S + 60, metadata: { e } }));
        },
      };
    case "cache-raw":
      return {
        call: async (i) => {
          const response = await caches.default.match(rawUrls[i]!);
          return response === undefined ? load(i) : JSON.parse(await response.text());
        },
        async warm() {
          const headers = { "content-type": "application/json", "cache-control": `max-age=${HOUR_S}` };
          await forEachKey((i) => caches.default.put(rawUrls[i]!, new Response(JSON.stringify(edgeValue(i)), { headers })));
        },
      };
    case "kv-cashews":
    case "cache-cashews":
    case "kv-cashews-local":
    case "cache-cashews-local":
    case "mem-cashews": {
      const call = cache({ ttl: "1h", key: "item:{i}" })(load) as Call;
      return { call, warm: () => forEachKey(call) };
    }
    default:
      throw new Error(`unknown contender ${id}`);
  }
}

/**
 * The contenders whose hits do no I/O (the local tier, mem://): workerd's clock would not move
 * while they run, so each of their chunks ends with one awaited I/O (`tick`, a KV read of a missing
 * key) before its end is read: a chunk is then timed from one I/O completion to the next, the CPU
 * of its hits plus that one I/O round trip (`tickNs` in /init's answer: its cost, spread over the
 * chunk's hits, is what the numbers overstate).
 */
const NO_IO = new Set(["kv-cashews-local", "cache-cashews-local", "mem-cashews"]);
let tick: () => Promise<unknown> = async () => {};

const sequentialTicked = (call: Call, ops: number, start = 0): Promise<number> => sequential(call, ops, start, tick);
const inFlightTicked = (call: Call, ops: number, start = 0): Promise<number> => inFlight(call, ops, start, tick);

/** ns per `tick()` alone: 200 in a row, timed together (workerd's clock has 1 ms steps). */
async function tickCost(): Promise<number> {
  await tick();
  const t0 = performance.now();
  for (let n = 0; n < 200; n++) await tick();
  return ((performance.now() - t0) * 1e6) / 200;
}

/** Ops (a multiple of `step`, at least `min`) for about targetMs per measurement, from a first run of >= 30 ms (as bench/lib/child.ts). */
async function size(run: (call: Call, ops: number) => Promise<number>, call: Call, targetMs: number, min: number, step: number): Promise<number> {
  let ops = min;
  for (;;) {
    const ns = await run(call, ops);
    if ((ns * ops) / 1e6 >= 30 || ops >= 1_000_000) return Math.max(min, Math.round((targetMs * 1e6) / ns / step) * step);
    ops *= 4;
  }
}

let current: Contender | undefined;
let opsSeq = 0;
let opsFlight = 0;
let offset = 0;

let seqRun = sequential;
let flightRun = inFlight;

async function init(env: Env, targetMs: number): Promise<unknown> {
  const c = contender(env.CONTENDER, env);
  if (NO_IO.has(env.CONTENDER)) {
    tick = () => env.KV.get("bench:tick");
    seqRun = sequentialTicked;
    flightRun = inFlightTicked;
  }
  await c.warm();
  const warmLoads = loads;
  for (let i = 0; i < KEYS; i++) {
    const got = await c.call(i);
    if (JSON.stringify(got) !== JSON.stringify(edgeValue(i))) throw new Error(`key ${i}: got ${JSON.stringify(got)}, want ${JSON.stringify(edgeValue(i))}`);
  }
  if (loads !== warmLoads) throw new Error(`${loads - warmLoads} of the ${KEYS} keys were misses right after warm-up`);
  opsSeq = await size(seqRun, c.call, targetMs, 20 * CHUNKS, CHUNKS);
  opsFlight = await size(flightRun, c.call, targetMs, WIDTH * CHUNKS, WIDTH * CHUNKS);
  await seqRun(c.call, opsSeq);
  await flightRun(c.call, opsFlight);
  if (loads !== warmLoads) throw new Error(`${loads - warmLoads} loads during the warm-up runs (misses)`);
  current = c;
  const tickNs = NO_IO.has(env.CONTENDER) ? await tickCost() : undefined;
  return { warmLoads, opsSeq, opsFlight, valueBytes: JSON.stringify(edgeValue(KEYS - 1)).length, tickNs };
}

async function measure(): Promise<unknown> {
  if (!current) throw new Error("/measure before /init");
  const before = loads;
  const seq = await seqRun(current.call, opsSeq, offset);
  const flight = await flightRun(current.call, opsFlight, offset);
  offset = (offset + 137) % KEYS;
  return { seq, flight, loads: loads - before };
}

const handler = {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/init") return Response.json(await init(env, Number(url.searchParams.get("targetMs") ?? 400)));
      if (url.pathname === "/measure") return Response.json(await measure());
      return new Response("not found", { status: 404 });
    } catch (error) {
      const e = error as Error;
      return Response.json({ error: `${e.name}: ${e.message}`, stack: e.stack }, { status: 500 });
    }
  },
};

// Every contender runs inside withCache, as a Worker using cashews would (the raw ones set nothing up
// that they use). The KV binding reaches the scheme through withCache (`cloudflare-kv://KV`).
// The local rows put the local tier in front (`?local=1`, local ttl 1 h so that every timed call is a
// local hit; without a bus on these schemes the local ttl is the staleness bound, default 5 s).
const SETUP: Record<string, string> = {
  "kv-cashews-local": "cloudflare-kv://KV?local=1&localTtl=1h",
  "cache-cashews-local": "cloudflare-cache://?local=1&localTtl=1h",
  "mem-cashews": "mem://?size=10000",
};
export default withCache(
  { setup: (env: Env) => SETUP[env.CONTENDER] ?? (env.CONTENDER.startsWith("cache") ? "cloudflare-cache://" : "cloudflare-kv://KV") },
  handler,
);
