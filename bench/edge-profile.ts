/**
 * Where a cloudflare-kv:// / cloudflare-cache:// hit spends its CPU (`node --import tsx bench/edge-profile.ts`).
 *
 * The edge tier (suite.ts, edge-worker.ts) cannot time CPU inside workerd (its clock only advances
 * across I/O), so this runs the same layers in Node (the same V8) on fake bindings that answer at
 * once from memory: what remains is cashews' own CPU per hit, layer by layer, against the raw call.
 * Sequential awaited hits over 1000 keys, ns per hit, median of interleaved rounds.
 *
 * Layers (each adds to the one above):
 *   parse          `JSON.parse(text)` alone (the value of the edge tier, ~110 bytes)
 *   decode         cashews' typed codec `decode(text)` (plain form: a bare JSON.parse)
 *   raw get        `JSON.parse(await kv.get(key))`
 *   raw meta       `await kv.getWithMetadata(key)`, expiry checked, JSON.parse
 *   backend.get    CloudflareKvBackend.get (namespace, bounded call, live check) + JSON.parse
 *   cache.get      Cache#get("item:i"): route, backend, decode, events
 *   decorated      cache({ ttl, key: "item:{i}" })(load)(i): + key rendering, the strategy's hit path
 * and the same for the Cache API (a fake `caches.default` answering new Response objects).
 */
import { Cache } from "../src/index.js";
import { CloudflareKvBackend } from "../src/cloudflare-kv.js";
import { keyUrl, DEFAULT_ORIGIN, DEFAULT_NAMESPACE, EXPIRES_HEADER } from "../src/cloudflare-cache.js";
import { decode } from "../src/codec/typed.js";
import { median } from "./lib/common.js";

const KEYS = 1000;
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const OPS = Number(process.env.OPS ?? 100_000);
const value = (i: number) => ({ id: i, name: `item ${i}`, sku: `SKU-${String(i).padStart(6, "0")}`, tags: ["a", "b"], price: i * 1.5, stock: (i * 7) % 100, updatedAt: "2026-01-01" });
let loads = 0;
const load = async (i: number) => {
  loads++;
  return value(i);
};

// ---------------------------------------------------------------- fake KV (answers at once)
const kvStore = new Map<string, { value: string; metadata: unknown }>();
const kv = {
  async get(key: string) {
    return kvStore.get(key)?.value ?? null;
  },
  async getWithMetadata(key: string | string[], _options?: unknown): Promise<any> {
    if (Array.isArray(key)) return new Map(key.map((k) => [k, kvStore.get(k) ?? { value: null, metadata: null }]));
    const entry = kvStore.get(key);
    return entry ? { value: entry.value, metadata: entry.metadata } : { value: null, metadata: null };
  },
  async put(key: string, value: string, options?: { metadata?: unknown }) {
    kvStore.set(key, { value, metadata: options?.metadata ?? null });
  },
  async delete(key: string) {
    kvStore.delete(key);
  },
  async list() {
    return { keys: [], list_complete: true };
  },
};

// ---------------------------------------------------------------- fake Cache API (a new Response per match, as the platform)
const bodies = new Map<string, { body: string; headers: [string, string][] }>();
const fakeCache = {
  async match(url: string) {
    const found = bodies.get(typeof url === "string" ? url : (url as Request).url);
    return found ? new Response(found.body, { headers: found.headers }) : undefined;
  },
  async put(url: string, response: Response) {
    bodies.set(typeof url === "string" ? url : (url as Request).url, { body: await response.text(), headers: Array.from(response.headers as unknown as Iterable<[string, string]>) });
  },
  async delete(url: string) {
    return bodies.delete(url);
  },
};
const storage = { default: fakeCache, open: async () => fakeCache };

// ---------------------------------------------------------------- contenders
const texts = Array.from({ length: KEYS }, (_, i) => JSON.stringify(value(i)));
const rawKeys = Array.from({ length: KEYS }, (_, i) => `item:${i}`);
const rawUrls = Array.from({ length: KEYS }, (_, i) => `https://bench.internal/raw/item%3A${i}`);
for (let i = 0; i < KEYS; i++) {
  await kv.put(rawKeys[i]!, texts[i]!, { metadata: { e: Date.now() + 3_600_000 } });
  bodies.set(rawUrls[i]!, { body: texts[i]!, headers: [["cache-control", "max-age=3600"]] });
}

const kvCache = new Cache("kv").setup("cloudflare-kv://KV", { env: { KV: kv } });
const kvDecorated = kvCache({ ttl: "1h", key: "item:{i}" })(load);
const kvBackend = new CloudflareKvBackend({ url: "cloudflare-kv://KV", options: { env: { KV: kv } } });
const webCache = new Cache("web").setup("cloudflare-cache://", { caches: storage });
const webDecorated = webCache({ ttl: "1h", key: "item:{i}" })(load);
for (let i = 0; i < KEYS; i++) {
  await kvDecorated(i);
  await webDecorated(i);
}
// The local tier in front of each (no bus on these schemes: the local ttl, 1 h here, bounds staleness), and mem:// as the yardstick.
const kvLocalCache = new Cache("kv-local").setup("cloudflare-kv://KV?local=1&localTtl=1h", { env: { KV: kv } });
const kvLocalDecorated = kvLocalCache({ ttl: "1h", key: "item:{i}" })(load);
const webLocalCache = new Cache("web-local").setup("cloudflare-cache://?local=1&localTtl=1h", { caches: storage });
const webLocalDecorated = webLocalCache({ ttl: "1h", key: "item:{i}" })(load);
const memCache = new Cache("mem").setup("mem://?size=10000");
const memDecorated = memCache({ ttl: "1h", key: "item:{i}" })(load);
for (let i = 0; i < KEYS; i++) {
  await kvLocalDecorated(i);
  await webLocalDecorated(i);
  await memDecorated(i);
}
const warmLoads = loads;
const cashewsUrls = Array.from({ length: KEYS }, (_, i) => keyUrl(DEFAULT_ORIGIN, DEFAULT_NAMESPACE, `item:${i}`));
void EXPIRES_HEADER;

type Call = (i: number) => unknown;
const contenders: [string, Call][] = [
  ["parse", (i) => JSON.parse(texts[i]!)],
  ["decode (typed codec)", (i) => decode(texts[i]!)],
  ["kv: raw get + parse", async (i) => JSON.parse((await kv.get(rawKeys[i]!))!)],
  [
    "kv: raw getWithMetadata + expiry + parse",
    async (i) => {
      const { value, metadata } = await kv.getWithMetadata(rawKeys[i]!, { type: "text" });
      const at = (metadata as { e?: number } | null)?.e;
      if (value === null || (typeof at === "number" && at <= Date.now())) return load(i);
      return JSON.parse(value);
    },
  ],
  ["kv: CloudflareKvBackend.get + parse", async (i) => JSON.parse((await kvBackend.get(`item:${i}`)) as string)],
  ["kv: cache.get(\"item:i\")", (i) => kvCache.get(`item:${i}`)],
  ["kv: decorated (cache({ ttl, key }))", (i) => kvDecorated(i)],
  ["cache api: raw match + text + parse", async (i) => JSON.parse(await (await fakeCache.match(rawUrls[i]!))!.text())],
  ["cache api: raw match (cashews' URL) + text + parse", async (i) => JSON.parse(await (await fakeCache.match(cashewsUrls[i]!))!.text())],
  ["cache api: cache.get(\"item:i\")", (i) => webCache.get(`item:${i}`)],
  ["cache api: decorated (cache({ ttl, key }))", (i) => webDecorated(i)],
  ["mem://: cache.get(\"item:i\")", (i) => memCache.get(`item:${i}`)],
  ["mem://: decorated", (i) => memDecorated(i)],
  ["kv ?local=1: cache.get(\"item:i\") (local hit)", (i) => kvLocalCache.get(`item:${i}`)],
  ["kv ?local=1: decorated (local hit)", (i) => kvLocalDecorated(i)],
  ["cache api ?local=1: cache.get(\"item:i\") (local hit)", (i) => webLocalCache.get(`item:${i}`)],
  ["cache api ?local=1: decorated (local hit)", (i) => webLocalDecorated(i)],
];

async function run(call: Call, ops: number, start: number): Promise<number> {
  const t0 = performance.now();
  for (let n = start; n < start + ops; n++) await call(n % KEYS);
  return ((performance.now() - t0) * 1e6) / ops;
}

const samples = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
for (const [, call] of contenders) await run(call, OPS / 4, 0); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < contenders.length; k++) {
    const [name, call] = contenders[(k + r) % contenders.length]!;
    samples.get(name)!.push(await run(call, OPS, r * 137));
  }
}
if (loads !== warmLoads) throw new Error(`${loads - warmLoads} misses while timing`);
console.log(`| layer (Node ${process.version}, fake bindings answering at once) | ns per hit (median of ${ROUNDS}) |`);
console.log("|---|--:|");
for (const [name] of contenders) console.log(`| ${name} | ${Math.round(median(samples.get(name)!))} |`);
