// An unresponsive backend (connected but silent: a SIGSTOP'd redis-server, an Upstash endpoint
// that answers after 5 s): the first command to time out makes the backend unresponsive, and
// every later command fails at once until one probe (PING, bounded by the timeout) answers. So a
// call that makes several round trips pays at most one timeout. The state machine on its own
// (fake timers), then on a real frozen Redis and a real slow REST endpoint.
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { Cache, CacheBackendError } from "../../src/index.js";
import {
  Deadlines,
  FIRST_PROBE_DELAY_MS,
  MAX_PROBE_DELAY_MS,
  Responsiveness,
  type Bounded,
  type ResponsivenessOptions,
} from "../../src/backends/deadlines.js";
import { createUpstashBackend } from "../../src/upstash.js";
import { startRedis, type RedisServer } from "../support/redis-server.js";
import { startUpstashServer, type UpstashServer } from "../support/upstash-server.js";

// "" = no redis-server binary; global-setup already failed the run if CI=true.
const redisUrl = inject("redisUrl");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A probe whose outcomes the test decides, one per call. */
function controlledProbe() {
  const calls: { signal: AbortSignal; resolve(): void; reject(error: Error): void }[] = [];
  const probe = (signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ signal, resolve, reject });
    });
  return { calls, probe };
}

function health(options: Partial<ResponsivenessOptions> & Pick<ResponsivenessOptions, "probe" | "background">) {
  return new Responsiveness({ name: "redis://db:6379/0", ms: 500, ...options });
}

/** Lets promise callbacks run (fake timers do not advance microtasks by themselves). */
const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe("Responsiveness: the state machine (fake timers)", () => {
  it("timeout → fail fast → background probes with capped back-off → recovery; told once per outage", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { calls, probe } = controlledProbe();
    const downs: Error[] = [];
    const h = health({ probe, background: true, onDown: (error) => downs.push(error) });
    expect(h.down).toBe(false);
    expect(vi.getTimerCount()).toBe(0); // nothing scheduled while responsive

    const cause = new Error("timed out after 500 ms");
    expect(h.markDown(cause)).toBe(true);
    expect(h.markDown(new Error("again"))).toBe(false); // already down: no second report
    expect(h.down).toBe(true);
    expect(h.cause).toBe(cause);
    expect(h.refuse()).toBe("redis://db:6379/0 did not answer within 500 ms; commands fail fast until it answers again");
    expect(downs.map((e) => e.message)).toEqual([h.reason]);
    expect(downs[0]!.cause).toBe(cause);

    // Probe i starts after the back-off: 100, 200, 400, 800, then 1000 ms (the cap) each.
    const delays: number[] = [];
    let delay = FIRST_PROBE_DELAY_MS;
    for (let i = 0; i < 6; i++) {
      delays.push(delay);
      vi.advanceTimersByTime(delay - 1);
      expect(calls).toHaveLength(i);
      vi.advanceTimersByTime(1);
      expect(calls).toHaveLength(i + 1); // one probe at a time
      calls[i]!.reject(new Error("no answer"));
      await flush();
      expect(h.down).toBe(true);
      delay = Math.min(delay * 2, MAX_PROBE_DELAY_MS);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);

    vi.advanceTimersByTime(MAX_PROBE_DELAY_MS);
    calls[6]!.resolve();
    await flush();
    expect(h.down).toBe(false);
    expect(h.cause).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0); // no timer left once responsive
    expect(downs).toHaveLength(1);

    // A second outage starts over from the short delay, and is reported again.
    h.markDown(cause);
    expect(downs).toHaveLength(2);
    vi.advanceTimersByTime(FIRST_PROBE_DELAY_MS);
    expect(calls).toHaveLength(8);
  });

  it("a probe that hangs is given up after the timeout (its signal aborts), then retried", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { calls, probe } = controlledProbe();
    const h = health({ probe, background: true });
    h.markDown(new Error("timed out"));
    vi.advanceTimersByTime(FIRST_PROBE_DELAY_MS);
    expect(calls).toHaveLength(1);
    vi.advanceTimersByTime(499);
    expect(calls[0]!.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(calls[0]!.signal.aborted).toBe(true);
    await flush();
    calls[0]!.resolve(); // a late answer of a given-up probe changes nothing
    await flush();
    expect(h.down).toBe(true);
    vi.advanceTimersByTime(2 * FIRST_PROBE_DELAY_MS);
    expect(calls).toHaveLength(2);
  });

  it("stop() (close) while down: responsive, no timer left, the probe in flight aborted and its outcome ignored", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { calls, probe } = controlledProbe();
    const h = health({ probe, background: true });

    h.markDown(new Error("timed out"));
    expect(vi.getTimerCount()).toBe(1); // the next probe
    h.stop();
    expect(h.down).toBe(false);
    expect(vi.getTimerCount()).toBe(0);

    h.markDown(new Error("timed out"));
    vi.advanceTimersByTime(FIRST_PROBE_DELAY_MS);
    expect(calls).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(1); // the probe's bound
    h.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(calls[0]!.signal.aborted).toBe(true);
    h.markDown(new Error("timed out again"));
    calls[0]!.resolve(); // from before stop(): must not end the new outage
    await flush();
    expect(h.down).toBe(true);
    h.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("markUp() (a fresh connection answered) ends the outage and cancels the pending probe", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { calls, probe } = controlledProbe();
    const h = health({ probe, background: true });
    h.markUp(); // no-op while responsive
    h.markDown(new Error("timed out"));
    h.markUp();
    expect(h.down).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(calls).toHaveLength(0);
  });

  it("without background probes (Workers): no timer while idle; the first command refused after the back-off starts one probe", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { calls, probe } = controlledProbe();
    const h = health({ probe, background: false });
    h.markDown(new Error("timed out"));
    expect(vi.getTimerCount()).toBe(0); // nothing scheduled outside a request
    vi.advanceTimersByTime(FIRST_PROBE_DELAY_MS - 1);
    h.refuse();
    expect(calls).toHaveLength(0); // still backing off
    vi.advanceTimersByTime(1);
    h.refuse();
    h.refuse();
    expect(calls).toHaveLength(1); // one probe, however many commands are refused
    calls[0]!.reject(new Error("no answer"));
    await flush();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000); // idle: nothing happens
    expect(calls).toHaveLength(1);
    h.refuse();
    expect(calls).toHaveLength(2);
    calls[1]!.resolve();
    await flush();
    expect(h.down).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("Deadlines: the hooks the unresponsive state uses", () => {
  const op = (): Bounded & { expired: Error[] } => {
    const expired: Error[] = [];
    return { at: 0, settled: false, next: undefined, expired, expire: (error) => void expired.push(error) };
  };

  it("onExpire runs once per firing that expired something; expireAll fails every pending operation at once", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const fired: Error[] = [];
    const deadlines = new Deadlines(100, () => new Error("timed out after 100 ms"), (error) => fired.push(error));
    const [a, b, c, d] = [op(), op(), op(), op()];
    deadlines.add(a);
    deadlines.add(b);
    vi.advanceTimersByTime(50);
    deadlines.add(c);
    deadlines.add(d);
    deadlines.settle(d);
    vi.advanceTimersByTime(50);
    expect(fired.map((e) => e.message)).toEqual(["timed out after 100 ms"]); // a and b, one call
    expect(a.expired).toHaveLength(1);
    expect(b.expired).toHaveLength(1);
    const down = new Error("did not answer");
    deadlines.expireAll(down);
    expect(c.expired).toEqual([down]);
    expect(d.expired).toEqual([]); // settled before
    expect(deadlines.settle(c)).toBe(false); // its late reply is ignored
    vi.advanceTimersByTime(1000);
    expect(fired).toHaveLength(1); // nothing left to expire
    expect(vi.getTimerCount()).toBe(0);
  });
});

/**
 * Records the timers set through the global setTimeout from now on, until restored: `pending()`
 * lists those neither fired nor cleared (with where they were set, for the failure message);
 * undici's keep-alive timers are left out.
 */
function trackTimers(): { pending(): string[]; restore(): void } {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const pending = new Map<unknown, string>();
  globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle = realSet(
      (...a: unknown[]) => {
        pending.delete(handle);
        fn(...a);
      },
      ms,
      ...args,
    );
    const where = new Error().stack?.split("\n").slice(2, 5).join(" <- ") ?? "";
    // fetch's connection pool (keep-alive) is the runtime's, not the backend's.
    if (!where.includes("node:internal/deps/undici")) pending.set(handle, `${ms} ms timer set at ${where}`);
    return handle;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((handle?: Parameters<typeof clearTimeout>[0]) => {
    pending.delete(handle);
    realClear(handle);
  }) as typeof clearTimeout;
  const restore = () => {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  };
  cleanup.push(restore);
  return { pending: () => [...pending.values()], restore };
}

/** Resolves the ms `promise` took to reject, and its error. */
async function rejection(promise: Promise<unknown>): Promise<{ ms: number; error: Error }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    return { ms: performance.now() - started, error: error as Error };
  }
  throw new Error("expected a rejection");
}

/** Polls `fn` every 20 ms until it resolves `expected`; resolves the ms it took. */
async function until(fn: () => Promise<unknown>, expected: unknown, withinMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    try {
      if ((await fn()) === expected) return performance.now() - started;
    } catch {
      // still failing
    }
    if (performance.now() - started > withinMs) throw new Error(`not back within ${withinMs} ms`);
    await sleep(20);
  }
}

const TIMEOUT = 300;
/** Generous: "fails at once" means no network wait, not a speed claim. */
const FAST_MS = 150;

describe.skipIf(!redisUrl)("redis://: a frozen server (SIGSTOP)", () => {
  async function frozenServer(): Promise<RedisServer & { freeze(): void; thaw(): void }> {
    const server = await startRedis();
    let frozen = false;
    const thaw = () => {
      if (frozen) process.kill(server.pid, "SIGCONT");
      frozen = false;
    };
    cleanup.push(() => server.stop());
    cleanup.push(thaw); // runs first: a stopped process would ignore SIGTERM
    return Object.assign(server, {
      freeze: () => {
        process.kill(server.pid, "SIGSTOP");
        frozen = true;
      },
      thaw,
    });
  }

  function cacheFor(server: RedisServer, options: Record<string, unknown> = {}): Cache {
    const cache = new Cache("unresponsive").setup(server.url, { timeout: TIMEOUT, namespace: "unresponsive", ...options });
    cleanup.push(() => cache.close());
    return cache;
  }

  it("safe: false: one timeout, then CacheBackendError at once with a clear message; back within 2 s of the thaw", async () => {
    const server = await frozenServer();
    const cache = cacheFor(server, { safe: false });
    await cache.set("k", "v");
    server.freeze();

    const first = await rejection(cache.get("k"));
    expect(first.error).toBeInstanceOf(CacheBackendError);
    expect(first.error.message).toMatch(/^redis GET: timed out after 300 ms/);
    expect(first.ms).toBeGreaterThanOrEqual(TIMEOUT - 50);

    const message = new RegExp(
      `^redis (GET|SET|INCR_EXPIRE|INCRBY|UNLINK|PING): redis://127\\.0\\.0\\.1:${server.port}/0 did not answer within 300 ms; commands fail fast until it answers again$`,
    );
    for (const run of [() => cache.get("k"), () => cache.set("k", "w"), () => cache.incr("n"), () => cache.delete("k"), () => cache.ping()]) {
      const { ms, error } = await rejection(run());
      expect(error).toBeInstanceOf(CacheBackendError);
      expect(error.message).toMatch(message);
      expect(ms).toBeLessThan(FAST_MS);
    }
    await sleep(1500); // background probes fail meanwhile (each bounded by the timeout)
    const { ms } = await rejection(cache.get("k"));
    expect(ms).toBeLessThan(FAST_MS);

    server.thaw();
    const back = await until(() => cache.get("k"), "v", 5000);
    expect(back).toBeLessThan(MAX_PROBE_DELAY_MS + TIMEOUT + 700);
    expect(await cache.set("k", "w")).toBe(true);
    expect(await cache.get("k")).toBe("w");
  }, 15_000);

  it("safe mode: a decorated call pays at most one timeout, returns its result, and the failures are reported", async () => {
    const server = await frozenServer();
    const cache = cacheFor(server);
    const errors: unknown[] = [];
    cache.on("error", (event) => errors.push(event.error));
    let runs = 0;
    const load = cache.hit({ ttl: "1m", cacheHits: 10, key: "h:{id}" })(async (id: number) => {
      runs++;
      return id * 2;
    });
    await cache.init();
    server.freeze();
    const started = performance.now();
    expect(await load(1)).toBe(2); // read + incr time out together; the write fails at once
    const first = performance.now() - started;
    expect(first).toBeLessThan(TIMEOUT + 250);
    const again = performance.now();
    expect(await load(2)).toBe(4);
    expect(performance.now() - again).toBeLessThan(FAST_MS);
    expect(runs).toBe(2);
    // The outage's first failure is emitted (the others are rate-limited, see CacheEventType), each counted.
    expect(errors.some((e) => /did not answer within 300 ms|timed out after 300 ms/.test(String((e as Error).message)))).toBe(true);
    expect(cache.stats().errors).toBeGreaterThanOrEqual(2);
    expect(errors.every((e) => e instanceof CacheBackendError)).toBe(true);

    server.thaw();
    // Caching works again: a fresh key is computed once, then served.
    const cachedAgain = async () => {
      const id = Math.random();
      const before = runs;
      await load(id);
      await load(id);
      return runs - before;
    };
    expect(await until(cachedAgain, 1, 5000)).toBeLessThan(MAX_PROBE_DELAY_MS + TIMEOUT + 700);
  }, 15_000);

  it("close() while unresponsive returns promptly and leaves no timer and no socket behind", async () => {
    const server = await frozenServer();
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
    await sleep(200); // startRedis' own check connection is closed by now
    const socketsBefore = sockets();
    const timers = trackTimers();
    const cache = cacheFor(server, { safe: false });
    await cache.set("k", "v");
    server.freeze();
    await rejection(cache.get("k"));
    await sleep(FIRST_PROBE_DELAY_MS + 50); // a probe is in flight now
    const started = performance.now();
    await cache.close();
    expect(performance.now() - started).toBeLessThan(FAST_MS); // no QUIT to a silent server
    await sleep(300); // the socket's disconnect timeout
    timers.restore();
    expect(timers.pending()).toEqual([]);
    expect(sockets()).toBe(socketsBefore);
    await sleep(MAX_PROBE_DELAY_MS + TIMEOUT); // and nothing starts again later
    expect(sockets()).toBe(socketsBefore);
  }, 15_000);

  it("a new connection ends the unresponsive state (the frozen server was replaced)", async () => {
    const server = await frozenServer();
    const cache = cacheFor(server, { safe: false });
    await cache.set("k", "v");
    server.freeze();
    await rejection(cache.get("k"));
    expect((await rejection(cache.get("k"))).error.message).toMatch(/did not answer/);
    server.thaw();
    await server.restart(); // empty, same port: the old connection breaks, ioredis reconnects
    expect(await until(() => cache.set("k", "new"), true, 5000)).toBeLessThan(5000);
    expect(await cache.get("k")).toBe("new");
  }, 15_000);
});

describe.skipIf(!redisUrl)("upstash://: an endpoint that answers after 5 s", () => {
  async function slowServer(): Promise<UpstashServer> {
    const server = await startUpstashServer({ redisUrl });
    cleanup.push(async () => {
      server.setDelay(0);
      await server.stop();
    });
    return server;
  }
  const ns = `unresponsive-${process.pid}`;

  it("safe: false: one timeout, then CacheBackendError at once; only probes reach the endpoint; back after it is fast again", async () => {
    const server = await slowServer();
    const cache = new Cache("upstash-unresponsive").setup(server.url.replace(/^http:/, "upstash+http:"), {
      token: server.token,
      namespace: ns,
      timeout: TIMEOUT,
      safe: false,
    });
    cleanup.push(() => cache.close());
    await cache.set("k", "v");
    server.setDelay(5000);

    const first = await rejection(cache.get("k"));
    expect(first.error).toBeInstanceOf(CacheBackendError);
    expect(first.error.message).toMatch(/timed out after 300 ms/);

    server.resetCount();
    const message = `${server.url} did not answer within 300 ms; commands fail fast until it answers again`;
    for (let i = 0; i < 20; i++) {
      const { ms, error } = await rejection(cache.set("k", "w"));
      expect(error).toBeInstanceOf(CacheBackendError);
      expect(error.message).toBe(`upstash SET: ${message}`);
      expect(ms).toBeLessThan(FAST_MS);
      await sleep(25);
    }
    // 20 refused commands over ~0.5 s: at most a probe or two went out (each a lone PING).
    expect(server.requests).toBeLessThanOrEqual(3);

    server.setDelay(0);
    const back = await until(() => cache.get("k"), "v", 5000);
    expect(back).toBeLessThan(MAX_PROBE_DELAY_MS + TIMEOUT + 700);
    expect(await cache.set("k", "w")).toBe(true);
    expect(await cache.get("k")).toBe("w");
  }, 15_000);

  it("no timer while unresponsive and idle; close() aborts the probe in flight and leaves no timer", async () => {
    const server = await slowServer();
    const backend = createUpstashBackend(server.url.replace(/^http:/, "upstash+http:"), { token: server.token, namespace: ns, timeout: TIMEOUT });
    cleanup.push(() => backend.close());
    await backend.set("k", "v", undefined);
    server.setDelay(5000);
    await rejection(backend.get("k")); // times out: unresponsive
    const timers = trackTimers();
    await sleep(MAX_PROBE_DELAY_MS); // idle: nothing is scheduled
    expect(timers.pending()).toEqual([]);
    await expect(backend.get("k")).rejects.toThrow(/did not answer within 300 ms/); // starts a probe…
    expect(timers.pending()).toHaveLength(1); // …bounded by one timer
    await backend.close();
    timers.restore();
    expect(timers.pending()).toEqual([]);
    server.setDelay(0);
    // Usable again after close(): responsive from scratch.
    expect(await backend.get("k")).toBe("v");
  }, 15_000);
});
