// Quiet outages (issue 19, item 3): a backend that stops answering emits one `backend-down`, its
// `error` events are rate-limited (the first failure, then at most one per second per backend),
// every failure is still counted in stats, and the first success of a command issued during the
// outage emits one `backend-up` with `failedOpen`, the calls that failed open meanwhile. Decided
// in the core, so a custom backend (defineBackend) whose commands fail on demand shows it all.
import { afterEach, describe, expect, it, vi } from "vitest";
import { Cache, CacheBackendError, defineBackend, registerBackend, type CacheEventInfo } from "../../src/index.js";

/** A map store whose commands fail while `failing` is set; `hold()` makes the next get wait for a signal. */
function flaky() {
  const map = new Map<string, string>();
  const state = {
    failing: false,
    held: [] as { release: (fail: boolean) => void }[],
  };
  const gate = async (): Promise<void> => {
    if (state.failing) throw new CacheBackendError("flaky: connection refused");
  };
  let holdNext = false;
  const backend = defineBackend({
    kind: "flaky",
    async get(key) {
      if (holdNext) {
        holdNext = false;
        const fail = await new Promise<boolean>((resolve) => state.held.push({ release: resolve }));
        if (fail) throw new CacheBackendError("flaky: reset by peer");
        return map.get(key);
      }
      await gate();
      return map.get(key);
    },
    async set(key, value) {
      await gate();
      map.set(key, value as string);
      return true;
    },
    async delete(key) {
      await gate();
      return map.delete(key);
    },
    async getExpire(key) {
      await gate();
      return map.has(key) ? -1 : -2;
    },
    async expire(key) {
      await gate();
      return map.has(key);
    },
  });
  return { backend, state, hold: () => void (holdNext = true) };
}

let n = 0;
/** A cache on a fresh flaky:// scheme (and mem:// under `mem:`), recording every event. */
function setup() {
  const store = flaky();
  const scheme = `flaky${++n}`;
  registerBackend(scheme, () => store.backend);
  const cache = new Cache(`outages-${n}`).setup(`${scheme}://`).setup("mem://", { prefix: "mem:" });
  const events: CacheEventInfo[] = [];
  for (const type of ["error", "backend-down", "backend-up"] as const) cache.on(type, (e) => events.push(e));
  const count = (type: string) => events.filter((e) => e.type === type).length;
  return { cache, store, events, count, label: scheme };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("quiet outages: backend-down, backend-up and rate-limited error events", () => {
  it("N failing calls: one backend-down, error events at most one per second, every failure counted; a success: one backend-up with failedOpen === N; a second outage: a second pair", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_000_000);
    const { cache, store, events, count, label } = setup();
    await cache.set("k", "v");
    expect(events).toEqual([]);

    store.state.failing = true;
    const N = 50;
    for (let i = 0; i < N; i++) expect(await cache.get("k", "neutral")).toBe("neutral");
    expect(count("backend-down")).toBe(1);
    expect(count("error")).toBe(1); // the first failure only: the rest within the same second
    expect(cache.stats().errors).toBe(N);
    const down = events.find((e) => e.type === "backend-down")!;
    expect(down.backend).toBe(label);
    expect(down.error).toBeInstanceOf(CacheBackendError);
    // backend-down comes just before its failure's own error event, with the same error.
    expect(events[0]!.type).toBe("backend-down");
    expect(events[1]).toMatchObject({ type: "error", error: down.error });

    // 999 ms later: still none; at 1 s: one more, then none until the next second.
    vi.setSystemTime(1_000_999);
    await cache.get("k");
    expect(count("error")).toBe(1);
    vi.setSystemTime(1_001_000);
    for (let i = 0; i < 10; i++) await cache.set("k", i);
    expect(count("error")).toBe(2);
    vi.setSystemTime(1_003_500);
    await cache.delete("k");
    await cache.get("k");
    expect(count("error")).toBe(3);
    const failed = N + 1 + 10 + 2;
    expect(cache.stats().errors).toBe(failed);
    expect(count("backend-down")).toBe(1);
    expect(count("backend-up")).toBe(0);

    // Another backend of the cache is not concerned.
    await cache.set("mem:x", 1);
    expect(await cache.get("mem:x")).toBe(1);
    expect(count("backend-up")).toBe(0);

    store.state.failing = false;
    expect(await cache.get("k", "neutral")).toBe("v"); // the set above failed open
    await cache.get("k");
    expect(count("backend-up")).toBe(1);
    expect(events.at(-1)).toEqual({ type: "backend-up", backend: label, failedOpen: failed });

    // Outside an outage every error is emitted: the next failure starts a second outage.
    store.state.failing = true;
    for (let i = 0; i < 5; i++) await cache.get("k");
    expect(count("backend-down")).toBe(2);
    expect(count("error")).toBe(4);
    store.state.failing = false;
    await cache.get("k");
    expect(count("backend-up")).toBe(2);
    expect(events.at(-1)).toEqual({ type: "backend-up", backend: label, failedOpen: 5 });
    expect(cache.stats().errors).toBe(failed + 5);
    await cache.close();
  });

  it("decorated calls fail open and are counted the same way", async () => {
    const { cache, store, count } = setup();
    let calls = 0;
    const fn = cache({ ttl: "1m", key: "f:{n}" })(async (n: number) => {
      calls++;
      return n * 2;
    });
    store.state.failing = true;
    for (let i = 0; i < 20; i++) expect(await fn(i)).toBe(i * 2);
    expect(calls).toBe(20);
    expect(count("backend-down")).toBe(1);
    expect(count("error")).toBeLessThanOrEqual(2); // the first, and one more if a second went by
    const errors = cache.stats().errors;
    expect(errors).toBe(40); // GET, then SET, per call
    store.state.failing = false;
    expect(await fn(1)).toBe(2);
    expect(count("backend-up")).toBe(1);
    await cache.close();
  });

  it("a command issued before backend-down that succeeds later does not end the outage; one issued during it that fails after backend-up does not start another", async () => {
    const { cache, store, events, count } = setup();
    await cache.set("k", "v");

    store.hold();
    const early = cache.get("k"); // issued while the backend answers
    store.state.failing = true;
    await cache.get("k");
    expect(count("backend-down")).toBe(1);
    store.state.held.shift()!.release(false);
    expect(await early).toBe("v");
    expect(count("backend-up")).toBe(0);

    store.hold();
    const late = cache.get("k", "neutral"); // issued during the outage
    store.state.failing = false;
    expect(await cache.get("k")).toBe("v");
    expect(count("backend-up")).toBe(1);
    expect(events.at(-1)).toMatchObject({ type: "backend-up", failedOpen: 1 });
    store.state.held.shift()!.release(true);
    expect(await late).toBe("neutral");
    expect(count("backend-down")).toBe(1);
    expect(count("error")).toBe(2); // an ordinary error, emitted
    expect(cache.stats().errors).toBe(2);
    await cache.close();
  });

  it("a configuration failure (a capability the backend lacks) is not an outage", async () => {
    const { cache, count } = setup();
    await expect(cache.incr("counter")).rejects.toThrow(/atomic/);
    expect(count("backend-down")).toBe(0);
    await cache.close();
  });

  it("a reply about the data (WRONGTYPE on mem://) proves the store answered: every one emitted, no outage", async () => {
    const cache = new Cache(`outages-data-${++n}`).setup("mem://");
    const events: CacheEventInfo[] = [];
    for (const type of ["error", "backend-down", "backend-up"] as const) cache.on(type, (e) => events.push(e));
    await cache.set("val", "text");
    for (let i = 0; i < 3; i++) expect(await cache.setAdd("val", ["a"])).toBe(0);
    expect(events.map((e) => e.type)).toEqual(["error", "error", "error"]);
    expect(String((events[0]!.error as Error).message)).toMatch(/WRONGTYPE/);
    expect(cache.stats().errors).toBe(3);
    await cache.close();
  });

  it("safe: false rejects with CacheBackendError and emits no outage events", async () => {
    const store = flaky();
    const scheme = `flaky${++n}`;
    registerBackend(scheme, () => store.backend);
    const cache = new Cache(`outages-unsafe-${n}`).setup(`${scheme}://`, { safe: false });
    const events: string[] = [];
    for (const type of ["error", "backend-down", "backend-up"] as const) cache.on(type, (e) => events.push(e.type));
    store.state.failing = true;
    await expect(cache.get("k")).rejects.toBeInstanceOf(CacheBackendError);
    expect(events).toEqual([]);
    await cache.close();
  });
});
