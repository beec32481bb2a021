// cashews/prometheus on real backends: what a fresh prom-client Registry holds after real calls
// (mem:// and redis://), read back through getMetricsAsJSON; sharing a registry between caches,
// several registries on one cache, the typed errors at instrument time, and dispose.
import { randomUUID } from "node:crypto";
import { Counter, Gauge, Registry, register } from "prom-client";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Cache, CacheConfigError, RateLimitError } from "../../src/index.js";
import { CoreCache } from "../../src/core.js";
import "../../src/redis.js";
import { instrument } from "../../src/prometheus/index.js";
import { METRICS } from "../../src/core/catalog.js";
import { attachProbe, probeOf, type OutcomeRecord } from "../../src/core/probe.js";

const redisUrl = inject("redisUrl");
const RUN = randomUUID().slice(0, 8);
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function memCache(name: string, prefix?: string): Cache {
  const cache = new Cache(name).setup("mem://", prefix === undefined ? {} : { prefix });
  cleanup.push(() => cache.close());
  return cache;
}

/** Instruments with a dispose run after the test. */
function instrumented(cache: Parameters<typeof instrument>[0], options: Parameters<typeof instrument>[1] = {}): () => void {
  const stop = instrument(cache, options);
  cleanup.push(stop);
  return stop;
}

type Labels = Record<string, string | number>;

/**
 * The series of one sample name (`cashews_hits_total`, `cashews_command_duration_seconds_count`)
 * as `{ "label=value,…": value }`, labels sorted; `le` buckets left out unless asked for.
 */
async function series(registry: Registry, sample: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const v of metric.values as { value: number; labels: Labels; metricName?: string }[]) {
      if ((v.metricName ?? metric.name) !== sample) continue;
      const key = Object.entries(v.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, value]) => `${k}=${value}`)
        .join(",");
      out[key] = v.value;
    }
  }
  return out;
}

/** Only the series with a non-zero value (prom-client keeps a counter at 0 once a label set was seen). */
const nonZero = (s: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== 0));

describe("instrument on mem://", () => {
  it("counts decorated hits and misses, direct reads, sets and commands, by backend and strategy", async () => {
    const registry = new Registry();
    const cache = memCache("prom-mem");
    instrumented(cache, { registry });
    const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async function loadUser(id: string) {
      return { id };
    });
    await getUser("1"); // miss + set
    await getUser("1"); // hit
    await getUser("1"); // hit
    await cache.set("direct", 1); // set, strategy none
    await cache.get("direct"); // hit, none
    await cache.get("absent"); // miss, none

    expect(await series(registry, "cashews_hits_total")).toEqual({ "backend=mem,strategy=cache": 2, "backend=mem,strategy=none": 1 });
    expect(await series(registry, "cashews_misses_total")).toEqual({ "backend=mem,strategy=cache": 1, "backend=mem,strategy=none": 1 });
    expect(await series(registry, "cashews_sets_total")).toEqual({ "backend=mem,strategy=cache": 1, "backend=mem,strategy=none": 1 });
    expect(await series(registry, "cashews_errors_total")).toEqual({});
    // Two writes, each one `set` command; mem://'s own live reads are peeks (no command).
    const commands = await series(registry, "cashews_command_duration_seconds_count");
    expect(commands["backend=mem,command=set,outcome=ok,system=cashews.memory"]).toBe(2);
    expect(Object.keys(commands).every((k) => k.includes("system=cashews.memory") && k.includes("outcome=ok"))).toBe(true);
    // Buckets: the catalog's, cumulative, +Inf equal to the count.
    const buckets = await series(registry, "cashews_command_duration_seconds_bucket");
    const setBuckets = Object.entries(buckets).filter(([k]) => k.includes("command=set"));
    expect(setBuckets).toHaveLength(METRICS.commandDuration.buckets.length + 1);
    expect(buckets["backend=mem,command=set,le=+Inf,outcome=ok,system=cashews.memory"]).toBe(2);
  });

  it("counts a safe-mode error against the decorated call's strategy, and the failed command", async () => {
    const registry = new Registry();
    const cache = memCache("prom-mem-err");
    instrumented(cache, { registry });
    await cache.set("text", "not a number");
    const bump = cache.cache({ ttl: "1m", key: "bump" })(async () => cache.incr("text"));
    await bump();
    expect(await series(registry, "cashews_errors_total")).toEqual({ "backend=mem,strategy=cache": 1 });
    const commands = await series(registry, "cashews_command_duration_seconds_count");
    expect(commands["backend=mem,command=incr,outcome=error,system=cashews.memory"]).toBe(1);
  });

  it("observes stampede waits: an in-process join and locked's wait for the lock", async () => {
    const registry = new Registry();
    const cache = memCache("prom-mem-wait");
    instrumented(cache, { registry });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = cache.cache({ ttl: "1m", key: "slow" })(async () => (await gate, 42));
    const first = slow();
    const second = slow();
    const third = slow();
    release();
    expect(await Promise.all([first, second, third])).toEqual([42, 42, 42]);

    let open!: () => void;
    const held = new Promise<void>((r) => (open = r));
    const job = cache.locked({ ttl: "10s", key: "job" })(async (n: number) => (n === 1 ? await held : undefined, n));
    const a = job(1);
    await sleep(20);
    const b = job(2);
    await sleep(30);
    open();
    expect(await Promise.all([a, b])).toEqual([1, 2]);
    expect(await series(registry, "cashews_stampede_wait_seconds_count")).toEqual({
      "backend=mem,kind=in-flight,strategy=cache": 2,
      "backend=mem,kind=lock,strategy=locked": 1,
    });
    const sum = await series(registry, "cashews_stampede_wait_seconds_sum");
    expect(sum["backend=mem,kind=lock,strategy=locked"]).toBeGreaterThan(0);
  });

  it("counts rate-limit decisions, allowed and refused", async () => {
    const registry = new Registry();
    const cache = memCache("prom-mem-limit");
    instrumented(cache, { registry });
    const api = cache.limiter({ algorithm: "fixed", limit: 2, period: "1m", prefix: "api" });
    for (let i = 0; i < 5; i++) await api.limit("u1");
    expect(await series(registry, "cashews_rate_limit_decisions_total")).toEqual({
      "backend=mem,decision=allowed,limiter=api": 2,
      "backend=mem,decision=refused,limiter=api": 3,
    });
    // The strategies report under their own name.
    const sms = cache.rateLimit({ limit: 1, period: "1m", key: "sms:{to}" })(async (to: string) => to);
    await sms("a");
    await expect(sms("a")).rejects.toBeInstanceOf(RateLimitError);
    await sms("b");
    expect(nonZero(await series(registry, "cashews_rate_limit_decisions_total"))).toEqual({
      "backend=mem,decision=allowed,limiter=api": 2,
      "backend=mem,decision=refused,limiter=api": 3,
      "backend=mem,decision=allowed,limiter=rateLimit": 2,
      "backend=mem,decision=refused,limiter=rateLimit": 1,
    });
  });

  it("dispose stops counting (idempotent); the metrics stay with their values; the cache can be instrumented again", async () => {
    const registry = new Registry();
    const cache = memCache("prom-mem-dispose");
    const stop = instrument(cache, { registry });
    const fn = cache.cache({ ttl: "1m", key: "d" })(async () => 1);
    await fn();
    await fn();
    stop();
    stop();
    await fn();
    await cache.get("d");
    await cache.set("e", 1);
    expect(await series(registry, "cashews_hits_total")).toEqual({ "backend=mem,strategy=cache": 1 });
    expect(await series(registry, "cashews_sets_total")).toEqual({ "backend=mem,strategy=cache": 1 });
    // Again, on the same registry: the same metric objects go on counting.
    instrumented(cache, { registry });
    await fn();
    expect(await series(registry, "cashews_hits_total")).toEqual({ "backend=mem,strategy=cache": 2 });
  });

  it("two caches share one registry's metrics, told apart by backend (a prefix route) or by constant labels", async () => {
    const registry = new Registry();
    const users = memCache("prom-users", "user:");
    const orders = memCache("prom-orders");
    instrumented(users, { registry });
    instrumented(orders, { registry });
    await users.get("user:1");
    await orders.get("order:1");
    await orders.get("order:2");
    expect(await series(registry, "cashews_misses_total")).toEqual({ "backend=mem@user:,strategy=none": 1, "backend=mem,strategy=none": 2 });

    const labelled = new Registry();
    const a = memCache("prom-a");
    const b = memCache("prom-b");
    instrumented(a, { registry: labelled, labels: { cache: "a" } });
    instrumented(b, { registry: labelled, labels: { cache: "b" } });
    await a.set("k", 1);
    await b.set("k", 1);
    await b.set("k", 2);
    expect(await series(labelled, "cashews_sets_total")).toEqual({ "backend=mem,cache=a,strategy=none": 1, "backend=mem,cache=b,strategy=none": 2 });
    // Other label names on the same registry: refused, saying why.
    const c = memCache("prom-c");
    expect(() => instrument(c, { registry: labelled })).toThrow(CacheConfigError);
    expect(() => instrument(c, { registry: labelled })).toThrow(/already has a metric cashews_hits_total/);
    // With a prefix, its own metrics.
    instrumented(c, { registry: labelled, prefix: "shop_" });
    await c.set("k", 1);
    expect(await series(labelled, "shop_cashews_sets_total")).toEqual({ "backend=mem,strategy=none": 1 });
    expect(await series(labelled, "cashews_sets_total")).toEqual({ "backend=mem,cache=a,strategy=none": 1, "backend=mem,cache=b,strategy=none": 2 });
  });

  it("one cache on two registries: both count; twice on one registry, or a non-cache, is a CacheConfigError", async () => {
    const one = new Registry();
    const two = new Registry();
    const cache = memCache("prom-two");
    instrumented(cache, { registry: one });
    const stopTwo = instrumented(cache, { registry: two });
    await cache.get("x");
    expect(await series(one, "cashews_misses_total")).toEqual({ "backend=mem,strategy=none": 1 });
    expect(await series(two, "cashews_misses_total")).toEqual({ "backend=mem,strategy=none": 1 });
    expect(() => instrument(cache, { registry: one })).toThrow(CacheConfigError);
    expect(() => instrument(cache, { registry: one })).toThrow(/already instrumented on this registry/);
    stopTwo();
    await cache.get("x");
    expect(await series(one, "cashews_misses_total")).toEqual({ "backend=mem,strategy=none": 2 });
    expect(await series(two, "cashews_misses_total")).toEqual({ "backend=mem,strategy=none": 1 });

    for (const notACache of [{}, null, () => undefined, "cache"]) {
      expect(() => instrument(notACache as never, { registry: one }), String(notACache)).toThrow(CacheConfigError);
    }
    expect(() => instrument({} as never, { registry: one })).toThrow(/instrument: the first argument must be a cache/);
    // A CoreCache is a cache too.
    const lean = new CoreCache("prom-lean").setup("mem://");
    cleanup.push(() => lean.close());
    instrumented(lean, { registry: one });
    await lean.get("y");
    expect(await series(one, "cashews_misses_total")).toEqual({ "backend=mem,strategy=none": 3 });
  });

  it("instruments a cache before its setup: the routes set up later report too", async () => {
    const registry = new Registry();
    const cache = new Cache("prom-early");
    cleanup.push(() => cache.close());
    instrumented(cache, { registry });
    cache.setup("mem://");
    cache.setup("mem://", { prefix: "user:" });
    await cache.get("a");
    await cache.get("user:1");
    await cache.set("user:1", 1);
    expect(await series(registry, "cashews_misses_total")).toEqual({ "backend=mem,strategy=none": 1, "backend=mem@user:,strategy=none": 1 });
    // Each route's first read ran as a command (its backend starting); the write is a command.
    expect(nonZero(await series(registry, "cashews_command_duration_seconds_count"))).toEqual({
      "backend=mem,command=get,outcome=ok,system=cashews.memory": 1,
      "backend=mem@user:,command=get,outcome=ok,system=cashews.memory": 1,
      "backend=mem@user:,command=set,outcome=ok,system=cashews.memory": 1,
    });
  });

  it("coexists with another integration's probe on the same cache (cashews/otel attaches one too)", async () => {
    const registry = new Registry();
    const cache = memCache("prom-coexist");
    const seen: OutcomeRecord[] = [];
    const detachOther = attachProbe(cache, "otel", { outcome: (r) => seen.push(r) });
    cleanup.push(detachOther);
    const stop = instrumented(cache, { registry });
    const fn = cache.cache({ ttl: "1m", key: "both" })(async () => 1);
    await fn();
    await fn();
    expect(seen.map((r) => r.hit)).toEqual([false, true]);
    expect(await series(registry, "cashews_hits_total")).toEqual({ "backend=mem,strategy=cache": 1 });
    expect(probeOf(cache)!.probes.map((p) => p.id)).toEqual(["otel", expect.stringMatching(/^prometheus#\d+$/)]);
    // Either one detached, the other goes on.
    stop();
    await fn();
    expect(seen).toHaveLength(3);
    expect(await series(registry, "cashews_hits_total")).toEqual({ "backend=mem,strategy=cache": 1 });
    instrumented(cache, { registry });
    detachOther();
    await fn();
    expect(seen).toHaveLength(3);
    expect(await series(registry, "cashews_hits_total")).toEqual({ "backend=mem,strategy=cache": 2 });
  });

  it("refuses a foreign metric of the same name, a bad prefix and bad or reserved label names", () => {
    const registry = new Registry();
    new Gauge({ name: "cashews_hits_total", help: "not ours", registers: [registry] });
    const cache = memCache("prom-bad");
    expect(() => instrument(cache, { registry })).toThrow(/already has a metric cashews_hits_total that is not the counter/);
    const clean = new Registry();
    new Counter({ name: "cashews_sets_total", help: "ours, other labels", labelNames: ["backend"], registers: [clean] });
    expect(() => instrument(cache, { registry: clean })).toThrow(CacheConfigError);
    // Refused before anything was registered: only the foreign metric is there.
    expect(clean.getMetricsAsArray().map((m) => m.name)).toEqual(["cashews_sets_total"]);
    const fresh = new Registry();
    expect(() => instrument(cache, { registry: fresh, prefix: "1bad-" })).toThrow(/prefix "1bad-"/);
    expect(() => instrument(cache, { registry: fresh, labels: { "bad-name": "x" } })).toThrow(/"bad-name" is not a valid/);
    expect(() => instrument(cache, { registry: fresh, labels: { backend: "x" } })).toThrow(/"backend" is a label cashews sets itself/);
    expect(() => instrument(cache, { registry: fresh, labels: { le: "x" } })).toThrow(CacheConfigError);
    // Nothing was attached by the refusals: the fresh registry can be used.
    expect(() => instrumented(cache, { registry: fresh })).not.toThrow();
  });

  it("uses prom-client's global register by default", async () => {
    const cache = memCache("prom-global");
    const names = Object.values(METRICS).map((m) => m.prometheus);
    cleanup.push(() => names.forEach((n) => register.removeSingleMetric(n)));
    instrumented(cache);
    await cache.get("nothing");
    expect(await series(register, "cashews_misses_total")).toEqual({ "backend=mem,strategy=none": 1 });
    for (const name of names) expect(register.getSingleMetric(name), name).toBeDefined();
  });
});

describe.skipIf(!redisUrl)("instrument on redis://", () => {
  it("counts decorated hits/misses/sets and redis commands by command, and a WRONGTYPE-like refusal as an error", async () => {
    const registry = new Registry();
    const cache = new Cache("prom-redis").setup(redisUrl, { namespace: `prom-${RUN}` });
    cleanup.push(() => cache.close());
    instrumented(cache, { registry });
    const fn = cache.cache({ ttl: "1m", key: "item:{id}" })(async (id: string) => ({ id }));
    await fn("1");
    await fn("1");
    await fn("2");
    await cache.set("text", "not a number");
    await cache.incr("text"); // refused by redis: an error in safe mode
    expect(await series(registry, "cashews_hits_total")).toEqual({ "backend=redis,strategy=cache": 1 });
    expect(await series(registry, "cashews_misses_total")).toEqual({ "backend=redis,strategy=cache": 2 });
    expect(await series(registry, "cashews_sets_total")).toEqual({ "backend=redis,strategy=cache": 2, "backend=redis,strategy=none": 1 });
    expect(await series(registry, "cashews_errors_total")).toEqual({ "backend=redis,strategy=none": 1 });
    const commands = nonZero(await series(registry, "cashews_command_duration_seconds_count"));
    expect(commands).toMatchObject({
      "backend=redis,command=get,outcome=ok,system=redis": 3,
      "backend=redis,command=set,outcome=ok,system=redis": 3,
      "backend=redis,command=incr,outcome=error,system=redis": 1,
    });
    await cache.clear();
  });

  it("counts a dead backend's failures in safe mode (closed port, short timeout)", async () => {
    const registry = new Registry();
    const dead = new Cache("prom-dead").setup("redis://127.0.0.1:1", { timeout: 200 });
    cleanup.push(() => dead.close());
    instrumented(dead, { registry });
    const fn = dead.cache({ ttl: "1m", key: "k" })(async () => "computed");
    expect(await fn()).toBe("computed");
    expect(await fn()).toBe("computed");
    // Whether a failure happens as a command or while the backend connects depends on the client;
    // every one is counted, exactly as the cache's own stats count them.
    const errors = await series(registry, "cashews_errors_total");
    expect(Object.keys(errors)).toEqual(["backend=redis,strategy=cache"]);
    expect(errors["backend=redis,strategy=cache"]).toBe(dead.stats().errors);
    expect(dead.stats().errors).toBeGreaterThanOrEqual(2);
    const commands = nonZero(await series(registry, "cashews_command_duration_seconds_count"));
    expect(Object.keys(commands).length).toBeGreaterThan(0);
    expect(Object.keys(commands).every((k) => k.includes("outcome=error") && k.includes("system=redis"))).toBe(true);
    expect(await series(registry, "cashews_hits_total")).toEqual({});
  });

  it("observes a single-flight wait (cache({ lock: true })) across two caches, and limiter decisions", async () => {
    const registry = new Registry();
    const namespace = `prom-sf-${RUN}`;
    const a = new Cache("prom-sf-a").setup(redisUrl, { namespace });
    const b = new Cache("prom-sf-b").setup(redisUrl, { namespace });
    cleanup.push(() => a.close(), () => b.close(), () => a.clear());
    instrumented(b, { registry });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const load = async (): Promise<number> => (calls++, await gate, 7);
    const winner = a.cache({ ttl: "1m", key: "sf", lock: true })(load)();
    await sleep(50);
    const waiter = b.cache({ ttl: "1m", key: "sf", lock: true })(load)();
    await sleep(50);
    release();
    expect(await Promise.all([winner, waiter])).toEqual([7, 7]);
    expect(calls).toBe(1);
    expect(await series(registry, "cashews_stampede_wait_seconds_count")).toEqual({ "backend=redis,kind=single-flight,strategy=cache": 1 });

    const api = b.limiter({ algorithm: "sliding", limit: 1, period: "1m", prefix: "api" });
    await api.limit("u");
    await api.limit("u");
    expect(await series(registry, "cashews_rate_limit_decisions_total")).toEqual({
      "backend=redis,decision=allowed,limiter=api": 1,
      "backend=redis,decision=refused,limiter=api": 1,
    });
  });

  it("counts local-tier hits (a redis clientSide copy), one per read served locally", async () => {
    const registry = new Registry();
    const cache = new Cache("prom-local").setup(redisUrl, { prefix: "", namespace: `prom-local-${RUN}`, local: { ttl: "1m" } } as never);
    cleanup.push(() => cache.close());
    instrumented(cache, { registry });
    const fn = cache.cache({ ttl: "1m", key: "local" })(async () => "v");
    expect(await fn()).toBe("v");
    const local = async (): Promise<number> => (await series(registry, "cashews_local_hits_total"))["backend=redis"] ?? 0;
    // The copy fills once tracking confirms the key.
    for (let i = 0; i < 100 && (await local()) === 0; i++) {
      await sleep(20);
      expect(await fn()).toBe("v");
    }
    const before = await local();
    expect(before).toBeGreaterThanOrEqual(1);
    const hitsBefore = (await series(registry, "cashews_hits_total"))["backend=redis,strategy=cache"]!;
    for (let i = 0; i < 5; i++) expect(await fn()).toBe("v");
    expect(await local()).toBe(before + 5);
    expect((await series(registry, "cashews_hits_total"))["backend=redis,strategy=cache"]).toBe(hitsBefore + 5);
    await cache.clear();
  });
});
