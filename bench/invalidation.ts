/**
 * Cross-instance invalidation latency of the local tier on upstash:// (issue 16, item 6): two
 * instances in two processes (bench/lib/invalidation-child.ts) on the same REST server, both with
 * `local`. Per write: the reader reads the key (served by its local copy), then polls `get` in a
 * `setImmediate` loop; the writer then calls `cache.set(key, n)`. The latency is from the writer's
 * call start to the reader's `get` returning `n` (both stamped with `process.hrtime.bigint()`,
 * CLOCK_MONOTONIC, shared by the machine's processes): the writer's SET round trip, its PUBLISH (one
 * per tick), the REST server's SSE push, the reader dropping its copy and reading through. The same
 * for bentocache (memory L1 + Redis L2 + its Redis bus) as a peer.
 *
 * Run by the suite after the upstash tier (`BENCH_TIER=upstash npm run bench`), or alone:
 * `node --import tsx bench/invalidation.ts` (starts its own redis-server and REST server).
 * Env: BENCH_INV_WRITES (default 1000), BENCH_INV_KINDS (default `cashews,bentocache`).
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FromSide, InvalidationEnv, InvalidationKind, ToSide } from "./lib/invalidation-child.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SIDE = join(ROOT, "bench", "lib", "invalidation-child.ts");
export const WRITES = Number(process.env.BENCH_INV_WRITES ?? 1000);
export const KINDS = (process.env.BENCH_INV_KINDS ?? "cashews,bentocache").split(",").map((k) => k.trim()).filter(Boolean) as InvalidationKind[];
const TIMEOUT_MS = 5_000;
/**
 * A read the local copy answers takes well under this, even as the first call after an IPC wake-up
 * (~5–30 µs); a read through REST takes ~0.5–1 ms here. (For bentocache, whose L2 is a Redis GET over
 * TCP of ~50–100 µs, the split is not as clean.)
 */
const LOCAL_READ_NS = 100_000;

class Side {
  readonly proc: ChildProcess;
  #queue: FromSide[] = [];
  #waiting: ((m: FromSide) => void) | undefined;

  constructor() {
    this.proc = fork(SIDE, [], { cwd: ROOT, execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.proc.on("message", (m: FromSide) => {
      if (this.#waiting) {
        const w = this.#waiting;
        this.#waiting = undefined;
        w(m);
      } else this.#queue.push(m);
    });
  }

  send(message: ToSide): void {
    this.proc.send(message);
  }

  next<T extends FromSide["type"]>(type: T, timeoutMs = 30_000): Promise<Extract<FromSide, { type: T }>> {
    const check = (m: FromSide) => {
      if (m.type === "error") throw new Error(m.message);
      if (m.type !== type) throw new Error(`expected ${type}, got ${m.type}`);
      return m as Extract<FromSide, { type: T }>;
    };
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve().then(() => check(queued));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiting = (m) => {
        clearTimeout(timer);
        try {
          resolve(check(m));
        } catch (e) {
          reject(e);
        }
      };
    });
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.proc.once("exit", () => resolve()));
    this.send({ type: "close" });
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export interface InvalidationResult {
  kind: InvalidationKind;
  writes: number;
  timedOut: number;
  /** ms, from the writer's call start to the reader's read of the new value. */
  latency: { median: number; p90: number; p99: number; max: number };
  /** ms, the writer's own `set` (call start to resolve). */
  setMedian: number;
  /** ms, from the writer's `set` resolving to the reader's read of the new value (median). */
  afterSetMedian: number;
  /** ms, from the writer's call start to the start of the reader's read that returned the new value (its copy dropped by then): median, p99. */
  deliveredMedian: number;
  deliveredP99: number;
  /** ms, that read (the read through to the store): median. */
  readThroughMedian: number;
  /** Reader's pre-write reads answered in under 100 µs (local hits), of `writes`. */
  localFirst: number;
  firstMedianNs: number;
  pollsMedian: number;
  /** Writes before which the reader read an older value than the one it had already seen. */
  regressed: string[];
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

export async function measureInvalidation(kind: InvalidationKind, env: InvalidationEnv, writes = WRITES): Promise<InvalidationResult> {
  const writer = new Side();
  const reader = new Side();
  try {
    for (const s of [writer, reader]) {
      s.send({ type: "init", kind, env });
      await s.next("ready");
    }
    const key = `inv:${kind}`;
    // Prime: the writer stores 0, the reader reads it through (its local copy now holds it).
    writer.send({ type: "write", key, value: 0 });
    await writer.next("written");
    reader.send({ type: "watch", key, old: 0, want: 0, timeoutMs: TIMEOUT_MS });
    await reader.next("watching");
    await reader.next("seen");
    const latency: number[] = [];
    const set: number[] = [];
    const afterSet: number[] = [];
    const delivered: number[] = [];
    const readThrough: number[] = [];
    const first: number[] = [];
    const polls: number[] = [];
    const regressed: string[] = [];
    let timedOut = 0;
    for (let n = 1; n <= writes; n++) {
      reader.send({ type: "watch", key, old: n - 1, want: n, timeoutMs: TIMEOUT_MS });
      const watching = await reader.next("watching");
      first.push(watching.firstNs);
      if (watching.regressed) regressed.push(`write ${n}: read ${JSON.stringify(watching.first)}, had seen ${n - 1}`);
      writer.send({ type: "write", key, value: n });
      const [written, seen] = await Promise.all([writer.next("written"), reader.next("seen", TIMEOUT_MS + 30_000)]);
      if (seen.timedOut) {
        timedOut++;
        continue;
      }
      latency.push((seen.at - written.start) / 1e6);
      set.push((written.done - written.start) / 1e6);
      afterSet.push((seen.at - written.done) / 1e6);
      delivered.push((seen.readStart - written.start) / 1e6);
      readThrough.push((seen.at - seen.readStart) / 1e6);
      polls.push(seen.polls);
    }
    const sorted = [...latency].sort((a, b) => a - b);
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
    return {
      kind,
      writes,
      timedOut,
      latency: { median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1]! },
      setMedian: med(set),
      afterSetMedian: med(afterSet),
      deliveredMedian: med(delivered),
      deliveredP99: quantile([...delivered].sort((a, b) => a - b), 0.99),
      readThroughMedian: med(readThrough),
      localFirst: first.filter((ns) => ns < LOCAL_READ_NS).length,
      firstMedianNs: med(first),
      pollsMedian: med(polls),
      regressed,
    };
  } finally {
    await Promise.allSettled([writer.close(), reader.close()]);
  }
}

const LABEL: Record<InvalidationKind, string> = {
  cashews: "cashews upstash+http:// `local: { ttl: \"1h\" }`: SET over REST, PUBLISH over REST (batched per tick), SSE subscription",
  bentocache: "bentocache memory L1 + redis L2 + redis bus (TCP pub/sub on the same redis-server)",
};

/** The markdown table of the results (target: cashews p99 ≤ 50 ms). */
export function invalidationTable(results: InvalidationResult[]): string {
  const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1)) + " ms";
  const lines = [
    `Cross-instance invalidation latency (two processes, ${results[0]?.writes ?? WRITES} writes each): from the writer's \`set\` call to the reader's \`get\` returning the new value.`,
    "",
    "| contender | median | p90 | p99 | max | writer's set (median) | set resolved → reader sees it (median) | set call → reader's copy dropped (median / p99) | reader's read through (median) | reader's pre-write read under 100 µs (local) | target (cashews): p99 ≤ 50 ms |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
  ];
  for (const r of results) {
    const l = r.latency;
    const target = r.kind === "cashews" ? `${verdict(l.p99 <= 50 && r.timedOut === 0 && r.regressed.length === 0)}` : "";
    lines.push(
      `| ${LABEL[r.kind]} | ${ms(l.median)} | ${ms(l.p90)} | ${ms(l.p99)} | ${ms(l.max)} | ${ms(r.setMedian)} | ${ms(r.afterSetMedian)} | ${ms(r.deliveredMedian)} / ${ms(r.deliveredP99)} | ${ms(r.readThroughMedian)} | ${r.localFirst} / ${r.writes} (median ${(r.firstMedianNs / 1000).toFixed(1)} µs) | ${target}${r.timedOut ? ` **${r.timedOut} not seen within ${TIMEOUT_MS / 1000} s**` : ""}${r.regressed.length ? ` **${r.regressed.length} pre-write read(s) gave an older value than already seen** (first: ${r.regressed[0]})` : ""} |`,
    );
  }
  return lines.join("\n");
}
const verdict = (ok: boolean): string => (ok ? "PASS" : "**MISS**");

// Alone: its own redis-server and REST server.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { startRedis } = await import("../test/support/redis-server.js");
  const { startUpstashServer } = await import("../test/support/upstash-server.js");
  const redis = await startRedis();
  const upstash = await startUpstashServer({ redisUrl: redis.url });
  try {
    const results: InvalidationResult[] = [];
    for (const kind of KINDS) {
      results.push(await measureInvalidation(kind, { upstashUrl: upstash.url, upstashToken: upstash.token, redisUrl: redis.url, db: 14 }));
    }
    console.log(invalidationTable(results));
  } finally {
    await upstash.stop();
    await redis.stop();
  }
}
