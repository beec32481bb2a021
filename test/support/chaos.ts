/**
 * Helpers for the reliability ("chaos") tests, test/backends/redis/chaos-outage.test.ts and test/backends/upstash/chaos.test.ts: a load generator that keeps
 * N calls in flight and records every call's start, duration and outcome (`runLoad`), one
 * decorated function per strategy to load (`strategyLoad`), a warm → fault → heal → recovered
 * scenario runner (`underLoad`), a watcher for unhandled rejections, an event-loop stall watcher
 * (so that call durations can be judged on their own time on a busy machine), polling helpers.
 */
import { expect } from "vitest";
import type { Cache, CacheEventInfo } from "../../src/index.js";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One call made by {@link runLoad}: when it started (performance.now()), how long it took, how it ended. */
export interface CallRecord {
  worker: number;
  /** Which function was called (the label given by the call factory). */
  fn: string;
  start: number;
  ms: number;
  /** Undefined when the call resolved with the expected value. */
  failure?: string;
}

/** A call the load generator makes: a label and a thunk that resolves when the call succeeded. */
export interface LoadCall {
  fn: string;
  run: () => Promise<void>;
}

export interface Load {
  readonly records: CallRecord[];
  /** Stops the workers after their current call; resolves once every worker has finished. */
  stop(): Promise<CallRecord[]>;
}

/**
 * Starts `workers` loops, each making one call after another (`next(worker, i)` builds call `i`),
 * so that `workers` calls are in flight at every moment until `stop()`. A call that rejects (or
 * whose `run` throws, e.g. on a wrong value) is recorded with its failure, never rethrown.
 */
export function runLoad(workers: number, next: (worker: number, i: number) => LoadCall): Load {
  const records: CallRecord[] = [];
  let stopping = false;
  const loops = Array.from({ length: workers }, async (_, worker) => {
    for (let i = 0; !stopping; i++) {
      const call = next(worker, i);
      const start = performance.now();
      let failure: string | undefined;
      try {
        await call.run();
      } catch (error) {
        failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      records.push({ worker, fn: call.fn, start, ms: performance.now() - start, failure });
    }
  });
  return {
    records,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return records;
    },
  };
}

/** Collects unhandled rejections of this process until `stop()`. */
export function watchUnhandledRejections(): { reasons: unknown[]; stop(): void } {
  const reasons: unknown[] = [];
  const listener = (reason: unknown): void => {
    reasons.push(reason);
  };
  process.on("unhandledRejection", listener);
  return { reasons, stop: () => void process.off("unhandledRejection", listener) };
}

/** Polls `check` every `stepMs` until it returns true; resolves the elapsed ms, or rejects after `withinMs`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, withinMs: number, stepMs = 50): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > withinMs) throw new Error(`condition not met within ${withinMs} ms`);
    await sleep(stepMs);
  }
}

/**
 * The calls slower than `boundMs` once the event-loop stalls during each are taken out (see
 * {@link watchEventLoopLag}), as readable lines (empty = all within the bound).
 */
export function slowerThan(records: CallRecord[], boundMs: number, loop: LoopWatch, origin = 0): string[] {
  return records
    .filter((r) => r.ms > boundMs && r.ms - loop.stallDuring(r.start, r.start + r.ms) > boundMs)
    .map((r) => `${r.fn} ${r.ms.toFixed(0)} ms (${loop.stallDuring(r.start, r.start + r.ms).toFixed(0)} ms of it a stalled event loop) at +${(r.start - origin).toFixed(0)} ms`);
}

/** Summary of records for failure messages and logs: count, failures, slowest calls. */
export function summarize(records: CallRecord[], origin = 0): string {
  const failed = records.filter((r) => r.failure !== undefined);
  const slowest = [...records].sort((a, b) => b.ms - a.ms).slice(0, 5);
  const byFn = new Map<string, number>();
  for (const r of records) byFn.set(r.fn, (byFn.get(r.fn) ?? 0) + 1);
  return (
    `${records.length} calls (${[...byFn].map(([fn, n]) => `${fn}: ${n}`).join(", ")}), ${failed.length} failed` +
    (failed.length ? ` (first: ${failed[0]!.fn} ${failed[0]!.failure})` : "") +
    `; slowest: ${slowest.map((r) => `${r.fn} ${r.ms.toFixed(0)} ms at +${(r.start - origin).toFixed(0)} ms`).join(", ")}`
  );
}

/**
 * Watches the event loop: a 10 ms interval timer records when it actually ran, so that the time
 * the loop could not run (another process had the CPU, or something blocked it) is known per
 * moment. `stallDuring(start, end)` is how much of [start, end] (performance.now()) the loop was
 * stalled (a tick more than 5 ms late): the part of a call's duration that no library timeout can bound.
 */
export interface LoopWatch {
  /** The longest single stall so far (ms). */
  worst(): number;
  /** Stalled ms within [start, end]. */
  stallDuring(start: number, end: number): number;
  stop(): void;
}

/** A tick later than this (ms) counts as a stall; less is the ordinary jitter of a busy loop, charged to the calls. */
const STALL_THRESHOLD_MS = 5;

export function watchEventLoopLag(tickMs = 10): LoopWatch {
  /** [from, to]: the loop should have run at `from` and ran at `to`. */
  const stalls: [number, number][] = [];
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - tickMs;
    if (late > STALL_THRESHOLD_MS) {
      stalls.push([last + tickMs, now]);
      worst = Math.max(worst, late);
    }
    last = now;
  }, tickMs);
  return {
    worst: () => worst,
    stallDuring(start, end) {
      let total = 0;
      for (const [from, to] of stalls) total += Math.max(0, Math.min(to, end) - Math.max(from, start));
      return total;
    },
    stop: () => clearInterval(timer),
  };
}

/** The decorated functions a chaos load calls (one per strategy, each on its own keys) and a caching probe. */
export interface StrategyLoad {
  names: string[];
  /** The load's call `i` of `worker`: the worker's strategy, and a check of the value it returns. */
  next(worker: number, i: number): LoadCall;
  /** True when a fresh key, computed once, is then served from the backend (two probe calls). */
  cachingWorks(): Promise<boolean>;
}

/**
 * One decorated function per strategy (cache, early, soft, failover, hit, locked, rateLimit) on
 * `cache`; the function is the "database": a real 20 ms wait, then a value derived from its
 * argument, which every call checks. Values are spread over `keys` keys.
 */
export function strategyLoad(cache: Cache, keys = 40): StrategyLoad {
  const body = (name: string) => async (n: number) => {
    await sleep(20);
    return { name, n, square: n * n };
  };
  const fns: Record<string, (n: number) => Promise<unknown>> = {
    cache: cache.cache({ ttl: "1m", key: "c:{n}" })(body("cache")),
    early: cache.early({ ttl: "1m", earlyTtl: "200ms", key: "e:{n}" })(body("early")),
    soft: cache.soft({ ttl: "1m", softTtl: "300ms", key: "s:{n}" })(body("soft")),
    failover: cache.failover({ ttl: "1m", key: "f:{n}" })(body("failover")),
    hit: cache.hit({ ttl: "1m", cacheHits: 50, key: "h:{n}" })(body("hit")),
    // A fresh lock key per call: a lock orphaned by a fault (its unlock lost) must not make a
    // later call wait for its ttl. Serialisation is not under test in the chaos loads, bounded calls are.
    locked: cache.locked({ ttl: "5s", key: "l:{n}" })(body("locked")),
    rateLimit: cache.rateLimit({ limit: 1_000_000, period: "1m", key: "r:{n}" })(body("rateLimit")),
  };
  const names = Object.keys(fns);
  let probes = 0;
  const probe = cache.cache({ ttl: "1m", key: "probe:{id}" })(async (id: string) => {
    probes++;
    return id;
  });
  return {
    names,
    next(worker, i) {
      // Each worker keeps to one strategy: every strategy has workers/7 calls in flight at every
      // moment, faults included (round-robin per call would let workers bunch up on the slowest).
      const name = names[worker % names.length]!;
      const n = name === "locked" ? worker * 1_000_000 + i : (worker * 7 + i) % keys;
      return {
        fn: name,
        run: async () => {
          const value = (await fns[name]!(n)) as { name?: unknown; n?: unknown; square?: unknown } | undefined;
          if (value?.name !== name || value.n !== n || value.square !== n * n) {
            throw new Error(`${name}(${n}) returned ${JSON.stringify(value)}`);
          }
        },
      };
    },
    async cachingWorks() {
      const id = `p${performance.now()}-${Math.random()}`;
      const before = probes;
      await probe(id);
      await probe(id);
      return probes === before + 1;
    },
  };
}

/** The outcome of {@link underLoad}. */
export interface ChaosRun {
  records: CallRecord[];
  summary: string;
  /** `error` events the cache emitted. */
  errors: { error?: unknown }[];
  /** `error`, `backend-down` and `backend-up` events in the order emitted, each with its time (performance.now()). */
  outage: (CacheEventInfo & { at: number })[];
  /** Failures counted by `cache.stats().errors` during the run. */
  statsErrors: number;
  unhandled: unknown[];
  loop: LoopWatch;
  origin: number;
  faultAt: number;
  healedAt: number;
  /** ms from `healedAt` until a fresh key, computed once, was served from the backend. */
  backAfter: number;
  names: string[];
  /** The calls that were under way during the fault (from 100 ms after it, until healing). */
  during: CallRecord[];
}

export interface UnderLoadOptions {
  label: string;
  workers: number;
  warmMs: number;
  faultMs: number;
  /** How long to wait for caching to work again after `heal()`, before giving up. */
  recoveryMs: number;
  fault(): Promise<void> | void;
  heal(): Promise<void> | void;
}

/**
 * Keeps `workers` calls of {@link strategyLoad} in flight on `cache` (initialised first): `warmMs`
 * of normal service, then `fault()`, `faultMs` later `heal()`, then until caching works again
 * and every worker has made a call after healing, then 300 ms more. Watches unhandled rejections and the event loop meanwhile; logs a summary.
 */
export async function underLoad(cache: Cache, options: UnderLoadOptions): Promise<ChaosRun> {
  const unhandled = watchUnhandledRejections();
  const loop = watchEventLoopLag();
  const errors: { error?: unknown }[] = [];
  const outage: (CacheEventInfo & { at: number })[] = [];
  const offs = [
    cache.on("error", (e) => errors.push(e)),
    ...(["error", "backend-down", "backend-up"] as const).map((type) => cache.on(type, (e) => outage.push({ ...e, at: performance.now() }))),
  ];
  const off = (): void => offs.forEach((f) => f());
  try {
    await cache.init();
    const errorsBefore = cache.stats().errors;
    const strategies = strategyLoad(cache);
    const origin = performance.now();
    const load = runLoad(options.workers, strategies.next);
    await sleep(options.warmMs);
    const faultAt = performance.now();
    await options.fault();
    await sleep(options.faultMs);
    await options.heal();
    const healedAt = performance.now();
    const backAfter = await waitUntil(() => strategies.cachingWorks(), options.recoveryMs);
    // Then until every worker has finished a call started after healing (a call caught by the
    // fault may still be running), and a little more.
    const recovered = new Set<number>();
    await waitUntil(() => {
      for (const r of load.records) if (r.start > healedAt) recovered.add(r.worker);
      return recovered.size === options.workers;
    }, options.recoveryMs);
    await sleep(300);
    const records = await load.stop();
    loop.stop();
    const statsErrors = cache.stats().errors - errorsBefore;
    const summary = summarize(records, origin);
    console.log(
      `[chaos ${options.label}] ${summary}; fault at +${(faultAt - origin).toFixed(0)} ms, healed at +${(healedAt - origin).toFixed(0)} ms, ` +
        `caching back ${backAfter.toFixed(0)} ms later; ${errors.length} error events for ${statsErrors} failures; ` +
        `${outageLine(outage, origin)}; worst event-loop stall ${loop.worst().toFixed(0)} ms`,
    );
    const during = records.filter((r) => r.start < healedAt && r.start + r.ms > faultAt + 100);
    if (process.env.CHAOS_DEBUG) console.log(`[chaos ${options.label}] during the fault: ${summarize(during, origin)}`);
    return { records, summary, errors, outage, statsErrors, unhandled: unhandled.reasons, loop, origin, faultAt, healedAt, backAfter, names: strategies.names, during };
  } finally {
    off();
    unhandled.stop();
    loop.stop();
  }
}

/** The outage events of a run as a line: when each backend-down and backend-up came, failedOpen, error events meanwhile. */
function outageLine(events: (CacheEventInfo & { at: number })[], origin: number): string {
  const parts: string[] = [];
  let errors = 0;
  for (const e of events) {
    if (e.type === "error") errors++;
    else {
      parts.push(`${errors} error events, ${e.type} at +${(e.at - origin).toFixed(0)} ms${e.type === "backend-up" ? ` (failedOpen ${e.failedOpen})` : ""}`);
      errors = 0;
    }
  }
  parts.push(`${errors} error events`);
  return parts.join(", ");
}

/**
 * The quiet-outage promise (issue 19, item 3) for one fault: exactly one `backend-down` then one
 * `backend-up` (on `backend`), `failedOpen` equal to the failures counted by stats but the late
 * ones (commands issued during the outage that failed after backend-up, each emitted as an
 * ordinary `error`), and during the outage at most the first failure's `error` event and one per
 * second after it: a handful in all, instead of one per failed command.
 */
export function expectQuietOutage(run: ChaosRun, backend: string): void {
  const line = outageLine(run.outage, run.origin);
  const downs = run.outage.filter((e) => e.type === "backend-down");
  const ups = run.outage.filter((e) => e.type === "backend-up");
  expect(downs.length, `one backend-down per outage: ${line}`).toBe(1);
  expect(ups.length, `one backend-up per outage: ${line}`).toBe(1);
  const [down, up] = [downs[0]!, ups[0]!];
  expect(down.backend).toBe(backend);
  expect(up.backend).toBe(backend);
  expect(run.outage.indexOf(up), line).toBeGreaterThan(run.outage.indexOf(down));
  // Nothing failed before backend-down (its failure is the first).
  expect(run.outage[0], line).toBe(down);
  const during = run.outage.filter((e) => e.type === "error" && e.at >= down.at && e.at <= up.at).length;
  const late = run.outage.filter((e) => e.type === "error" && run.outage.indexOf(e) > run.outage.indexOf(up)).length;
  expect(during, `error events during the outage: the first, then at most one per second (${line})`).toBeLessThanOrEqual(1 + Math.floor((up.at - down.at) / 1000));
  expect(up.failedOpen, line).toBeGreaterThan(0);
  expect(up.failedOpen, `failedOpen is every failure counted in stats (${run.statsErrors}) but the ${late} late ones emitted after backend-up; ${line}`).toBe(run.statsErrors - late);
  expect(run.errors.length, `error events: ${line}`).toBe(during + late);
}

/** Caching must work again this soon after the backend heals (the issue's bound). */
export const RECOVERY_MS = 5000;
/** No single event-loop stall may last this long: a hot loop would show here (a busy machine should not). */
export const MAX_STALL_MS = 2000;

/**
 * What safe mode promises whatever the fault: every call succeeds, every strategy was called during
 * the fault (more than `minCallsDuring` calls in all) and after it, the fault was real and reported,
 * caching comes back within RECOVERY_MS, nothing stalls or leaks.
 */
export function expectFailOpen(run: ChaosRun, minCallsDuring = 0): void {
  expect(run.during.length, "calls made during the fault").toBeGreaterThan(minCallsDuring);
  for (const name of run.names) {
    expect(run.during.some((r) => r.fn === name), `${name} called during the fault`).toBe(true);
    expect(run.records.some((r) => r.fn === name && r.start > run.healedAt), `${name} called after healing`).toBe(true);
  }
  expect(run.errors.length, "backend failures are reported").toBeGreaterThan(0);
  expect(run.records.filter((r) => r.failure !== undefined), run.summary).toEqual([]);
  expect(run.backAfter, `caching works again within ${RECOVERY_MS} ms`).toBeLessThan(RECOVERY_MS);
  expect(run.loop.worst(), "no event-loop stall of seconds (a hot loop)").toBeLessThan(MAX_STALL_MS);
  expect(run.unhandled).toEqual([]);
}
