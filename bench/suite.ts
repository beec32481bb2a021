/**
 * cashews against its peers on cached hits (`npm run bench`). Per tier, every contender runs in its
 * own child process (bench/lib/child.ts) and memoises the same counted async function over 1000
 * pre-warmed keys; the parent interleaves rounds (each round: every contender, one sequential and
 * one 100-in-flight measurement, the order rotated each round), takes medians, checks that no load
 * (miss) happened while timing, prints one markdown table and writes it to bench/results/latest.md.
 *
 * The edge tier is the exception: its contenders are Workers run in workerd through miniflare (one
 * workerd instance per contender, driven from this process), which time their hits inside the isolate
 * (bench/edge-worker.ts).
 *
 * The ratelimit tier is another exception: bench/ratelimit.ts runs it (its own child processes,
 * counters and report) on this run's redis-server; its report goes to bench/results/ratelimit.md
 * after a full run, to BENCH_OUT when it is the only tier, else after the hits' table.
 *
 * Env: BENCH_ONLY (contender ids to run, besides each tier's floor), BENCH_ROUNDS (default 21), BENCH_TIER=memory|redis|signed|clientside|upstash|edge|ratelimit (comma-separated; a
 * partial run only prints, unless BENCH_OUT=<file>), BENCH_MS (target ms per measurement; default
 * 150 for memory, 400 for the network and edge tiers), BENCH_PROCESSES (default: one per round, 3 for
 * the edge tier; the rounds are split into that many blocks, each with fresh child processes or
 * workerd instances).
 */
import { execFileSync, fork, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { arch, cpus, loadavg, platform, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { Miniflare } from "miniflare";
import { bundleWorker, type WorkerBundle } from "../runtimes/workers/build.js";
import { COMPATIBILITY_DATE } from "../test/support/workerd.js";
import { startRedis, type RedisServer } from "../test/support/redis-server.js";
import { startUpstashServer, type UpstashServer } from "../test/support/upstash-server.js";
import { CHUNKS, KEYS, WIDTH, closeChild, gitState, median, type Env, type FromChild, type ToChild } from "./lib/common.js";
import { KINDS as INV_KINDS, WRITES as INV_WRITES, invalidationTable, measureInvalidation, type InvalidationResult } from "./invalidation.js";
import { measureRatelimit } from "./ratelimit.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BENCH = join(ROOT, "bench");
const CHILD = join(BENCH, "lib", "child.ts");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
/**
 * Child processes per contender, one after another: the rounds are split into this many blocks and
 * each block starts fresh processes (default: a fresh process per round). What one process gets by
 * chance lasts its whole life: on the 2-core VM of bench/results, one process's sequential Redis
 * hits ran anywhere from 0.7× to 1.6× the floor's process in the same round (results/latest-processes.md). With one
 * process per contender for a whole run, runs disagreed by ±5–10 % on the same code; paired rounds
 * over fresh processes average that luck out.
 */
const PROCESSES = ((raw = process.env.BENCH_PROCESSES): number => {
  if (raw === undefined) return ROUNDS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_PROCESSES: a whole number of at least 1, got "${raw}"`);
  return Math.min(ROUNDS, n);
})();
/**
 * Blocks (fresh workerd instances) of the edge tier unless BENCH_PROCESSES says otherwise. A workerd
 * instance costs ~0.3 s to start and ~3 s to fill and warm (1000 writes, 1000 checked reads, sizing,
 * a JIT warm-up run), against ~1 s per round for its two measurements: a fresh instance per round
 * would make the tier take ~4× as long. 3 blocks keep a run to a few minutes and still show, in the
 * per-block ratios, how much one instance's luck moves the numbers.
 */
const EDGE_PROCESSES = 3;
const processesOf = (tier: TierId): number => (tier === "edge" && process.env.BENCH_PROCESSES === undefined ? Math.min(ROUNDS, EDGE_PROCESSES) : PROCESSES);
const ALL_TIERS = ["memory", "redis", "signed", "clientside", "upstash", "edge", "ratelimit"] as const;
type TierId = (typeof ALL_TIERS)[number];
const TIERS = (process.env.BENCH_TIER ?? ALL_TIERS.join(",")).split(",").map((t) => t.trim()).filter(Boolean) as TierId[];
for (const tier of TIERS) if (!ALL_TIERS.includes(tier)) throw new Error(`BENCH_TIER: unknown tier "${tier}" (${ALL_TIERS.join(", ")})`);
const BURSTS = 5;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

// ------------------------------------------------------------------ peers installed?
if (!existsSync(join(BENCH, "node_modules"))) {
  log("bench/node_modules missing: npm --prefix bench ci");
  const result = spawnSync("npm", ["--prefix", "bench", "ci", "--no-audit", "--no-fund"], { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error("npm --prefix bench ci failed");
}

function version(pkg: string): string {
  for (const dir of [join(BENCH, "node_modules"), join(ROOT, "node_modules")]) {
    const file = join(dir, pkg, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  }
  return "not installed";
}

// ------------------------------------------------------------------ tiers and contenders
interface Spec {
  id: string;
  label: string;
  /** The tier's baseline (ratios are to it). */
  floor?: boolean;
  /** The id of the floor this row's ratios are to, when not the tier's first row (edge: one floor per backend). */
  vs?: string;
  cashews?: boolean;
  /** A variant shown for reference (no target, not a peer). */
  reference?: boolean;
}
interface Tier {
  id: TierId;
  title: string;
  unit: "ns" | "µs";
  targetMs: number;
  contenders: Spec[];
}

const v = version;
const tiers: Tier[] = [
  {
    id: "memory",
    title: "memory",
    unit: "ns",
    targetMs: Number(process.env.BENCH_MS ?? 150),
    contenders: [
      { id: "floor", floor: true, label: `floor: async fn around lru-cache ${v("lru-cache")} get()` },
      { id: "cashews", cashews: true, label: "cashews mem://" },
      { id: "bentocache", label: `bentocache ${v("bentocache")} getOrSet, memory driver (default: serialize)` },
      { id: "bentocache-live", label: `bentocache ${v("bentocache")} getOrSet, memory driver, serialize: false` },
      { id: "cache-manager", label: `cache-manager ${v("cache-manager")} wrap (default in-memory keyv ${v("keyv")})` },
      { id: "cacheable", label: `cacheable ${v("cacheable")} wrap (default memory store, hashed-args key)` },
      { id: "cachified", label: `@epic-web/cachified ${v("@epic-web/cachified")} + lru-cache (README adapter)` },
      { id: "async-cache-dedupe", label: `async-cache-dedupe ${v("async-cache-dedupe")} define (memory storage)` },
    ],
  },
  {
    id: "redis",
    title: "redis",
    unit: "µs",
    targetMs: Number(process.env.BENCH_MS ?? 400),
    contenders: [
      { id: "floor", floor: true, label: `floor: raw ioredis ${v("ioredis")} get + JSON.parse (sequential: plain client; in flight: enableAutoPipelining)` },
      { id: "cashews", cashews: true, label: "cashews redis://" },
      {
        id: "floor-timer",
        reference: true,
        label: "for reference: the floor with one idle 500 ms timer armed (as cashews' shared command-timeout timer is while a command is pending)",
      },
      { id: "cashews-unbounded", reference: true, label: "for reference: cashews redis:// with timeout: 0 (commands unbounded, no timer)" },
      { id: "bentocache", label: `bentocache ${v("bentocache")} getOrSet, L2 redis driver (ioredis ${v("ioredis")})` },
      { id: "cache-manager", label: `cache-manager ${v("cache-manager")} wrap + @keyv/redis ${v("@keyv/redis")} (node-redis ${v("@redis/client")})` },
      { id: "async-cache-dedupe", label: `async-cache-dedupe ${v("async-cache-dedupe")} define, redis storage (ioredis ${v("ioredis")})` },
    ],
  },
  {
    id: "signed",
    title: "signed",
    unit: "µs",
    targetMs: Number(process.env.BENCH_MS ?? 400),
    contenders: [
      { id: "floor", floor: true, label: "floor: cashews redis:// without secret" },
      { id: "signed", cashews: true, label: "cashews redis:// with secret (HMAC-SHA256)" },
    ],
  },
  {
    id: "clientside",
    title: "clientside",
    unit: "µs",
    targetMs: Number(process.env.BENCH_MS ?? 400),
    contenders: [
      { id: "floor", floor: true, label: "floor: cashews redis:// (every hit a Redis read)" },
      { id: "clientSide", cashews: true, label: "cashews redis://?clientSide=1 (local copy, invalidated by Redis)" },
    ],
  },
  {
    id: "upstash",
    title: "upstash",
    unit: "µs",
    targetMs: Number(process.env.BENCH_MS ?? 400),
    contenders: [
      {
        id: "floor",
        floor: true,
        label: `floor: raw @upstash/redis ${v("@upstash/redis")} get + JSON.parse (enableAutoPipelining: true, automaticDeserialization: false)`,
      },
      { id: "cashews", cashews: true, label: "cashews upstash+http://" },
      {
        id: "cashews-local",
        cashews: true,
        label: "cashews upstash+http:// with `local: { ttl: \"1h\" }` (namespace bench-local; local tier, invalidation bus over REST PUBLISH + SSE): local hits",
      },
      { id: "cashews-mem", reference: true, label: "for reference: cashews mem://?size=10000 (the memory tier's row, in this run: the local target's yardstick)" },
      {
        id: "bentocache",
        label: `bentocache ${v("bentocache")} getOrSet, memory L1 (default: serialize) + redis L2 + redis bus (ioredis ${v("ioredis")}, TCP to the same redis-server, not REST)`,
      },
    ],
  },
  {
    id: "edge",
    title: "edge (workerd)",
    unit: "µs",
    targetMs: Number(process.env.BENCH_MS ?? 400),
    contenders: [
      { id: "kv-raw", floor: true, label: "floor: raw Workers KV `JSON.parse(await env.KV.get(key))`" },
      { id: "kv-cashews", cashews: true, vs: "kv-raw", label: "cashews cloudflare-kv://KV (value in KV, expiry in metadata: `getWithMetadata`)" },
      {
        id: "kv-raw-meta",
        reference: true,
        vs: "kv-raw",
        label: "for reference: raw `env.KV.getWithMetadata(key, { type: \"text\" })`, expiry checked, `JSON.parse` (the backend's read, without cashews)",
      },
      { id: "cache-raw", floor: true, label: "floor: raw Cache API `JSON.parse(await (await caches.default.match(url)).text())`" },
      { id: "cache-cashews", cashews: true, vs: "cache-raw", label: "cashews cloudflare-cache:// (`caches.default`)" },
      {
        id: "kv-cashews-local",
        cashews: true,
        vs: "kv-raw",
        label: "cashews cloudflare-kv://KV?local=1&localTtl=1h (local tier, no bus): local hits (each chunk ends with one awaited KV read, see below)",
      },
      {
        id: "cache-cashews-local",
        cashews: true,
        vs: "cache-raw",
        label: "cashews cloudflare-cache://?local=1&localTtl=1h (local tier, no bus): local hits (each chunk ends with one awaited KV read)",
      },
      {
        id: "mem-cashews",
        reference: true,
        vs: "kv-raw",
        label: "for reference: cashews mem://?size=10000 in the same Worker (each chunk ends with one awaited KV read): the local target's yardstick",
      },
    ],
  },
];
/** The floor row `row`'s ratios are to: itself for a floor, the one named by `vs`, else the tier's first row. */
const floorRowOf = (row: Row, rows: Row[]): Row | undefined =>
  row.spec.floor ? row : row.spec.vs === undefined ? rows[0] : rows.find((r) => r.spec.id === row.spec.vs);

// ------------------------------------------------------------------ CPU placement
/**
 * On this kind of machine a loopback round trip costs ~30 µs when client and redis-server share a
 * core and ~100 µs across cores, and the scheduler picks per process: unpinned, one contender can
 * get the fast placement for a whole run and look 20–40 % quicker. So (when `taskset` exists and
 * there are at least 2 CPUs; BENCH_PIN=0 turns it off) redis-server runs on the last CPU and every
 * contender on the first: the same placement for all.
 */
const PIN: { server: string; clients: string } | undefined = (() => {
  if (process.env.BENCH_PIN === "0" || cpus().length < 2 || spawnSync("taskset", ["-V"]).status !== 0) return undefined;
  return { server: String(cpus().length - 1), clients: "0" };
})();

function pin(pid: number | undefined, cpu: string | undefined): void {
  if (pid === undefined || cpu === undefined) return;
  spawnSync("taskset", ["-a", "-pc", cpu, String(pid)], { stdio: "ignore" });
}

// ------------------------------------------------------------------ child processes
class Child {
  readonly proc: ChildProcess;
  #waiting: { resolve: (m: FromChild) => void; reject: (e: Error) => void } | undefined;
  #exited: Error | undefined;
  #firstError: string | undefined;

  constructor(readonly name: string) {
    this.proc = fork(CHILD, [], { cwd: ROOT, execArgv: ["--import", "tsx", "--expose-gc"], stdio: ["ignore", "inherit", "pipe", "ipc"] });
    pin(this.proc.pid, PIN?.clients);
    // Forward the child's stderr, and keep its first error line for the table.
    this.proc.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      process.stderr.write(text);
      this.#firstError ??= text.split("\n").find((line) => /\b\w*Error\b/.test(line))?.trim();
    });
    this.proc.on("message", (message: FromChild) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (!waiting) return;
      if (message.type === "error") waiting.reject(new Error(message.message));
      else waiting.resolve(message);
    });
    this.proc.on("exit", (code, signal) => {
      this.#exited = new Error(`child exited (code ${code}, signal ${signal})${this.#firstError ? `: ${this.#firstError}` : ""}`);
      this.#waiting?.reject(this.#exited);
      this.#waiting = undefined;
    });
  }

  request<T extends FromChild["type"]>(message: ToChild, timeoutMs = 180_000): Promise<Extract<FromChild, { type: T }>> {
    if (this.#exited) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        reject(new Error(`no answer to ${message.type} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#waiting = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<FromChild, { type: T }>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.proc.send(message);
    });
  }

  kill(): void {
    this.proc.kill("SIGKILL");
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    await closeChild(this.proc, { type: "close" } satisfies ToChild);
  }
}

// ------------------------------------------------------------------ edge: one workerd per contender

/** What the edge tier's Workers run with: nodejs_compat (async context on, as most Workers have it). */
const EDGE_FLAGS = ["nodejs_compat"];
let edgeBundle: Promise<WorkerBundle> | undefined;

/** The pids of this process's children that are workerd (to pin a new instance like the child processes are). */
function workerdChildren(): Set<number> {
  const out = spawnSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" });
  if (out.status !== 0) return new Set();
  return new Set(out.stdout.split("\n").flatMap((line) => (/^\s*(\d+)\s+workerd/.exec(line) ? [Number(/^\s*(\d+)/.exec(line)![1])] : [])));
}

/**
 * One edge contender: bench/edge-worker.ts in its own workerd instance (miniflare, in memory, a KV
 * namespace bound as KV, the Cache API on), answering the same requests as a child process: init
 * (`/init`), measure (`/measure`), close (dispose). The Worker times its hits itself.
 */
class EdgeChild {
  #mf: Promise<Miniflare>;
  #pid: number | undefined;

  constructor(readonly name: string, id: string) {
    this.#mf = (async () => {
      const { code } = await (edgeBundle ??= bundleWorker("bench/edge-worker.ts"));
      const before = workerdChildren();
      const mf = new Miniflare({
        modules: [{ type: "ESModule", path: "worker.mjs", contents: code }],
        compatibilityDate: COMPATIBILITY_DATE,
        compatibilityFlags: EDGE_FLAGS,
        kvNamespaces: ["KV"],
        cache: true,
        bindings: { CONTENDER: id },
      });
      await mf.ready;
      this.#pid = [...workerdChildren()].find((pid) => !before.has(pid));
      if (PIN && this.#pid === undefined) log(`  ${name}: workerd process not found: not pinned`);
      pin(this.#pid, PIN?.clients);
      return mf;
    })();
  }

  async #get(path: string): Promise<any> {
    const mf = await this.#mf;
    const response = await mf.dispatchFetch(`http://localhost${path}`);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  }

  async request<T extends FromChild["type"]>(message: ToChild): Promise<Extract<FromChild, { type: T }>> {
    if (message.type === "init") {
      const ready = await this.#get(`/init?targetMs=${message.targetMs}`);
      if (ready.tickNs !== undefined) log(`  ${this.name}: one awaited KV read (ends each chunk) costs ${(ready.tickNs / 1000).toFixed(0)} µs alone`);
      return { type: "ready", warmLoads: ready.warmLoads, opsSeq: ready.opsSeq, opsFlight: ready.opsFlight } as Extract<FromChild, { type: T }>;
    }
    if (message.type === "measure") {
      const m = await this.#get("/measure");
      return { type: "measured", seq: m.seq, flight: m.flight, loads: m.loads } as Extract<FromChild, { type: T }>;
    }
    throw new Error(`edge: no ${message.type}`);
  }

  kill(): void {
    void this.close();
  }

  async close(): Promise<void> {
    await (await this.#mf.catch(() => undefined))?.dispose();
  }
}

type Runner = Pick<Child, "request" | "kill" | "close">;

// ------------------------------------------------------------------ running a tier
interface Row {
  tier: Tier;
  spec: Spec;
  failure?: string;
  seq?: number;
  flight?: number;
  /** Per round (by round index; a hole where the contender did not run). */
  samples: { seq: number[]; flight: number[] };
  /** Half the interquartile range over the median, per mode. */
  spread?: { seq: number; flight: number };
  warmLoads?: number;
  timedLoads: number;
  ops?: { seq: number; flight: number };
  requests?: number;
  commands?: number;
  burstLoads?: number;
}

/** (p75 - p25) / 2 / median. */
function spread(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))]!;
  return (at(0.75) - at(0.25)) / 2 / median(xs);
}

const firstLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 200);

/** One child process per contender (set up one after another: warm-up and sizing are not disturbed by the others); a contender that fails is marked and left out. */
async function startChildren(tier: Tier, env: Env, rows: Row[], block: number): Promise<Map<Row, Runner>> {
  const children = new Map<Row, Runner>();
  for (const [index, row] of rows.entries()) {
    if (row.failure) continue;
    const name = `${tier.id}/${row.spec.id}`;
    const child: Runner = tier.id === "edge" ? new EdgeChild(name, row.spec.id) : new Child(name);
    try {
      const ready = await child.request<"ready">({ type: "init", tier: tier.id, id: row.spec.id, env: { ...env, db: index + 1 }, targetMs: tier.targetMs });
      row.warmLoads ??= ready.warmLoads; // the first processes fill the cache; later ones may find it filled (Redis)
      row.ops ??= { seq: ready.opsSeq, flight: ready.opsFlight };
      children.set(row, child);
      if (block === 0) log(`  ${tier.id}/${row.spec.id}: ready (warm-up loads ${ready.warmLoads}, ${ready.opsSeq} sequential / ${ready.opsFlight} in-flight calls per measurement)`);
    } catch (error) {
      row.failure = `could not run: ${firstLine(error)}`;
      log(`  ${tier.id}/${row.spec.id}: FAILED ${row.failure}`);
      child.kill();
    }
  }
  return children;
}

async function runTier(tier: Tier, env: Env, upstash?: UpstashServer): Promise<Row[]> {
  const only = process.env.BENCH_ONLY?.split(",").map((id) => id.trim());
  const specs = only ? tier.contenders.filter((spec) => spec.floor || only.includes(spec.id)) : tier.contenders;
  const rows: Row[] = specs.map((spec) => ({ tier, spec, timedLoads: 0, samples: { seq: [], flight: [] } }));
  let children = new Map<Row, Runner>();
  const PROCESSES = processesOf(tier.id);
  for (let block = 0; block < PROCESSES; block++) {
    const first = Math.round((block * ROUNDS) / PROCESSES);
    const end = Math.round(((block + 1) * ROUNDS) / PROCESSES);
    if (block > 0) for (const child of children.values()) await child.close();
    children = await startChildren(tier, env, rows, block);
    for (let round = first; round < end; round++) {
      const live = rows.filter((row) => children.has(row));
      const order = live.map((_, k) => live[(k + round) % live.length]!);
      for (const row of order) {
        try {
          const m = await children.get(row)!.request<"measured">({ type: "measure" });
          row.samples.seq[round] = m.seq;
          row.samples.flight[round] = m.flight;
          row.timedLoads += m.loads;
        } catch (error) {
          row.failure = `failed in round ${round + 1}: ${firstLine(error)}`;
          children.get(row)!.kill();
          children.delete(row);
        }
      }
      log(`  ${tier.id}: round ${round + 1}/${ROUNDS} done`);
    }
    if (PROCESSES > 1) {
      // What each block's processes got: block-to-block differences well beyond the spread are per-process luck.
      const ratios = rows
        .filter((row) => !row.spec.floor)
        .map((row) => {
          const floor = floorRowOf(row, rows)!;
          const r = (mode: "seq" | "flight") => fmtRatio(pairedRatio(row.samples[mode], floor.samples[mode], first, end));
          return `${row.spec.id} ${r("seq")} / ${r("flight")}`;
        });
      log(`  ${tier.id}: processes ${block + 1}/${PROCESSES} (rounds ${first + 1}–${end}), × floor sequential / in flight: ${ratios.join(", ")}`);
    }
  }
  if (upstash) {
    for (const row of rows.filter((r) => children.has(r))) {
      const requests: number[] = [];
      const commands: number[] = [];
      row.burstLoads = 0;
      for (let b = 0; b < BURSTS; b++) {
        upstash.resetCount();
        const done = await children.get(row)!.request<"burst-done">({ type: "burst" });
        requests.push(upstash.requests);
        commands.push(upstash.commands);
        row.burstLoads += done.loads;
      }
      row.requests = median(requests);
      row.commands = median(commands);
    }
  }
  for (const [row, child] of children) {
    const seq = row.samples.seq.filter((x) => x !== undefined);
    const flight = row.samples.flight.filter((x) => x !== undefined);
    if (seq.length) {
      row.seq = median(seq);
      row.flight = median(flight);
      row.spread = { seq: spread(seq), flight: spread(flight) };
    }
    await child.close();
  }
  return rows;
}

// ------------------------------------------------------------------ table
const fmt = (ns: number | undefined, unit: Tier["unit"], spread?: number): string =>
  ns === undefined
    ? "–"
    : (unit === "ns" || ns < 1000 ? `${Math.round(ns)} ns` : `${(ns / 1000).toFixed(1)} µs`) + (spread === undefined ? "" : ` ±${Math.round(spread * 100)}%`);
/** Paired ratio a/b: the median over the rounds where both ran of that round's a/b (robust to load drifting between rounds). */
function ratio(a: Row, b: Row | undefined, mode: "seq" | "flight"): number | undefined {
  if (!b || a.seq === undefined || b.seq === undefined) return undefined;
  return pairedRatio(a.samples[mode], b.samples[mode]);
}
/** The median over rounds `from`..`to` (exclusive) where both ran of that round's a/b. */
function pairedRatio(a: number[], b: number[], from = 0, to = a.length): number | undefined {
  const xs: number[] = [];
  for (let r = from; r < to; r++) if (a[r] !== undefined && b[r] !== undefined) xs.push(a[r]! / b[r]!);
  return xs.length ? median(xs) : undefined;
}
const fmtRatio = (r: number | undefined): string => (r === undefined ? "–" : r < 0.1 ? `${r.toPrecision(2)}×` : `${r.toFixed(2)}×`);
const verdict = (ok: boolean): string => (ok ? "PASS" : "**MISS**");

function targetCell(row: Row, rows: Row[]): string {
  const floor = floorRowOf(row, rows);
  const rs = ratio(row, floor, "seq");
  const rf = ratio(row, floor, "flight");
  if (row.spec.floor || row.seq === undefined || rs === undefined || rf === undefined) return "";
  const { tier } = row;
  if (!row.spec.cashews) return "";
  const limit = (max: number, name: string) => `${name} ≤ ${max}×: seq ${verdict(rs <= max)}, in flight ${verdict(rf <= max)}`;
  if (tier.id === "memory") return limit(1.5, "floor");
  if (tier.id === "signed") return limit(1.3, "unsigned");
  if (tier.id === "edge" && row.spec.id.endsWith("-local")) {
    const mem = rows.find((r) => r.spec.id === "mem-cashews");
    const vs = (["seq", "flight"] as const).map((mode) => ratio(row, mem, mode));
    if (vs.some((r) => r === undefined)) return "mem:// hit ≤ 1.5×: mem-cashews not measured";
    return `mem:// hit (in workerd) ≤ 1.5×: seq ${vs[0]!.toFixed(2)}× ${verdict(vs[0]! <= 1.5)}, in flight ${vs[1]!.toFixed(2)}× ${verdict(vs[1]! <= 1.5)}`;
  }
  if (tier.id === "edge") return limit(1.15, "raw binding call");
  if (tier.id === "clientside") {
    const speedup = (r: number) => `${(1 / r).toFixed(1)}× ${verdict(1 / r >= 20)}`;
    return `throughput ≥ 20× plain redis://: seq ${speedup(rs)}, in flight ${speedup(rf)}`;
  }
  if (tier.id === "upstash" && row.spec.id === "cashews-local") {
    // Issue 16, item 6: a local hit within 1.5× of a mem:// hit (same machine, same run), ahead of bentocache's memory L1 (+ Redis, bus).
    const mem = rows.find((r) => r.spec.id === "cashews-mem");
    const remote = rows.find((r) => r.spec.id === "cashews");
    const parts: string[] = [];
    const vsMem = (["seq", "flight"] as const).map((mode) => ratio(row, mem, mode));
    parts.push(
      vsMem.every((r) => r !== undefined)
        ? `mem:// hit ≤ 1.5×: seq ${vsMem[0]!.toFixed(2)}× ${verdict(vsMem[0]! <= 1.5)}, in flight ${vsMem[1]!.toFixed(2)}× ${verdict(vsMem[1]! <= 1.5)}`
        : "mem:// hit ≤ 1.5×: cashews-mem not measured",
    );
    const bentos = rows.filter((r) => r.spec.id.startsWith("bentocache"));
    for (const peer of bentos) {
      const rs2 = ratio(row, peer, "seq");
      const rf2 = ratio(row, peer, "flight");
      parts.push(
        rs2 === undefined || rf2 === undefined || peer.failure
          ? `${peer.spec.id}: not measured`
          : `ahead of ${peer.spec.id}: seq ${rs2.toFixed(2)}× ${verdict(rs2 < 1)}, in flight ${rf2.toFixed(2)}× ${verdict(rf2 < 1)}`,
      );
    }
    const rr = (["seq", "flight"] as const).map((mode) => ratio(row, remote, mode));
    if (rr.every((r) => r !== undefined)) parts.push(`${(1 / rr[0]!).toFixed(0)}× / ${(1 / rr[1]!).toFixed(0)}× the remote cashews row's throughput`);
    return parts.join("; ");
  }
  if (tier.id === "redis") {
    const peers = rows.filter((r) => !r.spec.floor && !r.spec.cashews && !r.spec.reference);
    const measured = peers.filter((r) => r.seq !== undefined && !r.failure);
    const behind = measured.flatMap((peer) =>
      (["seq", "flight"] as const).flatMap((mode) => {
        const r = ratio(row, peer, mode);
        return r !== undefined && r >= 1 ? [`${r.toFixed(2)}× ${peer.spec.id} ${mode === "seq" ? "sequential" : "in flight"}`] : [];
      }),
    );
    const unmeasured = peers.length - measured.length;
    return (
      `${limit(1.1, "raw")}; ahead of every peer: ${verdict(behind.length === 0)}` +
      (behind.length ? ` (${behind.join(", ")})` : "") +
      (unmeasured ? ` (${unmeasured} peer(s) not measured)` : "")
    );
  }
  return "";
}

function table(all: Row[][]): string {
  const lines = [
    "| tier | contender | sequential | × floor | 100 in flight | × floor | loads: warm-up / timed | target (cashews) / notes |",
    "|---|---|--:|--:|--:|--:|--:|---|",
  ];
  for (const rows of all) {
    for (const row of rows) {
      const floor = floorRowOf(row, rows);
      const { tier } = row;
      const warm = row.warmLoads === undefined ? "–" : String(row.warmLoads);
      const timedBad = row.timedLoads > 0 || (row.burstLoads ?? 0) > 0;
      const loads = timedBad ? `**FAIL ${warm} / ${row.timedLoads + (row.burstLoads ?? 0)}**` : `${warm} / ${row.seq === undefined ? "–" : 0}`;
      const notes: string[] = [];
      const target = targetCell(row, rows);
      if (target) notes.push(target);
      if (row.requests !== undefined) notes.push(`${row.requests} HTTP request(s), ${row.commands} command(s) per ${WIDTH} concurrent hits`);
      if (row.failure) notes.push(`**${row.failure}**`);
      if (timedBad) notes.push("**misses were timed: row invalid**");
      lines.push(
        `| ${tier.title} | ${row.spec.label} | ${fmt(row.seq, tier.unit, row.spread?.seq)} | ${fmtRatio(ratio(row, floor, "seq"))} | ${fmt(row.flight, tier.unit, row.spread?.flight)} | ${fmtRatio(ratio(row, floor, "flight"))} | ${loads} | ${notes.join("; ")} |`,
      );
    }
  }
  return lines.join("\n");
}

// ------------------------------------------------------------------ main
const started = Date.now();
const loadAtStart = loadavg()[0]!;
const network = TIERS.some((t) => t !== "memory" && t !== "edge");
let redis: RedisServer | undefined;
let upstash: UpstashServer | undefined;
const results: Row[][] = [];
const invalidation: InvalidationResult[] = [];
const invalidationFailures: string[] = [];
let redisVersion = "";
let ratelimitDoc: string | undefined;
try {
  if (network) {
    redis = await startRedis();
    pin(redis.pid, PIN?.server);
    redisVersion = execFileSync(process.env.REDIS_SERVER_BIN ?? "redis-server", ["--version"], { encoding: "utf8" }).match(/v=(\S+)/)?.[1] ?? "?";
  }
  for (const tier of tiers.filter((t) => TIERS.includes(t.id))) {
    log(`${tier.id} tier: ${tier.contenders.length} contenders, ${ROUNDS} rounds`);
    const env: Env = {};
    if (redis) {
      const admin = new Redis(redis.url);
      await admin.flushall();
      admin.disconnect();
      env.redisUrl = redis.url;
    }
    if (tier.id === "upstash") {
      upstash = await startUpstashServer({ redisUrl: redis!.url });
      env.upstashUrl = upstash.url;
      env.upstashToken = upstash.token;
    }
    results.push(await runTier(tier, env, tier.id === "upstash" ? upstash : undefined));
    if (tier.id === "upstash" && INV_WRITES > 0) {
      // Issue 16, item 6: cross-instance invalidation latency of the local tier (bench/invalidation.ts), on this tier's servers.
      for (const kind of INV_KINDS) {
        log(`upstash tier: invalidation latency, ${kind}, ${INV_WRITES} writes`);
        const invEnv = { upstashUrl: upstash!.url, upstashToken: upstash!.token, redisUrl: redis!.url, db: 14 };
        try {
          invalidation.push(await measureInvalidation(kind, invEnv, INV_WRITES));
        } catch (error) {
          log(`upstash tier: invalidation latency, ${kind}: FAILED ${firstLine(error)}`);
          invalidationFailures.push(`${kind}: ${firstLine(error)}`);
        }
      }
    }
    if (upstash) {
      await upstash.stop();
      upstash = undefined;
    }
  }
  if (TIERS.includes("ratelimit")) {
    // Issue 18, item 4: bench/ratelimit.ts on this run's redis-server (its own REST server and counting proxy).
    log("ratelimit tier");
    const admin = new Redis(redis!.url);
    await admin.flushall();
    admin.disconnect();
    ratelimitDoc = await measureRatelimit({
      redisUrl: redis!.url,
      pin: (pid) => pin(pid, PIN?.clients),
      placement: PIN
        ? `CPU placement: redis-server pinned to CPU ${PIN.server}, every contender's process to CPU ${PIN.clients} (\`taskset\`); the REST server and the proxy (the suite's process) not pinned.`
        : "CPU placement: not pinned.",
      redisVersion,
    });
  }
} finally {
  await upstash?.stop();
  await redis?.stop();
}


const cpu = cpus();
const memory = tiers.find((t) => t.id === "memory")!.targetMs;
const net = tiers.find((t) => t.id === "redis")!.targetMs;
const header = [
  "# cashews vs peers: cached hits",
  "",
  `- Date: ${new Date().toISOString().slice(0, 10)}; Node ${process.version} on ${platform()} ${arch()}; ${cpu.length} × ${cpu[0]?.model.trim() ?? "?"}; ${Math.round(totalmem() / 2 ** 30)} GiB` +
    (redisVersion ? `; redis-server ${redisVersion} (local, same machine)` : "") +
    `; 1-min load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`,
  `- ${gitState()}.`,
  !PIN
    ? "- CPU placement: not pinned (no `taskset`, one CPU, or BENCH_PIN=0): network-tier sequential times vary with where the scheduler puts each process."
    : network
      ? `- CPU placement: redis-server pinned to CPU ${PIN.server}, every contender's process (edge: workerd instance) to CPU ${PIN.clients} (\`taskset\`; the same placement for all; BENCH_PIN=0 turns it off).`
      : `- CPU placement: every contender's process (edge: workerd instance) pinned to CPU ${PIN.clients} (\`taskset\`; the same placement for all; BENCH_PIN=0 turns it off).`,
  `- ${KEYS} keys warmed first (one load each), then only hits are timed: the memoised function counts its calls (loads), which must stay 0 in the timed rounds.`,
  `- Each contender in its own child process (\`node --import tsx --expose-gc\`; edge tier: its own workerd instance, see below); ${ROUNDS} interleaved rounds (order rotated each round), split into ${TIERS.every((t) => t === "edge") ? processesOf("edge") : `${PROCESSES} (edge: ${processesOf("edge")})`} block(s) with fresh processes each (what one process gets by chance, e.g. JIT decisions, lasts its life); per round and contender one sequential and one in-flight measurement (${WIDTH} calls per \`Promise.all\`), each ≈ ${memory} ms (memory) / ${net} ms (network tiers), timed in ${CHUNKS} chunks and reported as the median chunk. Times are medians over the rounds (±: half the interquartile range, relative to the median); ratios are paired: the median over rounds of (contender ÷ the tier's floor, first row; edge: the raw call of the same backend) in the same round, so they can differ from the ratio of the medians.`,
  ...(TIERS.includes("edge")
    ? [
        `- Edge tier: every contender is bench/edge-worker.ts (bundled with esbuild like the Worker tests) in its own workerd instance: miniflare ${v("miniflare")} (workerd ${v("workerd")}), compatibility date ${COMPATIBILITY_DATE}, flags ${EDGE_FLAGS.join(", ")}, in-memory KV namespace and Cache API (miniflare's simulators, inside the same workerd process), workerd ${PIN ? `pinned to CPU ${PIN.clients}` : "not pinned"}. The Worker times the hits itself, in the isolate; this process only sends \`/init\` and \`/measure\`. workerd's clock advances only when I/O completes, and every hit awaits a binding call, so each chunk is timed from one I/O completion to another (1 ms resolution, chunks of ~40 ms).`,
      ]
    : []),
  "- Run: `npm run bench` (`BENCH_TIER=memory|redis|signed|clientside|upstash|edge|ratelimit`, `BENCH_ROUNDS`, `BENCH_MS`, `BENCH_PROCESSES`). Wall time of this run: " +
    `${Math.round((Date.now() - started) / 1000)} s.`,
  "",
].join("\n");
const notes = [
  "",
  "Notes:",
  "- Every contender memoises the same `load(i)` (returns `{ id, name, tags, price }`) with a 1 h TTL, through its natural API: cashews `cache({ ttl, key: \"item:{i}\" })(load)`, bentocache `getOrSet`, cache-manager `wrap(key, fn, ttl)`, cacheable `wrap(fn, { ttl, keyPrefix })`, cachified `cachified({ key, cache, getFreshValue, ttl })`, async-cache-dedupe `define`. Peers that take a key get the prebuilt `item:<i>` string; cashews renders its template per call.",
  "- Redis tier: each contender has its own database on one local redis-server; peers' clients use their defaults (no auto-pipelining); cashews writes a lone GET at once and sends the GETs issued together in one tick as one MGET. cache-manager's Redis store (@keyv/redis 5) is node-redis, not ioredis. bentocache declares `ioredis ^5.3.2` as an optional peer; it runs here on the root's ioredis 6.0.0 (the same client as the floor and cashews).",
  "- Versions pinned in bench/package.json (`npm --prefix bench ci`). keyv is pinned to 5.6.0: keyv 6 needs Node ≥ 22.19 (and @cacheable/utils 3 needs Node ≥ 22.18), so cache-manager 7 / cacheable 2 stay on their Node 20 dependency line.",
  "- Upstash tier: the REST server (test/support/upstash-server.ts) runs in the benchmark's parent process in front of the same redis-server, so three processes share the CPUs; requests and commands are the server's counters for one burst of 100 concurrent hits (median of 5 bursts).",
  "- Edge tier: values are ~110-byte JSON objects (`{ id, name, sku, tags, price, stock, updatedAt }`), 1000 keys, 1 h TTL. The raw floors read prebuilt keys / URLs (`item:<i>`, `https://bench.internal/raw/item%3A<i>`) and `JSON.parse` the text; cashews runs `cache({ ttl: \"1h\", key: \"item:{i}\" })(load)` in a Worker wrapped by `withCache({ setup: () => \"cloudflare-kv://KV\" })` (or `\"cloudflare-cache://\"`), so a hit also renders the key, reads the expiry (KV metadata / an `x-cashews-expires` header) and decodes with the typed codec (a plain `JSON.parse` for such values). Absolute times are miniflare's local simulators (each a Durable Object over SQLite and a blob store, reached by the binding as a subrequest), not Cloudflare's network: on the platform the I/O is slower and cashews' share smaller.",
  "- Local tier (issue 16, item 6), upstash tier: `cashews-local` is cashews on `upstash+http://` with `local: { ttl: \"1h\" }` (a local ttl of 1 h so every timed call is a local hit; the default 5 s would re-read each key from Upstash once per 5 s), its own namespace; its hits are compared with `cashews-mem` (cashews `mem://?size=10000`, the memory tier's row, run in this tier so both are measured in the same run on the same machine) and with bentocache's documented hybrid store (memory L1 + redis L2 + redis bus; `serialize: false` on the L1 is not run: in 1.6.1 it throws `Cannot read properties of undefined (reading 'deserialize')` when an instance reads an L2 entry another one wrote). These processes enter no cashews scope, so a hit takes the synchronous `peek` path.",
  "- Local tier, edge tier: `kv-cashews-local` / `cache-cashews-local` run the same Worker with `?local=1&localTtl=1h` (no bus on these schemes: the local ttl bounds staleness; 1 h so every timed call is a local hit), `mem-cashews` with `mem://?size=10000`. A local hit does no I/O, and on Cloudflare workerd's clock does not move without I/O (locally, through miniflare, it does, in 1 ms steps), so for these three each chunk ends with one awaited KV read of a missing key before its end is read: a chunk is the CPU of its hits plus that one read (~0.25–0.5 ms, logged at start), i.e. the times overstate by that read spread over the chunk's hits (~1 % at the default 400 ms per measurement). Inside `withCache` a scope is entered, and from then on cashews takes its scoped hit path (`core.read`) instead of `peek` for every hit of the isolate; since 64e451f that path too answers a local hit with the copy's decoded value (before, it decoded the kept text on every hit: bench/edge-local-profile.ts, results/local-tier.md).",
  "- Invalidation latency (upstash tier, bench/invalidation.ts): two processes on the same REST server, each with `local`; per write the reader reads the key (its local copy), then polls `get` in a tight `setImmediate` loop while the writer runs `cache.set`; the time is from the writer's call start to the reader's `get` returning the new value, both stamped with `process.hrtime.bigint()` (CLOCK_MONOTONIC, one clock for the machine). The two processes are not pinned; the reader's poll loop keeps one CPU busy, and the REST server (this process) and redis-server share the machine's CPUs with them. bentocache: the same with its memory L1 + redis L2 + redis bus.",
  "- The machine is shared (other work may run during the benchmark): treat differences under ~10 % as noise.",
].join("\n");

const ratelimitOnly = TIERS.every((t) => t === "ratelimit");
const body =
  table(results) +
  (invalidation.length || invalidationFailures.length
    ? `\n\n${invalidation.length ? invalidationTable(invalidation) : ""}${invalidationFailures.map((f) => `\n\n**invalidation latency failed: ${f}**`).join("")}`
    : "");
const full = TIERS.length === ALL_TIERS.length;
const doc = ratelimitOnly ? `${ratelimitDoc}\n` : `${header}\n${body}\n${notes}\n${ratelimitDoc !== undefined && !full ? `\n${ratelimitDoc}\n` : ""}`;
console.log(`\n${doc}${full && ratelimitDoc !== undefined ? `\n${ratelimitDoc}\n` : ""}`);
const out = process.env.BENCH_OUT ?? (full ? join(BENCH, "results", "latest.md") : undefined);
if (out) {
  writeFileSync(out, doc);
  log(`written to ${out}`);
}
if (full && ratelimitDoc !== undefined) {
  // A full run: the rate-limit tier's report in its own file.
  const file = join(BENCH, "results", "ratelimit.md");
  writeFileSync(file, `${ratelimitDoc}\n`);
  log(`written to ${file}`);
}
const invalid = results.flat().filter((r) => r.timedLoads > 0 || (r.burstLoads ?? 0) > 0);
if (invalid.length) {
  log(`FAIL: loads during timed rounds in ${invalid.map((r) => `${r.tier.id}/${r.spec.id}`).join(", ")}`);
  process.exitCode = 1;
}
