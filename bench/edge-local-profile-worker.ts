/**
 * The Worker of bench/edge-local-profile.ts: times, inside workerd, the layers of a local-tier hit
 * against a mem:// hit (`GET /run?n=…&rounds=…`). workerd's clock advances only when I/O
 * completes, so every layer's loop of `n` calls is bracketed by awaited KV reads of a missing key
 * (`tick`) and the cost of one tick alone is subtracted. With `SCOPED=1` the whole isolate runs
 * inside `withCache` (as the edge tier's Worker): once a scope was entered, cashews takes its scoped
 * hit path for the isolate's life (`core.read`: the backend's `get`, then the codec) instead of
 * `peek`, on every instance, the plain `Cache` ones too; without it no scope is ever entered.
 */
import { Cache, cache } from "../src/index.js";
import { withCache } from "../src/workers.js";
import "../src/cloudflare-kv.js";
import "../src/cloudflare-cache.js";
import { MemoryBackend } from "../src/backends/memory.js";
import { withLocalTier } from "../src/backends/local/tier.js";
import { CloudflareKvBackend } from "../src/cloudflare-kv.js";
import { decode } from "../src/codec/typed.js";
import { median } from "./lib/common.js";

interface Env {
  KV: { get(key: string): Promise<string | null> };
  /** "1": the isolate runs inside `withCache` (as the edge tier's Worker); else the plain handler, no scope ever entered. */
  SCOPED: string;
}

const KEYS = 1000;
const value = (i: number) => ({ id: i, name: `item ${i}`, sku: `SKU-${String(i).padStart(6, "0")}`, tags: ["a", "b"], price: i * 1.5, stock: (i * 7) % 100, updatedAt: "2026-01-01" });
let loads = 0;
const load = async (i: number) => {
  loads++;
  return value(i);
};
const keys = Array.from({ length: KEYS }, (_, i) => `item:${i}`);
const texts = Array.from({ length: KEYS }, (_, i) => JSON.stringify(value(i)));

type Layer = [name: string, call: (i: number) => unknown, awaited: boolean];
let layers: Layer[] | undefined;

async function setUp(env: Env, scoped: boolean): Promise<Layer[]> {
  const map = new Map(keys.map((k, i) => [k, value(i)]));
  const mem = new MemoryBackend({ size: 10_000 } as never);
  for (let i = 0; i < KEYS; i++) await mem.set(keys[i]!, value(i), 3_600_000);
  const tier = withLocalTier(new CloudflareKvBackend({ url: "cloudflare-kv://KV", options: { env } } as never), { size: 10_000, ttl: 3_600_000 });
  await tier.init();
  for (let i = 0; i < KEYS; i++) await tier.set(keys[i]!, JSON.stringify(value(i)), 3_600_000);
  // The tier keeps the text; the cache keeps the decoded value on the first read (peek then answers it).
  const memCache = new Cache("mem").setup("mem://?size=10000");
  const kvLocal = new Cache("kvl").setup("cloudflare-kv://KV?local=1&localTtl=1h", { env });
  const webLocal = new Cache("webl").setup("cloudflare-cache://?local=1&localTtl=1h");
  const memDec = memCache({ ttl: "1h", key: "item:{i}" })(load);
  const kvDec = kvLocal({ ttl: "1h", key: "item:{i}" })(load);
  const webDec = webLocal({ ttl: "1h", key: "item:{i}" })(load);
  for (let i = 0; i < KEYS; i++) {
    await memDec(i);
    await kvDec(i);
    await webDec(i);
  }
  // The same through withCache (as the edge tier's Worker): the default `cache`, one backend per prefix.
  const withCacheLayers: Layer[] = [];
  if (scoped) {
    const wMem = cache({ ttl: "1h", key: "m:item:{i}" })(load);
    const wKv = cache({ ttl: "1h", key: "k:item:{i}" })(load);
    const wWeb = cache({ ttl: "1h", key: "c:item:{i}" })(load);
    for (let i = 0; i < KEYS; i++) {
      await wMem(i);
      await wKv(i);
      await wWeb(i);
    }
    withCacheLayers.push(
      ["withCache, default cache: mem:// decorated", (i) => wMem(i), true],
      ["withCache, default cache: kv ?local=1 decorated", (i) => wKv(i), true],
      ["withCache, default cache: cache api ?local=1 decorated", (i) => wWeb(i), true],
    );
  }
  const empty = async (i: number) => i;
  return [
    ["Date.now()", () => Date.now(), false],
    ["Map.get (1000 keys)", (i) => map.get(keys[i]!), false],
    ["await of an async fn returning at once", empty, true],
    ["JSON.parse of the value's text (~110 bytes)", (i) => JSON.parse(texts[i]!), false],
    ["typed codec decode of the value's text", (i) => decode(texts[i]!), false],
    ["MemoryBackend.peek", (i) => mem.peek(keys[i]!), false],
    ["LocalCopy.raw (the tier's kept text)", (i) => tier.local.raw(keys[i]!), false],
    ["LocalTier.get (the kept text, as a promise)", (i) => tier.get(keys[i]!), true],
    ["MemoryBackend.get", (i) => mem.get(keys[i]!), true],
    ["mem://: cache.get", (i) => memCache.get(keys[i]!), true],
    ["kv ?local=1: cache.get", (i) => kvLocal.get(keys[i]!), true],
    ["cache api ?local=1: cache.get", (i) => webLocal.get(keys[i]!), true],
    ["mem://: decorated", (i) => memDec(i), true],
    ["kv ?local=1: decorated", (i) => kvDec(i), true],
    ["cache api ?local=1: decorated", (i) => webDec(i), true],
    ...withCacheLayers,
  ];
}

async function run(env: Env, n: number, rounds: number, scoped: boolean): Promise<unknown> {
  layers ??= await setUp(env, scoped);
  const tick = () => env.KV.get("bench:tick");
  const warmLoads = loads;
  // One tick alone (200 in a row).
  await tick();
  let t0 = performance.now();
  for (let k = 0; k < 200; k++) await tick();
  const tickMs = (performance.now() - t0) / 200;
  const samples = new Map<string, number[]>(layers.map(([name]) => [name, []]));
  let sink = 0;
  for (let r = -1; r < rounds; r++) {
    for (let k = 0; k < layers.length; k++) {
      const [name, call, awaited] = layers[(k + Math.max(r, 0)) % layers.length]!;
      await tick();
      t0 = performance.now();
      if (awaited) for (let j = 0; j < n; j++) await call(j % KEYS);
      else for (let j = 0; j < n; j++) if (call(j % KEYS) !== undefined) sink++;
      await tick();
      const ms = performance.now() - t0 - tickMs;
      if (r >= 0) samples.get(name)!.push((ms * 1e6) / n); // r = -1: warm-up
    }
  }
  if (loads !== warmLoads) throw new Error(`${loads - warmLoads} misses while timing`);
  return { tickNs: tickMs * 1e6, sink, layers: layers.map(([name]) => [name, median(samples.get(name)!)]) };
}

const handler = {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    try {
      return Response.json(await run(env, Number(url.searchParams.get("n") ?? 200_000), Number(url.searchParams.get("rounds") ?? 7), env.SCOPED === "1"));
    } catch (error) {
      const e = error as Error;
      return Response.json({ error: `${e.name}: ${e.message}`, stack: e.stack }, { status: 500 });
    }
  },
};

const wrapped = withCache(
  {
    setup: () => [
      ["mem://?size=10000", { prefix: "m:" }],
      ["cloudflare-kv://KV?local=1&localTtl=1h", { prefix: "k:" }],
      ["cloudflare-cache://?local=1&localTtl=1h", { prefix: "c:" }],
    ],
  },
  handler,
);

export default {
  fetch: (request: Request, env: Env, ctx: unknown): Promise<Response> =>
    (env.SCOPED === "1" ? (wrapped.fetch as (r: Request, e: Env, c: unknown) => unknown)(request, env, ctx) : handler.fetch(request, env)) as Promise<Response>,
};
