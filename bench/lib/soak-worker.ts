/**
 * One soak process (bench/soak.ts forks two: `--import tsx --expose-gc`). For every backend it is
 * given it runs, concurrently until the deadline, these actors on one `Cache` (`safe: false`, so a
 * failure is an error, never a silent miss that would look like a wrong answer):
 *
 * - `OWN_ACTORS` owner actors, each alone on its keys (`<run>:p<proc>:a<actor>:…`), checked
 *   exactly against a {@link KeyModel}: get (hit / miss), getMany, set with a tag, delete (its
 *   boolean), getOrSet (factory called iff a miss), incr, a decorated call (`cache.cache` with a
 *   tag: computed iff a miss), delete of its key, and deleteTags followed by a read of every key
 *   that carried the tag (all misses).
 * - one shared writer: versioned writes to `<run>:shared:p<proc>:<j>`, each announced to this
 *   process's {@link SharedVersions} and, through the parent, to the other process's (whose
 *   bound runs from when it receives the announcement);
 * - one shared reader: reads every process's shared keys (on `redis://` with `clientSide`, mostly
 *   from its local copy) against {@link SharedVersions};
 * - `LOCK_ACTORS` lock actors on two lock keys: inside the lock, set an owner marker, wait 0–3 ms,
 *   read the marker back (another holder would have overwritten it); each section's times go to
 *   the parent, which checks that no two overlap;
 * - one limiter actor: bursts of calls to one fixed-window limiter id shared by both processes (on
 *   `mem://`, by this process's actors only); every decision goes to the parent.
 *
 * Heap used (after `gc()`) is sampled every `sampleMs`, event-loop delay is monitored throughout,
 * and every operation is timed into a fixed-size histogram.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { Cache, LockedError } from "../../src/index.js";
import "../../src/redis.js";
import "../../src/upstash.js";
import { KeyModel, SharedVersions, type LimitDecision, type LockInterval, type OwnedValue, type WrongAnswer } from "./soak-check.js";
import { Histogram, type HeapSample } from "./soak-stats.js";

/** A backend of the run: its name in reports, the setup URL and options. */
export interface SoakBackend {
  name: string;
  url: string;
  options: Record<string, unknown>;
  /** Whether both processes share the store (false for `mem://`: each process has its own). */
  shared: boolean;
}

/** What the parent sends a worker first. */
export interface SoakWorkerConfig {
  proc: number;
  run: string;
  backends: SoakBackend[];
  durationMs: number;
  sampleMs: number;
  boundMs: number;
  limiter: { limit: number; periodMs: number };
  lockTtlMs: number;
  /** mem:// owner actors wait this long between operations (0: only yield to the event loop). */
  memPauseMs: number;
  /** Delete owned keys behind the models' back (to prove the checks fire); never in a real run. */
  sabotage?: boolean;
}

/** Messages from the parent (bench/lib/soak-run.ts) to a worker. */
export type ToWorker =
  | { type: "start"; config: SoakWorkerConfig }
  | { type: "go" }
  | { type: "wrote"; backend: string; key: string; version: number; at: number }
  | { type: "close"; clear: boolean };

/** Per backend, what one worker measured and found. */
export interface WorkerBackendReport {
  ops: Record<string, { count: number; errors: number; histogram: number[] }>;
  wrong: number;
  wrongFirst: WrongAnswer[];
  errorFirst: string[];
  sharedChecked: number;
}

/** A worker's final report. */
export interface WorkerReport {
  proc: number;
  backends: Record<string, WorkerBackendReport>;
  loopDelay: { p50: number; p99: number; max: number };
  gcExposed: boolean;
}

/** Messages from a worker to the parent. */
export type FromWorker =
  | { type: "ready" }
  | { type: "wrote"; backend: string; key: string; version: number; at: number }
  | {
      type: "log";
      heap?: HeapSample;
      limits: Record<string, LimitDecision[]>;
      locks: Record<string, LockInterval[]>;
      /** Every decision logged later has `reset >=` limits; every section logged later was acquired at or after locks. */
      watermarks: { limits: number; locks: number };
    }
  | { type: "done"; report: WorkerReport }
  | { type: "closed" }
  | { type: "error"; message: string };

const OWN_ACTORS = 4;
const OWN_KEYS = 48;
const GOS_KEYS = 12;
const COUNTERS = 4;
const FN_ARGS = 12;
const TAGS = 4;
const SHARED_KEYS = 8;
const LOCK_ACTORS = 2;
const LOCK_KEYS = 2;
const LIMIT_BURST = 4;
const LIMIT_PAUSE_MS = 50;
const FIRST_KEPT = 5;
/** monitorEventLoopDelay records whole sampling intervals: the delay is what exceeds this. */
const LOOP_RESOLUTION_MS = 10;

/** One clock for every process of the machine (CLOCK_MONOTONIC), in ms. */
const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const send = (message: FromWorker): void => void process.send!(message);
const pick = (n: number): number => Math.floor(Math.random() * n);
const gc = (globalThis as { gc?: () => void }).gc;

let config: SoakWorkerConfig;
const sharedByBackend = new Map<string, SharedVersions>();
const pendingLimits: Record<string, LimitDecision[]> = {};
const pendingLocks: Record<string, LockInterval[]> = {};
/** Limiter calls in flight (their start, Date.now()) and lock sections in progress (acquired, hrtime ms): the watermarks. */
const limitsInFlight = new Set<{ start: number }>();
const locksHeld = new Set<{ acquired: number }>();
const caches = new Map<string, Cache>();
let goResolve: () => void;
const go = new Promise<void>((resolve) => (goResolve = resolve));

class Recorder {
  readonly ops = new Map<string, { count: number; errors: number; histogram: Histogram }>();
  wrong = 0;
  readonly wrongFirst: WrongAnswer[] = [];
  readonly errorFirst: string[] = [];

  op(name: string): { count: number; errors: number; histogram: Histogram } {
    let op = this.ops.get(name);
    if (!op) this.ops.set(name, (op = { count: 0, errors: 0, histogram: new Histogram() }));
    return op;
  }

  /** Times `fn` as operation `name` (renamed by `classify` once the answer is known, e.g. get → get-hit). */
  async time<T>(name: string, fn: () => Promise<T>, classify?: (result: T) => string): Promise<T> {
    const t0 = now();
    try {
      const result = await fn();
      const op = this.op(classify ? classify(result) : name);
      op.count++;
      op.histogram.record(now() - t0);
      return result;
    } catch (error) {
      this.op(name).errors++;
      if (this.errorFirst.length < FIRST_KEPT) this.errorFirst.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
  }

  flag(wrong: WrongAnswer | undefined): void {
    if (!wrong) return;
    this.wrong++;
    if (this.wrongFirst.length < FIRST_KEPT) this.wrongFirst.push(wrong);
  }

  report(sharedChecked: number): WorkerBackendReport {
    const ops: WorkerBackendReport["ops"] = {};
    for (const [name, op] of this.ops) ops[name] = { count: op.count, errors: op.errors, histogram: op.histogram.counts };
    return { ops, wrong: this.wrong, wrongFirst: this.wrongFirst, errorFirst: this.errorFirst, sharedChecked };
  }
}

/** Runs `step` until the deadline; a failed step is counted by the recorder and the loop goes on. */
async function loop(deadline: number, inMemory: boolean, step: () => Promise<void>): Promise<void> {
  while (now() < deadline) {
    try {
      await step();
    } catch {
      // counted (errors) by Recorder.time; the key involved was set aside by the step
    }
    // mem:// answers in microtasks: let timers, IPC and the other backends run (or pause).
    if (inMemory) await (config.memPauseMs > 0 ? sleep(config.memPauseMs) : yieldToLoop());
  }
}

function ownerActor(cache: Cache, backend: SoakBackend, rec: Recorder, actor: number, deadline: number): Promise<void> {
  const who = `p${config.proc}.a${actor}`;
  const base = `${config.run}:p${config.proc}:a${actor}`;
  const model = new KeyModel(`${backend.name}:${who}`);
  const tag = (j: number): string => `${base}:tag:${j}`;
  const kvKey = (i: number): string => `${base}:k${i}`;
  const gosKey = (i: number): string => `${base}:g${i}`;
  const counterKey = (i: number): string => `${base}:c${i}`;
  const fnKey = (n: number): string => `${base}:fn:${n}`;
  /** Keys whose state is unknown after a failed command (it may still land): never checked again. */
  const unknown = new Set<string>();
  let seq = 0;
  const fresh = (): OwnedValue => ({ seq: ++seq, owner: who, at: new Date(Date.now()) });
  let computed: OwnedValue | undefined;
  const compute = cache.cache({ ttl: "1h", key: `${base}:fn:{n}`, tags: [`${base}:tag:{t}`] })(async function compute(n: number, t: number) {
    void n;
    void t;
    computed = fresh();
    return computed;
  });
  const guard = async (keys: readonly string[], body: () => Promise<void>): Promise<void> => {
    if (keys.some((k) => unknown.has(k))) return;
    try {
      await body();
    } catch (error) {
      for (const k of keys) {
        unknown.add(k);
        model.deleted(k);
      }
      throw error;
    }
  };
  /** Deletes one owned key: the answer is whether the model holds it. */
  const remove = (key: string): Promise<void> =>
    guard([key], async () => {
      const had = model.has(key);
      const ok = await rec.time("delete", () => cache.delete(key));
      if (ok !== had) rec.flag({ check: "delete", where: `${backend.name}:${who}`, detail: `${key}: delete answered ${String(ok)}, the key ${had ? "existed" : "was missing"}` });
      model.deleted(key);
    });
  const steps: [weight: number, step: () => Promise<void>][] = [
    [30, () => {
      const key = kvKey(pick(OWN_KEYS));
      return guard([key], async () => {
        const hit = model.has(key);
        const got = await rec.time("get", () => cache.get(key), () => (hit ? "get-hit" : "get-miss"));
        rec.flag(model.check("get", key, got));
      });
    }],
    [4, () => {
      const keys = Array.from({ length: 8 }, () => kvKey(pick(OWN_KEYS)));
      return guard(keys, async () => {
        const got = await rec.time("getMany", () => cache.getMany(keys));
        keys.forEach((key, i) => rec.flag(model.check("getMany", key, got[i])));
      });
    }],
    [14, () => {
      const i = pick(OWN_KEYS);
      const key = kvKey(i);
      const tags = [tag(i % TAGS)];
      return guard([key], async () => {
        const value = fresh();
        const ok = await rec.time("set", () => cache.set(key, value, { expire: Math.random() < 0.5 ? "1h" : undefined, tags }));
        if (ok !== true) rec.flag({ check: "set", where: `${backend.name}:${who}`, detail: `${key}: set answered ${String(ok)}` });
        model.wrote(key, value, tags);
      });
    }],
    [5, () => remove(Math.random() < 0.5 ? kvKey(pick(OWN_KEYS)) : fnKey(pick(FN_ARGS)))],
    [10, () => {
      const key = gosKey(pick(GOS_KEYS));
      return guard([key], async () => {
        const hit = model.has(key);
        let made: OwnedValue | undefined;
        const got = await rec.time("getOrSet", () => cache.getOrSet(key, () => (made = fresh()), { expire: "1h" }), () => (hit ? "getOrSet-hit" : "getOrSet-miss"));
        if (hit && made) rec.flag({ check: "getOrSet", where: `${backend.name}:${who}`, detail: `${key}: the factory ran although the key held a value` });
        if (!hit) {
          if (!made) rec.flag({ check: "getOrSet", where: `${backend.name}:${who}`, detail: `${key}: a miss did not run the factory` });
          else model.wrote(key, made);
        }
        rec.flag(model.check("getOrSet", key, got));
      });
    }],
    [2, () => remove(gosKey(pick(GOS_KEYS)))],
    [5, () => {
      const key = counterKey(pick(COUNTERS));
      return guard([key], async () => {
        const expected = ((model.expected(key) as number | undefined) ?? 0) + 1;
        const got = await rec.time("incr", () => cache.incr(key));
        if (got !== expected) rec.flag({ check: "incr", where: `${backend.name}:${who}`, detail: `${key}: incr answered ${got}, expected ${expected}` });
        model.wrote(key, expected);
      });
    }],
    [16, () => {
      const n = pick(FN_ARGS);
      const key = fnKey(n);
      return guard([key], async () => {
        const hit = model.has(key);
        computed = undefined;
        const got = await rec.time("call", () => compute(n, n % TAGS), () => (hit ? "call-hit" : "call-miss"));
        if (hit && computed) rec.flag({ check: "call", where: `${backend.name}:${who}`, detail: `${key}: the function ran although its key held a value` });
        if (!hit) {
          if (!computed) rec.flag({ check: "call", where: `${backend.name}:${who}`, detail: `${key}: a miss did not run the function` });
          else model.wrote(key, computed, [tag(n % TAGS)]);
        }
        rec.flag(model.check("call", key, got));
      });
    }],
    [2, async () => {
      const t = tag(pick(TAGS));
      const members = [
        ...Array.from({ length: OWN_KEYS }, (_, i) => kvKey(i)),
        ...Array.from({ length: FN_ARGS }, (_, n) => fnKey(n)),
      ].filter((key) => !unknown.has(key));
      await guard(members, async () => {
        await rec.time("deleteTags", () => cache.deleteTags(t));
        const gone = model.deletedTag(t);
        if (gone.length === 0) return;
        const got = await rec.time("getMany", () => cache.getMany(gone));
        gone.forEach((key, i) => rec.flag(got[i] === undefined ? undefined : { check: "deleteTags", where: `${backend.name}:${who}`, detail: `${key}: still read after deleteTags(${t})` }));
      });
    }],
  ];
  if (config.sabotage) {
    steps.push([5, async () => {
      const start = pick(OWN_KEYS);
      for (let i = 0; i < OWN_KEYS; i++) {
        const key = kvKey((start + i) % OWN_KEYS);
        if (model.has(key) && !unknown.has(key)) return void (await cache.delete(key)); // the model still expects the value
      }
    }]);
  }
  const total = steps.reduce((sum, [w]) => sum + w, 0);
  return loop(deadline, !backend.shared, () => {
    let r = pick(total);
    for (const [w, step] of steps) {
      if (r < w) return step();
      r -= w;
    }
    return Promise.resolve();
  });
}

function sharedKey(proc: number, j: number): string {
  return `${config.run}:shared:p${proc}:${j}`;
}

function sharedWriter(cache: Cache, backend: SoakBackend, rec: Recorder, deadline: number): Promise<void> {
  const versions = new Array<number>(SHARED_KEYS).fill(0);
  const shared = sharedByBackend.get(backend.name)!;
  const broken = new Set<number>();
  return loop(deadline, false, async () => {
    const j = pick(SHARED_KEYS);
    if (broken.has(j)) return;
    const key = sharedKey(config.proc, j);
    const version = ++versions[j]!;
    try {
      await rec.time("shared-set", () => cache.set(key, { v: version, by: config.proc }));
    } catch (error) {
      broken.add(j); // the write may land later: announce nothing more for this key
      throw error;
    }
    const at = now();
    shared.wrote(key, version, at);
    if (backend.shared) send({ type: "wrote", backend: backend.name, key, version, at });
    await sleep(2);
  });
}

function sharedReader(cache: Cache, backend: SoakBackend, rec: Recorder, deadline: number): Promise<void> {
  const shared = sharedByBackend.get(backend.name)!;
  const procs = backend.shared ? [0, 1] : [config.proc];
  return loop(deadline, false, async () => {
    const key = sharedKey(procs[pick(procs.length)]!, pick(SHARED_KEYS));
    const startedAt = now();
    const got = await rec.time("shared-get", () => cache.get<{ v: number }>(key));
    rec.flag(shared.read(key, got?.v ?? 0, startedAt));
    await sleep(1);
  });
}

function lockActor(cache: Cache, backend: SoakBackend, rec: Recorder, actor: number, deadline: number): Promise<void> {
  const holder = `p${config.proc}.l${actor}`;
  return loop(deadline, false, async () => {
    const key = `${config.run}:lock:${pick(LOCK_KEYS)}`;
    const token = `${holder}:${Math.random().toString(36).slice(2)}`;
    let lock;
    try {
      lock = await rec.time("lock", () => cache.lock(key, config.lockTtlMs, { wait: "10s" }));
    } catch (error) {
      if (error instanceof LockedError) return; // counted as an error of `lock`: waited 10 s
      throw error;
    }
    const acquired = now();
    if (!lock.acquired) rec.flag({ check: "lock", where: `${backend.name}:${holder}`, detail: `${key}: lock() resolved a lock not acquired (safe: false)` });
    const held = { acquired };
    locksHeld.add(held);
    try {
      await rec.time("lock-marker", () => cache.set(`${key}:owner`, token));
      await sleep(pick(4));
      const marker = await rec.time("lock-marker", () => cache.get(`${key}:owner`));
      if (marker !== token) rec.flag({ check: "lock-marker", where: `${backend.name}:${holder}`, detail: `${key}: the owner marker read ${JSON.stringify(marker)} inside the section of ${token}` });
    } finally {
      const released = now();
      (pendingLocks[backend.name] ??= []).push({ key, holder, acquired, released });
      locksHeld.delete(held);
      const freed = await rec.time("unlock", () => lock.release());
      if (!freed && now() - acquired < config.lockTtlMs) {
        rec.flag({ check: "unlock", where: `${backend.name}:${holder}`, detail: `${key}: release() answered false within the lock's ttl (someone else held or removed it)` });
      }
    }
    await sleep(pick(3));
  });
}

function limiterActor(cache: Cache, backend: SoakBackend, rec: Recorder, deadline: number): Promise<void> {
  const limiter = cache.limiter({ algorithm: "fixed", limit: config.limiter.limit, period: config.limiter.periodMs, prefix: `${config.run}:rl` });
  const caller = `p${config.proc}`;
  return loop(deadline, false, async () => {
    await Promise.all(
      Array.from({ length: LIMIT_BURST }, async () => {
        const call = { start: Date.now() };
        limitsInFlight.add(call);
        try {
          const answer = await rec.time("limit", () => limiter.limit("shared"), (a) => (a.success ? "limit-admitted" : "limit-refused"));
          (pendingLimits[backend.name] ??= []).push({ caller, start: call.start, end: Date.now(), success: answer.success, remaining: answer.remaining, reset: answer.reset });
        } finally {
          limitsInFlight.delete(call);
        }
      }),
    );
    await sleep(LIMIT_PAUSE_MS);
  });
}

function flush(heap?: HeapSample): void {
  const limits: Record<string, LimitDecision[]> = {};
  const locks: Record<string, LockInterval[]> = {};
  for (const name of Object.keys(pendingLimits)) limits[name] = pendingLimits[name]!.splice(0);
  for (const name of Object.keys(pendingLocks)) locks[name] = pendingLocks[name]!.splice(0);
  // Everything logged from now on: a limiter decision has reset >= its start (>= the oldest start
  // in flight, or now), a lock section was acquired after the oldest one still held (or now).
  let limitsWatermark = Date.now();
  for (const call of limitsInFlight) limitsWatermark = Math.min(limitsWatermark, call.start);
  let locksWatermark = now();
  for (const held of locksHeld) locksWatermark = Math.min(locksWatermark, held.acquired);
  send({ type: "log", ...(heap ? { heap } : {}), limits, locks, watermarks: { limits: limitsWatermark, locks: locksWatermark } });
}

async function run(): Promise<void> {
  for (const backend of config.backends) {
    const cache = new Cache(`soak-${backend.name}-${config.proc}`).setup(backend.url, { safe: false, ...backend.options });
    await cache.init();
    caches.set(backend.name, cache);
    sharedByBackend.set(backend.name, new SharedVersions(`${backend.name}:p${config.proc}`, config.boundMs));
  }
  send({ type: "ready" });
  await go;
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();
  const start = now();
  const deadline = start + config.durationMs;
  const sample = (idle = false): void => {
    gc?.();
    flush({ t: now() - start, heapUsed: process.memoryUsage().heapUsed, ...(idle ? { idle } : {}) });
  };
  const sampler = setInterval(() => sample(), config.sampleMs);
  const recorders = new Map<string, Recorder>();
  const actors: Promise<void>[] = [];
  for (const backend of config.backends) {
    const cache = caches.get(backend.name)!;
    const rec = new Recorder();
    recorders.set(backend.name, rec);
    for (let a = 0; a < OWN_ACTORS; a++) actors.push(ownerActor(cache, backend, rec, a, deadline));
    actors.push(sharedWriter(cache, backend, rec, deadline), sharedReader(cache, backend, rec, deadline));
    for (let a = 0; a < LOCK_ACTORS; a++) actors.push(lockActor(cache, backend, rec, a, deadline));
    actors.push(limiterActor(cache, backend, rec, deadline));
  }
  await Promise.all(actors);
  clearInterval(sampler);
  sample(true);
  loopDelay.disable();
  const report: WorkerReport = {
    proc: config.proc,
    backends: Object.fromEntries([...recorders].map(([name, rec]) => [name, rec.report(sharedByBackend.get(name)!.checked)])),
    loopDelay: {
      p50: Math.max(0, loopDelay.percentile(50) / 1e6 - LOOP_RESOLUTION_MS),
      p99: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
      max: Math.max(0, loopDelay.max / 1e6 - LOOP_RESOLUTION_MS),
    },
    gcExposed: gc !== undefined,
  };
  send({ type: "done", report });
}

process.on("message", (message: ToWorker) => {
  if (message.type === "start") {
    config = message.config;
    run().catch((error: unknown) => send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
  } else if (message.type === "go") goResolve();
  // The bound runs from when this process was told (never before the write resolved): a process
  // whose loop was stalled past the bound has not yet had the chance to handle the invalidation.
  else if (message.type === "wrote") sharedByBackend.get(message.backend)?.wrote(message.key, message.version, Math.max(message.at, now()));
  else if (message.type === "close") {
    void (async () => {
      for (const cache of caches.values()) {
        if (message.clear) await cache.clear().catch(() => {});
        await cache.close();
      }
      send({ type: "closed" });
      process.exit(0);
    })();
  }
});
process.on("disconnect", () => process.exit(1));
