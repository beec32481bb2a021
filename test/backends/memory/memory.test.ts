import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMemoryBackend, MemoryBackend, memorySpec } from "../../../src/backends/memory.js";
import { MISSING, type Backend } from "../../../src/backends/types.js";
import { CacheConfigError } from "../../../src/errors.js";

function make(options: { size?: number; checkInterval?: number; serialize?: boolean } = {}): MemoryBackend {
  const backend = createMemoryBackend({
    url: "mem://",
    options: { size: 10_000, checkInterval: 0, serialize: false, timeout: undefined, ...options },
  });
  expect(backend).toBeInstanceOf(MemoryBackend);
  return backend as MemoryBackend;
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

afterEach(() => {
  vi.useRealTimers();
});

describe("spec and construction", () => {
  it("describes the mem scheme and its options", () => {
    expect(memorySpec.schemes).toEqual(["mem"]);
    expect(memorySpec.options.size).toEqual({ kind: "int", min: 1, default: 10_000 });
    expect(memorySpec.options.checkInterval).toEqual({ kind: "duration", default: 1000 });
    expect(memorySpec.options.serialize).toEqual({ kind: "boolean", default: false });
    expect(typeof memorySpec.module).toBe("object");
  });

  it("reports kind and storesValues", () => {
    expect(make().kind).toBe("mem");
    expect(make().storesValues).toBe(true);
    expect(make({ serialize: true }).storesValues).toBe(false);
  });

  it("rejects a bad size or interval given directly", () => {
    expect(() => new MemoryBackend({ size: 0 })).toThrow(CacheConfigError);
    expect(() => new MemoryBackend({ size: 1.5 })).toThrow(CacheConfigError);
    expect(() => new MemoryBackend({ checkInterval: -1 })).toThrow(CacheConfigError);
  });

  it("starts no timer until init, and works before init", async () => {
    const spy = vi.spyOn(globalThis, "setInterval");
    try {
      const backend = make({ checkInterval: 1000 });
      expect(spy).not.toHaveBeenCalled();
      expect(backend.running).toBe(false);
      expect(await backend.set("k", 1, undefined)).toBe(true);
      expect(await backend.get("k")).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });
});

describe("values", () => {
  it("stores live values and distinguishes a stored undefined from a miss", async () => {
    const backend = make();
    const value = { deep: [1, 2] };
    await backend.set("obj", value, undefined);
    expect(await backend.get("obj")).toBe(value); // no copy
    await backend.set("undef", undefined, undefined);
    expect(await backend.get("undef")).toBeUndefined();
    expect(backend.peek("undef")).toBeUndefined();
    expect(await backend.get("nope")).toBe(MISSING);
    expect(backend.peek("nope")).toBe(MISSING);
    expect(await backend.exists("undef")).toBe(true);
  });

  it("getMany keeps input order with MISSING for absent keys", async () => {
    const backend = make();
    await backend.setMany(
      [
        ["a", 1],
        ["c", 3],
      ],
      undefined,
    );
    expect(await backend.getMany(["c", "b", "a", "c"])).toEqual([3, MISSING, 1, 3]);
    expect(await backend.getMany([])).toEqual([]);
  });

  it("set NX / XX resolve whether they wrote", async () => {
    const backend = make();
    expect(await backend.set("k", 1, undefined, true)).toBe(false); // XX on missing
    expect(await backend.get("k")).toBe(MISSING);
    expect(await backend.set("k", 1, undefined, false)).toBe(true); // NX on missing
    expect(await backend.set("k", 2, undefined, false)).toBe(false); // NX on present
    expect(await backend.get("k")).toBe(1);
    expect(await backend.set("k", 3, undefined, true)).toBe(true); // XX on present
    expect(await backend.get("k")).toBe(3);
  });

  it("delete / deleteMany count live keys only", async () => {
    const backend = make();
    await backend.setMany(
      [
        ["a", 1],
        ["b", 2],
        ["c", 3],
      ],
      undefined,
    );
    expect(await backend.delete("a")).toBe(true);
    expect(await backend.delete("a")).toBe(false);
    expect(await backend.deleteMany(["a", "b", "c", "d"])).toBe(2);
    expect(await backend.getKeysCount()).toBe(0);
  });

  it("ping and clear", async () => {
    const backend = make();
    expect(await backend.ping()).toBe("PONG");
    expect(await backend.ping("hello")).toBe("hello");
    await backend.set("a", 1, 1000);
    await backend.set("b", 1, undefined);
    await backend.clear();
    expect(await backend.getKeysCount()).toBe(0);
    expect(await backend.get("a")).toBe(MISSING);
    await backend.set("c", 1, undefined); // still usable after clear
    expect(await backend.get("c")).toBe(1);
  });
});

describe("LRU", () => {
  it("keeps the recently read keys when full (touch 5 of 10, add 5)", async () => {
    const backend = make({ size: 10 });
    for (let i = 0; i < 10; i++) await backend.set(`k${i}`, i, undefined);
    // Each kind of read refreshes recency.
    await backend.get("k0");
    backend.peek("k2");
    await backend.getMany(["k4"]);
    await backend.exists("k6");
    await backend.set("k8", 0, undefined);
    await backend.incr("k8", 1, undefined);
    for (let i = 10; i < 15; i++) await backend.set(`k${i}`, i, undefined);
    expect(await backend.getKeysCount()).toBe(10);
    const alive = await collect(backend.scan("k*", 100));
    expect(alive).toEqual(["k0", "k10", "k11", "k12", "k13", "k14", "k2", "k4", "k6", "k8"]);
  });

  it("never holds more than size entries", async () => {
    const backend = make({ size: 3 });
    for (let i = 0; i < 100; i++) await backend.set(`k${i}`, i, undefined);
    expect(backend.storedCount).toBe(3);
    expect(await backend.getMany(["k97", "k98", "k99"])).toEqual([97, 98, 99]);
  });

  it("evicts an expired entry before a live one", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make({ size: 3 });
    await backend.set("old", 1, undefined); // least recently used, but live
    await backend.set("short", 1, 100);
    await backend.set("c", 1, undefined);
    vi.advanceTimersByTime(200); // "short" expired, not read or purged
    await backend.set("d", 1, undefined);
    expect(await backend.get("old")).toBe(1);
    expect(await backend.getKeysCount()).toBe(3);
  });

  it("scan, getExpire, expire, unlock and deleteMatch do not refresh recency", async () => {
    const backend = make({ size: 3 });
    await backend.set("a", "t", undefined);
    await backend.set("b", 1, undefined);
    await backend.set("c", 1, undefined);
    await collect(backend.scan("a", 10));
    await backend.getExpire("a");
    await backend.expire("a", 60_000);
    await backend.unlock("a", "wrong");
    await backend.deleteMatch("zzz*");
    await backend.set("d", 1, undefined);
    expect(await backend.exists("a")).toBe(false);
  });
});

describe("expiry", () => {
  it("expires lazily on read once the deadline is reached", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    await backend.set("k", "v", 1000);
    vi.advanceTimersByTime(999);
    expect(await backend.get("k")).toBe("v");
    vi.advanceTimersByTime(1);
    expect(await backend.get("k")).toBe(MISSING);
    expect(backend.peek("k")).toBe(MISSING);
    expect(await backend.exists("k")).toBe(false);
    expect(backend.storedCount).toBe(0);
  });

  it("expires on the real clock too (the hit path's cached clock moves on)", async () => {
    const backend = make();
    await backend.set("k", "v", 40);
    expect(backend.peek("k")).toBe("v");
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(backend.peek("k")).toBe(MISSING);
    await backend.set("k", "v", 40);
    for (let i = 0; i < 3; i++) expect(await backend.get("k")).toBe("v");
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await backend.get("k")).toBe(MISSING);
    expect(await backend.getMany(["k"])).toEqual([MISSING]);
  });

  it("a re-set without expire clears the TTL", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    await backend.set("k", 1, 1000);
    await backend.set("k", 2, undefined);
    expect(await backend.getExpire("k")).toBe(-1);
    vi.advanceTimersByTime(5000);
    expect(await backend.get("k")).toBe(2);
    expect(backend.purgeExpired()).toBe(0);
  });

  it("a re-set with a new expire replaces the TTL", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    await backend.set("k", 1, 1000);
    await backend.set("k", 2, 5000);
    vi.advanceTimersByTime(2000);
    expect(await backend.get("k")).toBe(2);
    expect(await backend.getExpire("k")).toBe(3000);
    await backend.set("k", 3, 100); // shorter again
    vi.advanceTimersByTime(100);
    expect(backend.purgeExpired()).toBe(1);
  });

  it("an expired key counts as absent for NX / XX", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    await backend.set("k", 1, 100);
    vi.advanceTimersByTime(100);
    expect(await backend.set("k", 2, undefined, true)).toBe(false);
    expect(await backend.set("k", 2, undefined, false)).toBe(true);
  });

  it("getExpire: remaining ms, -1 without TTL, -2 when missing or expired but not purged", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    await backend.set("ttl", 1, 1500);
    await backend.set("forever", 1, undefined);
    expect(await backend.getExpire("ttl")).toBe(1500);
    vi.advanceTimersByTime(500);
    expect(await backend.getExpire("ttl")).toBe(1000);
    expect(await backend.getExpire("forever")).toBe(-1);
    expect(await backend.getExpire("missing")).toBe(-2);
    vi.advanceTimersByTime(1000);
    expect(backend.storedCount).toBe(2); // expired, still held
    expect(await backend.getExpire("ttl")).toBe(-2);
  });

  it("expire sets, replaces and removes a TTL; false for a missing key", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    expect(await backend.expire("missing", 1000)).toBe(false);
    await backend.set("k", 1, undefined);
    expect(await backend.expire("k", 1000)).toBe(true);
    expect(await backend.getExpire("k")).toBe(1000);
    expect(await backend.expire("k", undefined)).toBe(true);
    expect(await backend.getExpire("k")).toBe(-1);
    vi.advanceTimersByTime(2000);
    expect(await backend.get("k")).toBe(1);
    await backend.expire("k", 500);
    vi.advanceTimersByTime(500);
    expect(await backend.expire("k", 1000)).toBe(false);
  });

  it("getKeysCount is exact: expired keys are not counted", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    await backend.set("a", 1, 100);
    await backend.set("b", 1, 200);
    await backend.set("c", 1, undefined);
    expect(await backend.getKeysCount()).toBe(3);
    vi.advanceTimersByTime(150);
    expect(await backend.getKeysCount()).toBe(2);
    vi.advanceTimersByTime(50);
    expect(await backend.getKeysCount()).toBe(1);
  });

  it("purge finds exactly the expired keys after TTLs change (heap order)", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    const at = (ms: number): number => {
      vi.setSystemTime(1_000_000 + ms);
      backend.purgeExpired();
      return backend.storedCount;
    };
    await backend.set("a", 1, 100);
    await backend.set("b", 1, 300);
    await backend.set("c", 1, 200);
    await backend.set("d", 1, 400);
    await backend.set("e", 1, 500);
    await backend.set("f", 1, 600);
    await backend.expire("e", 50); // shortened below its parent
    await backend.set("b", 2, 700); // extended below its children
    expect(at(50)).toBe(5);
    expect(at(100)).toBe(4);
    expect(at(200)).toBe(3);
    expect(at(400)).toBe(2);
    expect(at(600)).toBe(1);
    expect(at(700)).toBe(0);
  });

  it("many TTLs expire in deadline order whatever the write order (heap)", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    const ttls = Array.from({ length: 500 }, (_, i) => ((i * 7919) % 500) + 1);
    for (const [i, ttl] of ttls.entries()) await backend.set(`k${i}`, i, ttl);
    // Rewrite some with other TTLs, drop TTLs from others, delete a few.
    for (let i = 0; i < 500; i += 5) await backend.set(`k${i}`, i, 1000 - ttls[i]!);
    for (let i = 1; i < 500; i += 7) await backend.expire(`k${i}`, undefined);
    for (let i = 2; i < 500; i += 11) await backend.delete(`k${i}`);
    const deadlines = ttls.map((ttl, i) => (i % 11 === 2 ? 0 : i % 7 === 1 ? Infinity : i % 5 === 0 ? 1000 - ttl : ttl));
    for (let t = 1; t <= 1000; t++) {
      vi.setSystemTime(1_000_000 + t);
      backend.purgeExpired(); // no reads: the heap alone must find every expired key
      expect(backend.storedCount, `at +${t}ms`).toBe(deadlines.filter((due) => t < due).length);
    }
    for (let i = 0; i < 500; i++) expect(backend.peek(`k${i}`) !== MISSING).toBe(deadlines[i] === Infinity);
  });
});

describe("purge timer", () => {
  it("removes expired keys without reads, leaves live ones and their LRU order alone", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make({ size: 4, checkInterval: 1000 });
    await backend.init();
    expect(backend.running).toBe(true);
    await backend.set("mru", 1, undefined);
    await backend.set("lru", 1, undefined);
    await backend.set("x", 1, 500);
    await backend.set("y", 1, 1500);
    await backend.get("mru"); // recency now differs from insertion order: lru, x, y, mru
    vi.advanceTimersByTime(1000);
    expect(backend.storedCount).toBe(3); // x purged, no read
    vi.advanceTimersByTime(1000);
    expect(backend.storedCount).toBe(2); // y purged
    // The purge read nothing: "lru" is still the first to go.
    await backend.set("n1", 1, undefined);
    await backend.set("n2", 1, undefined);
    await backend.set("n3", 1, undefined);
    expect(await backend.exists("lru")).toBe(false);
    expect(await backend.exists("mru")).toBe(true);
    await backend.close();
  });

  it("close stops it, init is idempotent and restarts it after close", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make({ checkInterval: 1000 });
    await backend.init();
    await backend.init();
    expect(vi.getTimerCount()).toBe(1);
    await backend.close();
    await backend.close();
    expect(vi.getTimerCount()).toBe(0);
    await backend.set("x", 1, 10);
    vi.advanceTimersByTime(5000);
    expect(backend.storedCount).toBe(1); // no timer, no read
    await backend.init();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(backend.storedCount).toBe(0);
    await backend.close();
  });

  it("checkInterval 0 starts no timer", async () => {
    vi.useFakeTimers();
    const backend = make({ checkInterval: 0 });
    await backend.init();
    expect(vi.getTimerCount()).toBe(0);
    expect(backend.running).toBe(false);
  });

  it("is unref'd", async () => {
    const spy = vi.spyOn(globalThis, "setInterval");
    const backend = make({ checkInterval: 1000 });
    try {
      await backend.init();
      const timer = spy.mock.results[0]!.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
    } finally {
      await backend.close();
      spy.mockRestore();
    }
  });

  it("does not keep a process alive", async () => {
    const module = fileURLToPath(new URL("../../../src/backends/memory.ts", import.meta.url));
    const script = `
      import { MemoryBackend } from ${JSON.stringify(module)};
      const backend = new MemoryBackend({ checkInterval: 50 });
      await backend.init();
      await backend.set("k", 1, 10_000);
      if (backend.peek("k") !== 1) throw new Error("no hit"); // also starts the hit path's clock timer
      console.log("ready");
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("../../..", import.meta.url)),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Uint8Array) => (output += String(chunk)));
    child.stderr.on("data", (chunk: Uint8Array) => (output += String(chunk)));
    const exited = await new Promise<boolean>((resolve) => {
      const guard = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(false);
      }, 15_000);
      child.on("exit", () => {
        clearTimeout(guard);
        resolve(true);
      });
    });
    expect(output).toContain("ready");
    expect(exited).toBe(true);
  }, 20_000);
});

describe("incr", () => {
  it("starts missing counters at 0 and applies the expiry only on creation", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    expect(await backend.incr("c", 1, 1000)).toBe(1);
    vi.advanceTimersByTime(600);
    expect(await backend.incr("c", 5, 10_000)).toBe(6); // keeps the TTL
    expect(await backend.getExpire("c")).toBe(400);
    expect(await backend.get("c")).toBe(6);
    vi.advanceTimersByTime(400);
    expect(await backend.incr("c", -2, undefined)).toBe(-2); // recreated, no TTL
    expect(await backend.getExpire("c")).toBe(-1);
  });

  it("keeps the TTL a counter got from expire or set", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    await backend.set("c", 10, 2000);
    expect(await backend.incr("c", 1, undefined)).toBe(11);
    expect(await backend.getExpire("c")).toBe(2000);
  });

  it("rejects what is not a safe integer, like Redis", async () => {
    const backend = make();
    for (const value of ["5", 1.5, NaN, Infinity, 2 ** 53, null, undefined, { n: 1 }, 5n]) {
      await backend.set("x", value, undefined);
      await expect(backend.incr("x", 1, undefined)).rejects.toThrow("ERR value is not an integer or out of range");
      expect(await backend.get("x")).toBe(value); // untouched
    }
    await expect(backend.incr("y", 1.5, undefined)).rejects.toThrow("not an integer");
    expect(await backend.exists("y")).toBe(false);
    await backend.set("big", Number.MAX_SAFE_INTEGER, undefined);
    await expect(backend.incr("big", 1, undefined)).rejects.toThrow("overflow");
    expect(await backend.get("big")).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("stores plain integer strings when serialize is on", async () => {
    const backend = make({ serialize: true });
    expect(await backend.incr("c", 5, undefined)).toBe(5);
    expect(await backend.get("c")).toBe("5");
    expect(await backend.incr("c", -7, undefined)).toBe(-2);
    expect(await backend.get("c")).toBe("-2");
    await backend.set("s", "41", undefined); // what Redis INCR accepts
    expect(await backend.incr("s", 1, undefined)).toBe(42);
    for (const text of ["", " 1", "1 ", "+1", "01", "-0", "1.0", "1e3", "abc", '"5"', "9007199254740993"]) {
      await backend.set("bad", text, undefined);
      await expect(backend.incr("bad", 1, undefined), text).rejects.toThrow("ERR value is not an integer");
    }
  });

  it("is atomic under concurrent calls", async () => {
    const backend = make();
    const results = await Promise.all(Array.from({ length: 100 }, () => backend.incr("c", 1, undefined)));
    expect(new Set(results).size).toBe(100);
    expect(await backend.get("c")).toBe(100);
  });
});

describe("patterns", () => {
  async function seeded(): Promise<MemoryBackend> {
    const backend = make();
    for (const key of ["user:1", "user:2", "user:10", "user:ann", "item:1", "a*b", "a?b", "axb", "[x]", "é"]) {
      await backend.set(key, key, undefined);
    }
    return backend;
  }

  it("scan uses Redis glob semantics", async () => {
    const backend = await seeded();
    expect(await collect(backend.scan("user:*", 2))).toEqual(["user:1", "user:10", "user:2", "user:ann"]);
    expect(await collect(backend.scan("user:?", 2))).toEqual(["user:1", "user:2"]);
    expect(await collect(backend.scan("user:[0-9]*", 2))).toEqual(["user:1", "user:10", "user:2"]);
    expect(await collect(backend.scan("user:[^0-9]*", 2))).toEqual(["user:ann"]);
    expect(await collect(backend.scan("a\\*b", 2))).toEqual(["a*b"]);
    expect(await collect(backend.scan("a?b", 2))).toEqual(["a*b", "a?b", "axb"]);
    expect(await collect(backend.scan("\\[x]", 2))).toEqual(["[x]"]);
    expect(await collect(backend.scan("??", 2))).toEqual(["é"]); // bytes, as in Redis
    expect(await collect(backend.scan("*", 2))).toHaveLength(10);
    expect(await collect(backend.scan("nothing*", 2))).toEqual([]);
  });

  it("scan skips expired keys and keys deleted during the iteration", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    await backend.set("k1", 1, 100);
    await backend.set("k2", 1, undefined);
    await backend.set("k3", 1, undefined);
    vi.advanceTimersByTime(100);
    const seen: string[] = [];
    for await (const key of backend.scan("k*", 10)) {
      seen.push(key);
      await backend.delete(key === "k2" ? "k3" : "k2");
      await backend.set(`${key}-new`, 1, undefined); // new keys do not prolong the scan
    }
    expect(seen).toHaveLength(1);
  });

  it("deleteMatch removes matching live keys and counts them", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = await seeded();
    await backend.set("user:gone", 1, 10);
    vi.advanceTimersByTime(10);
    expect(await backend.deleteMatch("user:[0-9]*")).toBe(3);
    expect(await collect(backend.scan("user:*", 10))).toEqual(["user:ann"]);
    expect(await backend.deleteMatch("user:*")).toBe(1);
    expect(await backend.deleteMatch("user:*")).toBe(0);
    expect(await backend.getKeysCount()).toBe(6);
  });
});

describe("locks", () => {
  it("setLock is NX with a TTL", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    expect(await backend.setLock("lock", "owner-1", 1000)).toBe(true);
    expect(await backend.setLock("lock", "owner-2", 1000)).toBe(false);
    expect(await backend.getExpire("lock")).toBe(1000);
    vi.advanceTimersByTime(1000);
    expect(await backend.setLock("lock", "owner-2", 1000)).toBe(true);
  });

  it("unlock deletes only for the owner", async () => {
    const backend = make();
    await backend.setLock("lock", "owner-1", 10_000);
    expect(await backend.unlock("lock", "owner-2")).toBe(false);
    expect(await backend.exists("lock")).toBe(true);
    expect(await backend.unlock("lock", "owner-1")).toBe(true);
    expect(await backend.exists("lock")).toBe(false);
    expect(await backend.unlock("lock", "owner-1")).toBe(false);
  });

  it("an expired lock cannot be unlocked", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backend = make();
    await backend.setLock("lock", "me", 100);
    vi.advanceTimersByTime(100);
    expect(await backend.unlock("lock", "me")).toBe(false);
  });
});

describe("the Backend interface", () => {
  it("is satisfied by the created backend, with peek behaving as get", async () => {
    const backend: Backend = make();
    await backend.set("k", 1, undefined);
    expect(backend.peek?.("k")).toBe(await backend.get("k"));
    expect(backend.peek?.("missing")).toBe(await backend.get("missing"));
  });
});
