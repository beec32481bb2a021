/**
 * One rate-limit contender in its own process (forked by bench/ratelimit.ts with `--import tsx
 * --expose-gc`): `make` builds a named limiter, `run` makes calls through it and answers how many
 * were admitted and the time per call. The parent reads the backend's counters around a `run`.
 */
import type { Env } from "./common.js";
import { PendingError, contenders, timeouts, type BenchLimiter, type ContenderId, type LimiterSpec, type RatelimitContender } from "../contenders/ratelimit.js";

export interface RlEnv extends Env {
  /** The counting proxy in front of the redis-server (round trips of redis:// contenders). */
  countUrl?: string;
}

/** Which ids a run calls: one id, or `count` ids cycled (`<prefix><i>`). */
export type Ids = { one: string } | { many: string; count: number };

export type ToRl =
  | { type: "init"; contender: ContenderId; env: RlEnv }
  | { type: "make"; name: string; spec: LimiterSpec; via: "direct" | "count" }
  /** `calls` calls (or as many as fit in `ms`), `width` at a time (1: sequential). */
  | { type: "run"; name: string; calls?: number; ms?: number; width: number; ids: Ids }
  | { type: "close" };

export type FromRl =
  | { type: "ready" }
  | { type: "made" }
  | { type: "ran"; calls: number; admitted: number; ns: number; timeouts: number }
  | { type: "pending"; message: string }
  | { type: "error"; message: string };

const send = (message: FromRl): void => void process.send!(message);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

let contender: RatelimitContender | undefined;
let env: RlEnv = {};
const limiters = new Map<string, BenchLimiter>();

async function run(limiter: BenchLimiter, message: Extract<ToRl, { type: "run" }>): Promise<FromRl> {
  const { width, ids } = message;
  const idOf = "one" in ids ? () => ids.one : (n: number) => `${ids.many}${n % ids.count}`;
  const max = message.calls ?? Infinity;
  const deadline = message.ms === undefined ? Infinity : message.ms * 1e6;
  const before = timeouts.count;
  let admitted = 0;
  let n = 0;
  gc();
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0);
  if (width === 1) {
    while (n < max && ((n & 15) !== 0 || elapsed() < deadline)) {
      if (await limiter.limit(idOf(n))) admitted++;
      n++;
    }
  } else {
    const batch: Promise<boolean>[] = [];
    while (n < max && elapsed() < deadline) {
      batch.length = 0;
      for (let j = 0; j < width && n < max; j++, n++) batch.push(limiter.limit(idOf(n)));
      for (const ok of await Promise.all(batch)) if (ok) admitted++;
    }
  }
  const ns = elapsed() / Math.max(1, n);
  return { type: "ran", calls: n, admitted, ns, timeouts: timeouts.count - before };
}

async function handle(message: ToRl): Promise<FromRl> {
  if (message.type === "init") {
    contender = contenders[message.contender]();
    env = message.env;
    return { type: "ready" };
  }
  if (message.type === "make") {
    const redisUrl = message.via === "count" ? env.countUrl : env.redisUrl;
    try {
      limiters.set(message.name, await contender!.make({ ...env, redisUrl }, message.spec));
    } catch (error) {
      if (error instanceof PendingError) return { type: "pending", message: error.message };
      throw error;
    }
    return { type: "made" };
  }
  if (message.type === "run") {
    const limiter = limiters.get(message.name);
    if (!limiter) throw new Error(`no limiter ${message.name}`);
    return run(limiter, message);
  }
  await contender?.close();
  process.exit(0);
}

process.on("message", (message: ToRl) => {
  handle(message).then(send, (error: unknown) => {
    send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});
