// `early` and the rate limits across real processes on Redis: 4 child processes released together
// (a barrier) hit one key. `early`: one background refresh per expiry across every process, and
// every caller served the stored value at once; rateLimit / slidingRateLimit: the limit holds in
// total (limit per window), and allows again once the window passes. Each child counts the Redis
// commands its cache sent (on the wire); the figures are printed for the docs.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Cache } from "../../src/index.js";
import { parseCommandStats } from "../support/child-run.js";
import { startRedis, type RedisServer } from "../support/redis-server.js";

const redisUrl = inject("redisUrl");
const redisClusterUrl = inject("redisClusterUrl");
const NAMESPACE = "strategies-processes";
const root = fileURLToPath(new URL("../..", import.meta.url));
const script = fileURLToPath(new URL("../support/child-strategies.ts", import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Result = Record<string, unknown>;

/** A child of test/support/child-strategies.ts: `ready <round>` → a stdin line → `result <round> <json>`. */
class Child {
  readonly process: ChildProcess;
  #out = "";
  #listeners: (() => void)[] = [];
  #exit: Promise<number | null>;

  constructor(env: Record<string, string>) {
    this.process = spawn(process.execPath, ["--import", "tsx", script], { cwd: root, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    this.process.stdout!.on("data", (chunk: Buffer) => {
      this.#out += chunk.toString();
      for (const listener of [...this.#listeners]) listener();
    });
    this.process.stderr!.on("data", (chunk: Buffer) => {
      this.#out += chunk.toString();
    });
    this.#exit = new Promise((resolve) => this.process.once("exit", (code) => resolve(code)));
  }

  line(prefix: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.#out.split("\n").slice(0, -1).find((l) => l.startsWith(prefix));
        if (found === undefined) return false;
        resolve(found.slice(prefix.length).trim());
        return true;
      };
      if (check()) return;
      const listener = (): void => {
        if (check()) this.#listeners.splice(this.#listeners.indexOf(listener), 1);
      };
      this.#listeners.push(listener);
      void this.#exit.then((code) => {
        if (!check()) reject(new Error(`child exited (${code}) before printing "${prefix}":\n${this.#out}`));
      });
    });
  }

  go(): void {
    this.process.stdin!.write("go\n");
  }

  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill("SIGKILL");
  }
}

/** Spawns `count` children, then for each round: waits until all are at the barrier, runs `beforeGo`, releases them, collects their results. */
async function runRounds(count: number, env: Record<string, string>, rounds: number, beforeGo: (round: number) => Promise<void>): Promise<Result[][]> {
  const children = Array.from({ length: count }, () => new Child({ ...env, ROUNDS: String(rounds) }));
  try {
    const all: Result[][] = [];
    for (let round = 1; round <= rounds; round++) {
      await Promise.all(children.map((c) => c.line(`ready ${round}`)));
      await beforeGo(round);
      for (const c of children) c.go();
      all.push(await Promise.all(children.map(async (c) => JSON.parse(await c.line(`result ${round} `)) as Result)));
    }
    return all;
  } finally {
    for (const c of children) c.kill();
  }
}

const total = (commands: unknown): number => Object.values(commands as Record<string, number>).reduce((a, b) => a + b, 0);
const merge = (results: Result[], field = "commands"): Record<string, number> => {
  const sum: Record<string, number> = {};
  for (const r of results) for (const [name, n] of Object.entries(r[field] as Record<string, number>)) sum[name] = (sum[name] ?? 0) + n;
  return sum;
};

describe.skipIf(!redisUrl)("early and rate limits across processes (redis://)", () => {
  // A dedicated server: INFO commandstats then counts only these processes' commands.
  let server: RedisServer;
  let admin: Redis;
  let parent: Cache;
  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
    parent = new Cache("parent").setup(server.url, { namespace: NAMESPACE });
    await parent.init();
  });
  afterAll(async () => {
    await parent?.close();
    admin?.disconnect();
    await server?.stop();
  });

  it("early: 4 processes × 50 callers on a due value → one background refresh per expiry, every caller served at once", async () => {
    const PROCESSES = 4;
    const N = 50;
    const EARLY_MS = 600;
    const FN_MS = 400;
    const key = `early:${Date.now()}`;
    const executions = async (): Promise<number> => Number(await admin.get(`${key}:executions`));
    // The parent warms the key with the same key and envelope (execution 1 → gen 1).
    const warm = parent.early({ ttl: "10s", earlyTtl: EARLY_MS, key })(async () => ({ gen: await admin.incr(`${key}:executions`), pid: process.pid }));
    const serverStats: Record<string, number>[] = [];
    const results = await runRounds(
      PROCESSES,
      { REDIS_URL: server.url, NAMESPACE, KEY: key, MODE: "early", N: String(N), EARLY_MS: String(EARLY_MS), FN_MS: String(FN_MS), SETTLE_MS: String(FN_MS + 300) },
      2,
      async (round) => {
        if (round === 1) expect(await warm()).toMatchObject({ gen: 1 });
        else serverStats.push(parseCommandStats(await admin.info("commandstats")));
        // Past earlyTtl: the stored value (the warm one, then the round-1 refresh) is due.
        await sleep(EARLY_MS + 150);
        await admin.config("RESETSTAT");
      },
    );
    serverStats.push(parseCommandStats(await admin.info("commandstats")));
    expect(await executions()).toBe(3); // the warm-up + one refresh per round

    const figures: string[] = [];
    for (const [i, round] of results.entries()) {
      const gen = i + 1; // the value stored before this round's burst
      // Exactly one execution across the 4 processes, in one of them (in the background).
      expect(round.reduce((sum, r) => sum + (r.executedHere as number), 0)).toBe(1);
      const values = round.flatMap((r) => r.values as { gen: number }[]);
      expect(values).toHaveLength(PROCESSES * N);
      // Every caller got the stored (stale) value, without waiting for the function.
      for (const value of values) expect(value.gen).toBe(gen);
      const latencies = round.flatMap((r) => r.latencies as number[]);
      const maxLatency = Math.max(...latencies);
      expect(maxLatency).toBeLessThan(FN_MS);

      const perProcess = round.map((r) => total(r.commands));
      const perCaller = perProcess.reduce((a, b) => a + b, 0) / (PROCESSES * N);
      expect(perCaller).toBeLessThanOrEqual(3);
      for (const n of perProcess) expect(n).toBeLessThanOrEqual(3 * N);
      const stats = Object.entries(serverStats[i]!).filter(([name]) => name !== "config|resetstat" && name !== "info");
      figures.push(
        `round ${gen}: executions=1, max caller latency ${maxLatency.toFixed(1)} ms (fn ${FN_MS} ms); burst redis commands per process ${JSON.stringify(perProcess)} ` +
          `= ${perCaller.toFixed(3)} per caller ${JSON.stringify(merge(round))}; incl. the refresh ${JSON.stringify(merge(round, "withRefresh"))}; ` +
          `server commandstats ${JSON.stringify(Object.fromEntries(stats))}`,
      );
    }
    console.log(`[early processes] ${PROCESSES}×${N} callers, earlyTtl ${EARLY_MS} ms\n  ${figures.join("\n  ")}`);
  }, 30_000);

  for (const mode of ["rateLimit", "slidingRateLimit"] as const) {
    it(`${mode}({ limit: 30, period: "2s" }): 4 processes × 20 concurrent calls → 30 allowed in all, the rest refused; allowed again after the window`, async () => {
      const PROCESSES = 4;
      const CALLS = 20;
      const LIMIT = 30;
      const PERIOD_MS = 2000;
      const key = `rl:${mode}:${Date.now()}`;
      // Loads the strategy's Lua script into the server first, so that the counts show the steady
      // state (EVALSHA), not the one-off NOSCRIPT → EVAL fallback.
      await parent[mode]({ limit: 1, period: 1000, key: `${key}:warm` })(async () => 1)();
      let released = 0;
      const serverStats: Record<string, number>[] = [];
      const results = await runRounds(
        PROCESSES,
        { REDIS_URL: server.url, NAMESPACE, KEY: key, MODE: mode, CALLS: String(CALLS), LIMIT: String(LIMIT), PERIOD_MS: String(PERIOD_MS) },
        2,
        async (round) => {
          if (round === 2) {
            serverStats.push(parseCommandStats(await admin.info("commandstats")));
            await sleep(Math.max(0, released + PERIOD_MS + 250 - Date.now())); // the first window has passed
          }
          await admin.config("RESETSTAT");
          released = Date.now();
        },
      );
      serverStats.push(parseCommandStats(await admin.info("commandstats")));

      const figures: string[] = [];
      for (const [i, round] of results.entries()) {
        for (const r of round) expect(r.other).toEqual([]);
        const allowed = round.reduce((sum, r) => sum + (r.allowed as number), 0);
        const refused = round.reduce((sum, r) => sum + (r.refused as number), 0);
        expect(allowed).toBe(LIMIT);
        expect(refused).toBe(PROCESSES * CALLS - LIMIT);
        const perProcess = round.map((r) => total(r.commands));
        const perCall = perProcess.reduce((a, b) => a + b, 0) / (PROCESSES * CALLS);
        expect(perCall).toBeLessThanOrEqual(2);
        for (const [j, r] of round.entries()) expect(perProcess[j], JSON.stringify(r.commands)).toBeLessThanOrEqual(2 * CALLS);
        const stats = Object.entries(serverStats[i]!).filter(([name]) => name !== "config|resetstat" && name !== "info");
        figures.push(
          `window ${i + 1}: allowed ${JSON.stringify(round.map((r) => r.allowed))} = ${allowed}, refused ${refused}; redis commands per process ${JSON.stringify(perProcess)} ` +
            `= ${perCall.toFixed(3)} per call ${JSON.stringify(merge(round))}; server commandstats ${JSON.stringify(Object.fromEntries(stats))}`,
        );
      }
      console.log(`[${mode} processes] ${PROCESSES}×${CALLS} calls, limit ${LIMIT} per ${PERIOD_MS} ms\n  ${figures.join("\n  ")}`);
    }, 30_000);
  }
});

describe.skipIf(!redisClusterUrl)("rate limits across processes (redis+cluster://)", () => {
  for (const mode of ["rateLimit", "slidingRateLimit"] as const) {
    it(`${mode}({ limit: 30, period: "2s" }): 4 processes × 20 concurrent calls → 30 allowed in all; allowed again after the window`, async () => {
      const LIMIT = 30;
      const PERIOD_MS = 2000;
      const key = `rl:cluster:${mode}:${Date.now()}`;
      let released = 0;
      const results = await runRounds(
        4,
        { REDIS_URL: redisClusterUrl, NAMESPACE, KEY: key, MODE: mode, CALLS: "20", LIMIT: String(LIMIT), PERIOD_MS: String(PERIOD_MS) },
        2,
        async (round) => {
          if (round === 2) await sleep(Math.max(0, released + PERIOD_MS + 250 - Date.now())); // the first window has passed
          released = Date.now();
        },
      );
      for (const round of results) {
        for (const r of round) expect(r.other).toEqual([]);
        expect(round.reduce((sum, r) => sum + (r.allowed as number), 0)).toBe(LIMIT);
        expect(round.reduce((sum, r) => sum + (r.refused as number), 0)).toBe(4 * 20 - LIMIT);
      }
    }, 30_000);
  }
});
