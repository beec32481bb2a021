// The lock strategies across real processes on Redis: a cold-key stampede from 4 processes × 50
// callers computes once, `locked` never overlaps across processes, and a lock whose holder is
// killed frees the key only when its ttl runs out.
import { Redis, type Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Cache } from "../../src/index.js";
import { parseCommandStats, runChildren, spawnChild } from "../support/child-run.js";
import { startRedis, type RedisServer } from "../support/redis-server.js";
import { rawClient } from "../support/counting-client.js";

const redisUrl = inject("redisUrl");
const redisClusterUrl = inject("redisClusterUrl");
const NAMESPACE = "lock-processes";

describe.skipIf(!redisUrl)("lock strategies across processes (redis://)", () => {
  // A dedicated server: INFO commandstats then counts only these processes' commands.
  let server: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  it("cache({ lock: true }): 4 processes × 50 callers on a cold key → one execution, 200 callers get its value", async () => {
    const key = `stampede:${Date.now()}`;
    const results = await runChildren(
      4,
      () => ({ REDIS_URL: server.url, NAMESPACE, KEY: key, MODE: "stampede", N: "50", FN_MS: "200" }),
      async () => void (await admin.config("RESETSTAT")),
    );
    const serverStats = parseCommandStats(await admin.info("commandstats"));
    expect(Number(await admin.get(`${key}:executions`))).toBe(1);

    const values = results.flatMap((r) => r.values as unknown[]);
    expect(values).toHaveLength(200);
    for (const value of values) expect(value).toEqual(values[0]);
    const winners = results.filter((r) => r.executedHere === 1);
    expect(winners).toHaveLength(1);
    expect((values[0] as { computedBy: number }).computedBy).toBe(winners[0]!.pid);

    // Redis commands sent by each waiting process (counted on its connection). Its 50 callers
    // share one in-process flight: one read, one SET NX, then one MGET per poll.
    const count = (r: Record<string, unknown>, field = "commands"): number => Object.values(r[field] as Record<string, number>).reduce((a, b) => a + b, 0);
    const waiting = results.filter((r) => r.executedHere !== 1);
    for (const r of waiting) expect(count(r)).toBeLessThan(20);
    const serverCommands = Object.entries(serverStats)
      .filter(([name]) => name !== "info" && name !== "config|resetstat")
      .reduce((sum, [, calls]) => sum + calls, 0);
    const perProcess = waiting.map((r) => count(r));
    console.log(
      `[lock stampede] executions=1; winner: ${count(winners[0]!)} redis commands ${JSON.stringify(winners[0]!.commands)}; ` +
        `waiting processes: ${JSON.stringify(perProcess)} redis commands (${JSON.stringify(waiting[0]!.commands)}), ` +
        `${(perProcess.reduce((a, b) => a + b, 0) / 150).toFixed(3)} per waiting caller; ` +
        `server INFO commandstats: ${serverCommands} commands in all (incl. the bookkeeping INCR and the GET + DEL inside the unlock script) ${JSON.stringify(serverStats)}`,
    );
  });

  it("locked: 4 processes × 5 concurrent calls never overlap", async () => {
    const key = `serial:${Date.now()}`;
    await runChildren(4, () => ({ REDIS_URL: server.url, NAMESPACE, KEY: key, MODE: "locked", CALLS: "5", FN_MS: "30" }));
    const intervals = (await admin.lrange(`${key}:intervals`, 0, -1)).map((s) => JSON.parse(s) as [number, number, number, number]);
    expect(intervals).toHaveLength(20);
    expect(new Set(intervals.map(([pid]) => pid)).size).toBe(4);
    intervals.sort((a, b) => a[2] - b[2]);
    for (let i = 1; i < intervals.length; i++) {
      const [, , start] = intervals[i]!;
      const [, , , previousEnd] = intervals[i - 1]!;
      expect(start).toBeGreaterThanOrEqual(previousEnd);
    }
  });

  for (const strategy of ["cache", "locked"] as const) {
    it(`${strategy === "cache" ? "cache({ lock: true })" : "locked"}: a holder killed with SIGKILL frees the key when the lock's ttl runs out, never earlier`, async () => {
      const LOCK_TTL = 1500;
      const key = `dead:${strategy}:${Date.now()}`;
      const child = spawnChild({ REDIS_URL: server.url, NAMESPACE, KEY: key, MODE: "hold", STRATEGY: strategy, LOCK_TTL: String(LOCK_TTL) });
      try {
        await child.ready;
        child.go();
        const heldAt = Number(await child.line("holding "));
        child.kill("SIGKILL");
        await new Promise((resolve) => (child.process.exitCode !== null || child.process.signalCode !== null ? resolve(null) : child.process.once("exit", resolve)));

        const cache = new Cache("parent").setup(server.url, { namespace: NAMESPACE });
        try {
          let startedAt = 0;
          const body = async () => {
            startedAt = Date.now();
            return "mine";
          };
          const wrapped = strategy === "locked" ? cache.locked({ ttl: LOCK_TTL, key })(body) : cache.cache({ ttl: "1m", key, lock: true, lockTtl: LOCK_TTL })(body);
          expect(await wrapped()).toBe("mine");
          // The lock was set just before `holding` was printed: allow that (and clock reads) 200 ms.
          expect(startedAt - heldAt).toBeGreaterThanOrEqual(LOCK_TTL - 200);
          expect(startedAt - heldAt).toBeLessThan(LOCK_TTL + 2000);
          console.log(`[lock ${strategy}] dead holder: next caller started ${startedAt - heldAt} ms after the holder (lock ttl ${LOCK_TTL} ms)`);
        } finally {
          await cache.close();
        }
      } finally {
        child.kill();
      }
    });
  }
});

describe.skipIf(!redisClusterUrl)("lock strategies across processes (redis+cluster://)", () => {
  let admin: Cluster;
  beforeAll(async () => {
    admin = rawClient(redisClusterUrl) as Cluster;
    await admin.connect();
  });
  afterAll(() => {
    admin?.disconnect();
  });

  it("cache({ lock: true }): 4 processes × 50 callers on a cold key → one execution, 200 callers get its value", async () => {
    const key = `stampede:cluster:${Date.now()}`;
    const results = await runChildren(4, () => ({ REDIS_URL: redisClusterUrl, NAMESPACE, KEY: key, MODE: "stampede", N: "50", FN_MS: "200" }));
    expect(Number(await admin.get(`${key}:executions`))).toBe(1);
    const values = results.flatMap((r) => r.values as unknown[]);
    expect(values).toHaveLength(200);
    for (const value of values) expect(value).toEqual(values[0]);
    expect(results.filter((r) => r.executedHere === 1)).toHaveLength(1);
  });

  it("locked: 4 processes × 5 concurrent calls never overlap", async () => {
    const key = `serial:cluster:${Date.now()}`;
    await runChildren(4, () => ({ REDIS_URL: redisClusterUrl, NAMESPACE, KEY: key, MODE: "locked", CALLS: "5", FN_MS: "30" }));
    const intervals = (await admin.lrange(`${key}:intervals`, 0, -1)).map((s) => JSON.parse(s) as [number, number, number, number]);
    expect(intervals).toHaveLength(20);
    intervals.sort((a, b) => a[2] - b[2]);
    for (let i = 1; i < intervals.length; i++) expect(intervals[i]![2]).toBeGreaterThanOrEqual(intervals[i - 1]![3]);
  });
});
