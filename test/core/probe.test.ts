// The internal probe (src/core/probe.ts) on real backends: what the core reports to an attached
// probe, and that detaching stops it. The integrations (otel, prometheus) build on this contract.
import { afterEach, describe, expect, inject, it } from "vitest";
import { Cache, CacheConfigError, Command, LockedError } from "../../src/index.js";
import "../../src/redis.js";
import { attachProbe, probeOf, type CallRecord, type Probe } from "../../src/core/probe.js";

const redisUrl = inject("redisUrl");
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A probe that records everything it is told. */
function recorder() {
  const seen = {
    calls: [] as { record: CallRecord; ok: boolean }[],
    outcomes: [] as Parameters<NonNullable<Probe["outcome"]>>[0][],
    commands: [] as Parameters<NonNullable<Probe["command"]>>[0][],
    sets: [] as Parameters<NonNullable<Probe["set"]>>[0][],
    errors: [] as Parameters<NonNullable<Probe["error"]>>[0][],
    waits: [] as Parameters<NonNullable<Probe["wait"]>>[0][],
    limits: [] as Parameters<NonNullable<Probe["limit"]>>[0][],
    localHits: [] as Parameters<NonNullable<Probe["localHit"]>>[0][],
  };
  const probe: Probe = {
    call: (record, run) =>
      run().then(
        (value) => (seen.calls.push({ record, ok: true }), value),
        (error: unknown) => {
          seen.calls.push({ record, ok: false });
          throw error;
        },
      ),
    outcome: (r) => seen.outcomes.push(r),
    command: (r) => seen.commands.push(r),
    set: (r) => seen.sets.push(r),
    error: (r) => seen.errors.push(r),
    wait: (r) => seen.waits.push(r),
    limit: (r) => seen.limits.push(r),
    localHit: (r) => seen.localHits.push(r),
  };
  return { seen, probe };
}

function memCache(name: string): Cache {
  const cache = new Cache(name).setup("mem://");
  cleanup.push(() => cache.close());
  return cache;
}

describe("probe on mem://", () => {
  it("wraps each decorated call, with its outcome, key, template and backend; reports commands and sets", async () => {
    const cache = memCache("probe-mem");
    const { seen, probe } = recorder();
    attachProbe(cache, "test", probe);
    const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async function loadUser(id: string) {
      return { id };
    });
    expect(await getUser("1")).toEqual({ id: "1" });
    const afterMiss = seen.commands.length;
    expect(await getUser("1")).toEqual({ id: "1" });
    expect(seen.commands).toHaveLength(afterMiss);
    expect(seen.calls.map((c) => ({ ...c.record }))).toEqual([
      { strategy: "cache", function: "loadUser", outcome: "miss", template: "user:{id}", key: "user:1", backend: "mem" },
      { strategy: "cache", function: "loadUser", outcome: "hit", template: "user:{id}", key: "user:1", backend: "mem" },
    ]);
    expect(seen.outcomes.map((o) => [o.hit, o.strategy, o.backend])).toEqual([
      [false, "cache", "mem"],
      [true, "cache", "mem"],
    ]);
    expect(seen.sets).toEqual([{ backend: "mem", strategy: "cache", key: "user:1" }]);
    // The miss wrote through a backend command (and read through one while the backend started);
    // the memory hit was a peek: no command, no local hit.
    const set = seen.commands.find((c) => c.command === "set")!;
    expect(set).toMatchObject({ key: "user:1", scheme: "mem", backend: "mem", strategy: "cache", error: undefined });
    expect(set.seconds).toBeGreaterThanOrEqual(0);
    expect(set.start).toBeGreaterThan(Date.now() - 60_000);
    expect(seen.localHits).toEqual([]);
  });

  it("a call that throws settles its record with the error; direct reads are outcomes without a strategy", async () => {
    const cache = memCache("probe-mem-err");
    const { seen, probe } = recorder();
    attachProbe(cache, "test", probe);
    const boom = cache.cache({ ttl: "1m" })(async function boom() {
      throw new Error("boom");
    });
    await expect(boom()).rejects.toThrow("boom");
    expect(seen.calls).toHaveLength(1);
    expect(seen.calls[0]!.ok).toBe(false);
    expect(seen.calls[0]!.record.outcome).toBe("miss");
    await cache.get("nothing");
    expect(seen.outcomes.at(-1)).toMatchObject({ hit: false, strategy: undefined, backend: "mem", key: "nothing" });
    expect(seen.commands.at(-1)).toMatchObject({ command: "get", key: "nothing", strategy: undefined });
  });

  it("reports a failure reported in safe mode, attributed to the decorated call", async () => {
    const cache = memCache("probe-mem-fail");
    const { seen, probe } = recorder();
    attachProbe(cache, "test", probe);
    await cache.set("text", "not a number");
    const bump = cache.cache({ ttl: "1m", key: "bump" })(async () => cache.incr("text"));
    await bump();
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toMatchObject({ backend: "mem", strategy: "cache", key: "text" });
    expect(seen.commands.find((c) => c.command === "incr")!.error).toBeDefined();
  });

  it("reports stampede waits: an in-process join, and locked's wait for the lock", async () => {
    const cache = memCache("probe-mem-wait");
    const { seen, probe } = recorder();
    attachProbe(cache, "test", probe);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = cache.cache({ ttl: "1m", key: "slow" })(async () => (await gate, 42));
    const first = slow();
    const second = slow();
    release();
    expect(await Promise.all([first, second])).toEqual([42, 42]);
    expect(seen.waits).toEqual([expect.objectContaining({ kind: "in-flight", backend: "mem", strategy: "cache", key: "slow", ok: true })]);

    let open!: () => void;
    const held = new Promise<void>((r) => (open = r));
    const job = cache.locked({ ttl: "10s", key: "job" })(async (n: number) => (n === 1 ? await held : undefined, n));
    const a = job(1);
    await new Promise((r) => setTimeout(r, 20));
    const b = job(2);
    await new Promise((r) => setTimeout(r, 30));
    open();
    expect(await Promise.all([a, b])).toEqual([1, 2]);
    const lockWait = seen.waits.find((w) => w.kind === "lock");
    expect(lockWait).toMatchObject({ backend: "mem", strategy: "locked", ok: true });
    expect(lockWait!.seconds).toBeGreaterThan(0);
    // A wait that gives up is reported as not ok.
    const lock = await cache.lock("busy", "10s");
    await expect(cache.lock("busy", "10s", { wait: "30ms" })).rejects.toBeInstanceOf(LockedError);
    await lock.release();
    expect(seen.waits.at(-1)).toMatchObject({ kind: "lock", key: "busy", ok: false, strategy: undefined });
  });

  it("a lock wait that ends unacquired because the backend failed (safe mode) is not ok", async () => {
    const cache = memCache("probe-mem-wait-failed");
    const { seen, probe } = recorder();
    attachProbe(cache, "test", probe);
    const held = await cache.lock("k", "10s");
    let failing = false;
    cache.use(async (command, _args, next) => {
      if (failing && command === Command.SET_LOCK) throw new Error("backend gone");
      return next();
    });
    setTimeout(() => (failing = true), 40);
    const lock = await cache.lock("k", "10s", { wait: "5s" });
    expect(lock.acquired).toBe(false);
    expect(seen.waits.at(-1)).toMatchObject({ kind: "lock", key: "k", ok: false });
    await held.release();
  });

  it("a direct read inside a decorated call carries the call's strategy, as its writes do", async () => {
    const cache = memCache("probe-mem-direct");
    const { seen, probe } = recorder();
    attachProbe(cache, "test", probe);
    const fn = cache.cache({ ttl: "1m", key: "outer" })(async () => {
      await cache.get("side-read");
      await cache.set("side-write", 1);
      return 1;
    });
    await fn();
    expect(seen.outcomes.find((o) => o.key === "side-read")).toMatchObject({ hit: false, strategy: "cache", function: undefined });
    expect(seen.sets.find((s) => s.key === "side-write")).toMatchObject({ strategy: "cache" });
    // The call's own record keeps its own read.
    expect(seen.calls[0]!.record).toMatchObject({ key: "outer", outcome: "miss" });
    await cache.get("outside");
    expect(seen.outcomes.at(-1)).toMatchObject({ key: "outside", strategy: undefined });
  });

  it("a probe whose call hook throws before running the call does not break the call", async () => {
    const cache = memCache("probe-mem-throwing");
    attachProbe(cache, "bad", {
      call: () => {
        throw new Error("probe bug");
      },
    });
    const fn = cache.cache({ ttl: "1m", key: "t" })(async () => 7);
    expect(await fn()).toBe(7);
    expect(await fn()).toBe(7);
  });

  it("reports rate-limit decisions", async () => {
    const cache = memCache("probe-mem-limit");
    const { seen, probe } = recorder();
    attachProbe(cache, "test", probe);
    const api = cache.limiter({ algorithm: "fixed", limit: 2, period: "1m", prefix: "api" });
    for (let i = 0; i < 3; i++) await api.limit("u1");
    expect(seen.limits.map((l) => [l.allowed, l.backend, l.key])).toEqual([
      [true, "mem", "api:u1"],
      [true, "mem", "api:u1"],
      [false, "mem", "api:u1"],
    ]);
    // A limiter is labelled by its key prefix (limiters tell apart in metrics).
    expect(seen.limits.map((l) => l.limiter)).toEqual(["api", "api", "api"]);
  });

  it("detaching stops every report, and the hit path is the plain one again", async () => {
    const cache = memCache("probe-mem-detach");
    const { seen, probe } = recorder();
    const detach = attachProbe(cache, "test", probe);
    const fn = cache.cache({ ttl: "1m", key: "d" })(async () => 1);
    await fn();
    detach();
    detach(); // idempotent
    const before = JSON.stringify(seen);
    await fn();
    await fn();
    await cache.set("x", 1);
    await cache.get("x");
    expect(JSON.stringify(seen)).toBe(before);
    // The route publishes the backend itself again, with its synchronous read path.
    expect(probeOf(cache)).toBeUndefined();
    expect(cache.route("d").backend).toBe(cache.route("d").created);
    expect(cache.route("d").peekable).toBe(true);
    // Attached again (a detached id may come back).
    attachProbe(cache, "test", probe);
    await fn();
    expect(seen.calls).toHaveLength(2);
  });

  it("detaching one id leaves the others, even one attached with the same probe object", async () => {
    const cache = memCache("probe-mem-ids");
    const { seen, probe } = recorder();
    const detachA = attachProbe(cache, "a", probe);
    attachProbe(cache, "b", probe);
    detachA();
    await cache.set("k", 1);
    expect(seen.sets).toHaveLength(1);
    expect(probeOf(cache)?.probes.map((p) => p.id)).toEqual(["b"]);
  });

  it("refuses a second probe of the same id, and a first argument that is not a cache", () => {
    const cache = memCache("probe-mem-twice");
    attachProbe(cache, "test", {});
    expect(() => attachProbe(cache, "test", {})).toThrow(CacheConfigError);
    expect(() => attachProbe(cache, "test", {})).toThrow(/already instrumented/);
    expect(() => attachProbe(cache, "other", {})).not.toThrow();
    expect(() => attachProbe({}, "test", {})).toThrow(CacheConfigError);
  });

  it("several probes see the same call, the first attached outermost", async () => {
    const cache = memCache("probe-mem-two");
    const order: string[] = [];
    const tracing = (name: string): Probe => ({
      call: async (record, run) => {
        order.push(`${name}>`);
        try {
          return await run();
        } finally {
          order.push(`<${name}:${record.outcome}`);
        }
      },
    });
    attachProbe(cache, "a", tracing("a"));
    attachProbe(cache, "b", tracing("b"));
    const fn = cache.cache({ ttl: "1m", key: "two" })(async () => 1);
    await fn();
    expect(order).toEqual(["a>", "b>", "<b:miss", "<a:miss"]);
  });
});

describe.skipIf(!redisUrl)("probe on redis://", () => {
  it("reports redis commands, and a local tier's hits", async () => {
    const cache = new Cache("probe-redis").setup(redisUrl, { prefix: "", local: { ttl: "1m" } } as never);
    cleanup.push(() => cache.close());
    const { seen, probe } = recorder();
    attachProbe(cache, "test", probe);
    const key = `probe:${process.pid}:${Date.now()}`;
    const fn = cache.cache({ ttl: "1m", key })(async () => "v");
    expect(await fn()).toBe("v");
    expect(await fn()).toBe("v");
    expect(seen.calls.map((c) => c.record.outcome)).toEqual(["miss", "hit"]);
    expect(seen.commands.some((c) => c.scheme === "redis" && c.command === "set" && c.key === key && c.error === undefined)).toBe(true);
    // The clientSide copy (redis's local tier on one node) fills once tracking confirms the key.
    for (let i = 0; i < 100 && seen.localHits.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      expect(await fn()).toBe("v");
    }
    expect(seen.localHits[0]).toEqual({ backend: "redis", strategy: "cache", key });
    await cache.delete(key);
  });
});
