// Reliability: a lock holder is killed (SIGKILL) while it holds locks taken through the `locked`
// strategy, `cache.lock`, `cache.withLock` and `cache({ lock: true })`. The next caller must
// proceed once the lock's ttl has passed, and never earlier: the lock is not released by the
// death, nobody steals it, and the waiter takes it over as soon as Redis expires it.
//
// "Never earlier" without comparing clocks of two processes: right after the holder reports its
// locks, the parent reads each lock's PTTL from Redis. The key cannot expire before
// `sent + PTTL` (Redis measured the PTTL after `sent`, on the parent's own clock), so a waiter
// whose body starts before that has entered a lock that was still held. "Once the ttl has
// passed": the body starts within a generous bound after `received + PTTL` (the waiter polls
// with a capped back-off). Inside its body each waiter checks in Redis that the lock key now
// holds a lock token that is not the dead holder's (it really holds the lock, not running
// unlocked after a backend failure).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Cache } from "../../src/index.js";
import { startUpstashServer, type UpstashServer } from "../support/upstash-server.js";

const redisUrl = inject("redisUrl"); // "" = no redis-server (global-setup already failed if CI=true)

const LOCK_TTL = 2000;
/** Clock granularity: PTTL and performance.now() readings are whole or fractional ms. */
const EPSILON_MS = 3;
/** "Proceeds once the ttl has passed": the waiters' back-off is capped at 500 ms (+ jitter); generous. */
const LATE_MS = 2000;

const root = fileURLToPath(new URL("../..", import.meta.url));
const script = fileURLToPath(new URL("../support/child-chaos-lock.ts", import.meta.url));

interface Held {
  name: "S" | "L" | "W" | "C";
  redisKey: string;
  /** The holder's token (the raw value of the lock key). */
  token: string;
  /** The key cannot expire before this (parent's performance.now()). */
  notBefore: number;
  /** The key has expired by this. */
  by: number;
}

/** Starts the holder; resolves once it holds its four locks. */
function startHolder(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const holding = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes("holding\n")) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk: Buffer) => void (output += chunk.toString()));
    void exited.then(() => reject(new Error(`the holder exited before holding its locks:\n${output}`)));
  });
  holding.catch(() => {});
  return {
    holding,
    async kill(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    signal: () => child.signalCode,
  };
}

async function holderKilledScenario(cacheUrl: string, options: Record<string, unknown>, admin: Redis, label: string): Promise<void> {
  const namespace = `chaos-lock-${label}-${process.pid}-${Date.now()}`;
  const key = "job";
  const holder = startHolder({
    CACHE_URL: cacheUrl,
    NAMESPACE: namespace,
    KEY: key,
    LOCK_TTL: String(LOCK_TTL),
    ...(typeof options.token === "string" ? { TOKEN: options.token } : {}),
  });
  const cache = new Cache(`chaos-lock-${label}`).setup(cacheUrl, { namespace, ...options });
  try {
    await Promise.all([holder.holding, cache.init()]);
    const keys = {
      S: `${namespace}:lock:${key}:S`,
      L: `${namespace}:${key}:L`,
      W: `${namespace}:${key}:W`,
      C: `${namespace}:${key}:C:lock`,
    } as const;
    const held: Held[] = [];
    for (const name of ["S", "L", "W", "C"] as const) {
      const sent = performance.now();
      const [[, pttl], [, token]] = (await admin.multi().pttl(keys[name]).get(keys[name]).exec()) as [[null, number], [null, string | null]];
      const received = performance.now();
      expect(pttl, `${name}: the holder's lock ${keys[name]} is set with a ttl`).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(LOCK_TTL);
      expect(token, name).toMatch(/^\$l1:/);
      held.push({ name, redisKey: keys[name], token: token!, notBefore: sent + pttl, by: received + pttl + EPSILON_MS });
    }

    await holder.kill();
    expect(holder.signal()).toBe("SIGKILL");
    // Death releases nothing: every lock is still there, still the holder's.
    for (const h of held) expect(await admin.get(h.redisKey), `${h.name} after the kill`).toBe(h.token);

    const waitFrom = performance.now();
    /** Inside a waiter's body: when it started, and what the lock key held then. */
    const inside = async (name: string, redisKey: string) => ({ name, at: performance.now(), value: await admin.get(redisKey) });
    const [s, l, w, c] = await Promise.all([
      cache.locked({ ttl: LOCK_TTL, key: `${key}:S` })(() => inside("S", keys.S))(),
      (async () => {
        const lock = await cache.lock(`${key}:L`, LOCK_TTL);
        try {
          return { ...(await inside("L", keys.L)), own: `$l1:${lock.value}` };
        } finally {
          await lock.release();
        }
      })(),
      cache.withLock(`${key}:W`, LOCK_TTL, () => inside("W", keys.W)),
      cache.cache({ ttl: "1m", key: `${key}:C`, lock: true, lockTtl: LOCK_TTL })(() => inside("C", keys.C))(),
    ]);
    const lines: string[] = [];
    for (const [h, got] of [[held[0]!, s], [held[1]!, l], [held[2]!, w], [held[3]!, c]] as const) {
      lines.push(`${h.name} started ${(got.at - h.notBefore).toFixed(0)} ms after the earliest expiry`);
      // The waiters really had to wait: the lock had plenty of ttl left when they started.
      expect(h.notBefore - waitFrom, `${h.name}: ttl left when the waiters started`).toBeGreaterThan(200);
      // Never earlier than the lock's expiry, and not long after it.
      expect(got.at, `${h.name} started before the dead holder's lock expired`).toBeGreaterThanOrEqual(h.notBefore - EPSILON_MS);
      expect(got.at - h.by, `${h.name} started too long after the lock expired`).toBeLessThan(LATE_MS);
      // It holds the lock now (a lock token that is not the dead holder's), not running unlocked.
      expect(got.value, `${h.name}: lock key during the waiter's body`).toMatch(/^\$l1:/);
      expect(got.value).not.toBe(h.token);
    }
    expect(l.value).toBe(l.own);
    // Released afterwards (C: the value is cached and its lock gone).
    for (const h of held) expect(await admin.exists(h.redisKey), `${h.name} released`).toBe(0);
    console.log(`[chaos lock ${label}] lock ttl ${LOCK_TTL} ms, holder killed; ${lines.join("; ")}`);
  } finally {
    await holder.kill();
    await cache.close();
  }
}

describe.skipIf(!redisUrl)("chaos: a lock holder killed with SIGKILL", () => {
  let admin: Redis;
  let upstash: UpstashServer;
  beforeAll(async () => {
    admin = new Redis(redisUrl);
    upstash = await startUpstashServer({ redisUrl });
  });
  afterAll(async () => {
    admin?.disconnect();
    await upstash?.stop();
  });

  it("redis://: locked, lock, withLock, cache({ lock: true }): the next caller proceeds once the ttl has passed, never earlier", async () => {
    await holderKilledScenario(redisUrl, {}, admin, "redis");
  }, 20_000);

  it("upstash://: the same across the REST endpoint", async () => {
    await holderKilledScenario(upstash.url.replace(/^http:/, "upstash+http:"), { token: upstash.token }, admin, "upstash");
  }, 20_000);
});
