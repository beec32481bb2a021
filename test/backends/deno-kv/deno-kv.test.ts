// The deno-kv:// backend on Node through @deno/kv, on real SQLite database files (a fresh
// temporary directory per run, removed after): exactness of every read-modify-write under
// concurrency (two connections to one file in this process, and two child processes), expiry
// checked on read (records past their expiry that KV has not removed yet), the tag layout, the
// setup errors and the value size limit.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openKv } from "@deno/kv";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { Cache, CacheBackendError, CacheConfigError, type CacheEventInfo } from "../../../src/index.js";
import { MISSING } from "../../../src/backends/types.js";
import { importPeer } from "../../../src/config/load.js";
import { createDenoKvBackend, DENO_KV_MAX_VALUE_BYTES, type DenoKvBackend, type DenoKvHandle } from "../../../src/deno-kv.js";
import { MAX_SLIDING_CALLS } from "../../../src/backends/deno-kv/backend.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "cashews-denokv-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** A fresh database file in the run's temporary directory. */
const newDb = (): string => join(dir, `db-${++fileCount}.sqlite`);

/**
 * Two backends on one database file, on two KV connections (backends of one process on one path
 * share a connection, so `b` gets a handle of its own as option `kv`), closed after each test.
 */
function useTwoBackends(namespace = "t"): { a: DenoKvBackend; b: DenoKvBackend; db: string } {
  const state = {} as { a: DenoKvBackend; b: DenoKvBackend; db: string; kv: DenoKvHandle };
  beforeEach(async () => {
    state.db = newDb();
    state.kv = (await openKv(state.db)) as unknown as DenoKvHandle;
    state.a = createDenoKvBackend(`deno-kv://${state.db}`, { namespace });
    state.b = createDenoKvBackend("deno-kv://", { namespace, kv: state.kv });
    await Promise.all([state.a.init(), state.b.init()]);
    expect(await state.a.handle()).not.toBe(await state.b.handle());
  });
  afterEach(async () => {
    await Promise.all([state.a.close(), state.b.close()]);
    state.kv.close();
  });
  return state;
}

describe("deno-kv://: exact under concurrency (two connections to one file)", () => {
  const s = useTwoBackends();

  it("N concurrent incr give exactly 1..N and leave N", async () => {
    const n = 60;
    const values = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? s.a : s.b).incr("c", 1, 60_000)));
    expect([...values].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(await s.b.get("c")).toBe(String(n));
  });

  it("setLock by 20 concurrent callers: exactly one wins; unlock is compare-and-delete", async () => {
    const won = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? s.a : s.b).setLock("lock", `owner-${i}`, 60_000)));
    expect(won.filter(Boolean)).toHaveLength(1);
    const owner = `owner-${won.indexOf(true)}`;
    expect(await s.a.get("lock")).toBe(owner);
    expect(await s.a.unlock("lock", "someone-else")).toBe(false);
    expect(await s.a.get("lock")).toBe(owner);
    const released = await Promise.all([s.a.unlock("lock", owner), s.b.unlock("lock", owner)]);
    expect(released.filter(Boolean)).toHaveLength(1);
    expect(await s.b.exists("lock")).toBe(false);
  });

  it("slidingIncr with limit L and N > L concurrent callers admits exactly L", async () => {
    const limit = 7;
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => (i % 2 ? s.a : s.b).slidingIncr("w", 60_000, limit)));
    const admitted = results.filter(([count]) => count <= limit);
    expect(admitted).toHaveLength(limit);
    expect(admitted.map(([count]) => count).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    for (const [count, reset] of results) {
      if (count > limit) expect(count).toBe(limit + 1); // refused calls are not recorded
      expect(reset).toBeGreaterThan(0);
      expect(reset).toBeLessThanOrEqual(60_000);
    }
    // The window holds L entries: the next call is refused too.
    expect((await s.a.slidingIncr("w", 60_000, limit))[0]).toBe(limit + 1);
  });

  it("set NX by concurrent callers: exactly one writes", async () => {
    const wrote = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? s.a : s.b).set("nx", `v${i}`, 60_000, false)));
    expect(wrote.filter(Boolean)).toHaveLength(1);
    expect(await s.a.get("nx")).toBe(`v${wrote.indexOf(true)}`);
  });

  it("concurrent tagAdd of 300 members from two connections keeps every member", async () => {
    const members = Array.from({ length: 300 }, (_, i) => `m:${i}`);
    await Promise.all(members.map((member, i) => (i % 2 ? s.a : s.b).tagAdd("_tag:big", member, 60_000)));
    const popped = [...(await s.a.tagPop("_tag:big", 250)).members, ...(await s.b.tagPop("_tag:big", 250)).members];
    expect(popped.sort()).toEqual([...members].sort());
    expect(await s.a.exists("_tag:big")).toBe(false);
  });

  it("concurrent tagPop never hands a member out twice", async () => {
    const members = Array.from({ length: 40 }, (_, i) => `m:${i}`);
    for (const member of members) await s.a.tagAdd("_tag:t", member, 60_000);
    const batches = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? s.a : s.b).tagPop("_tag:t", 7)));
    const all = batches.flatMap((batch) => batch.members);
    expect(all).toHaveLength(40);
    expect(new Set(all).size).toBe(40);
    expect(await s.b.exists("_tag:t")).toBe(false);
  });
});

describe("deno-kv://: exact across two Node processes on one database file", () => {
  it("incr, setLock and slidingIncr stay exact", async () => {
    const db = newDb();
    const n = 20;
    const limit = 9;
    const script = fileURLToPath(new URL("../../support/child-deno-kv.ts", import.meta.url));
    const children = [0, 1].map(() => {
      const child = spawn(process.execPath, ["--import", "tsx", script], {
        cwd: root,
        env: { ...process.env, DB: db, NAMESPACE: "proc", N: String(n), LIMIT: String(limit) },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      const waitFor = async (prefix: string): Promise<string> => {
        for (;;) {
          const line = output.split("\n").find((l) => l.startsWith(prefix));
          if (line !== undefined) return line.slice(prefix.length);
          const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(r, 20)).then(() => false)]);
          if (done && !output.split("\n").some((l) => l.startsWith(prefix))) throw new Error(`child exited before "${prefix}":\n${output}`);
        }
      };
      return { child, waitFor, exited };
    });
    await Promise.all(children.map((c) => c.waitFor("ready")));
    for (const c of children) c.child.stdin.write("go\n");
    const results = (await Promise.all(children.map((c) => c.waitFor("result ")))).map(
      (line) => JSON.parse(line) as { incr: number[]; locks: boolean[]; sliding: number[] },
    );
    expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0]);

    const increments = results.flatMap((r) => r.incr).sort((x, y) => x - y);
    expect(increments).toEqual(Array.from({ length: 2 * n }, (_, i) => i + 1));
    expect(results.flatMap((r) => r.locks).filter(Boolean)).toHaveLength(1);
    expect(results.flatMap((r) => r.sliding).filter((count) => count <= limit)).toHaveLength(limit);

    const backend = createDenoKvBackend(`deno-kv://${db}`, { namespace: "proc" });
    try {
      expect(await backend.get("counter")).toBe(String(2 * n));
    } finally {
      await backend.close();
    }
  }, 60_000);
});

describe("deno-kv://: semantics", () => {
  const s = useTwoBackends("sem");
  /** Writes a raw record as KV would still hold it after its expiry (KV deletes expired keys late). */
  const writeStale = async (key: string, text: string): Promise<void> => {
    const kv = await s.a.handle();
    await kv.set(["sem", key], `v${Date.now() - 1000}:${text}`);
  };

  it("expiry is checked on every read: a record past its expiry is missing although KV still holds it", async () => {
    await writeStale("old", "stale");
    const kv = await s.a.handle();
    expect((await kv.get(["sem", "old"])).versionstamp).not.toBeNull(); // still stored
    expect(await s.a.get("old")).toBe(MISSING);
    expect(await s.a.getMany(["old"])).toEqual([MISSING]);
    expect(await s.a.exists("old")).toBe(false);
    expect(await s.a.getExpire("old")).toBe(-2);
    expect(await s.a.expire("old", 60_000)).toBe(false);
    expect(await s.a.unlock("old", "stale")).toBe(false);
    const keys: string[] = [];
    for await (const key of s.a.scan("*", 10)) keys.push(key);
    expect(keys).toEqual([]);
    expect(await s.a.getKeysCount()).toBe(0);
    expect(await s.a.delete("old")).toBe(false);
  });

  it("NX writes over an expired record, XX does not; incr restarts an expired counter at the increment", async () => {
    await writeStale("nx", "stale");
    expect(await s.a.set("nx", "x", undefined, true)).toBe(false);
    expect(await s.a.set("nx", "fresh", 60_000, false)).toBe(true);
    expect(await s.b.get("nx")).toBe("fresh");
    expect(await s.a.set("nx", "again", 60_000, false)).toBe(false);
    expect(await s.a.set("nx", "xx", undefined, true)).toBe(true);
    expect(await s.a.getExpire("nx")).toBe(-1); // a set without expiry removes the TTL
    await writeStale("counter", "41");
    expect(await s.a.incr("counter", 5, 60_000)).toBe(5);
  });

  it("incr: expiry applied only on creation; rejects what is not an integer like the Redis script", async () => {
    expect(await s.a.incr("n", 2, 60_000)).toBe(2);
    expect(await s.a.incr("n", -5, 1000)).toBe(-3);
    const left = await s.a.getExpire("n");
    expect(left).toBeGreaterThan(1000); // the creating call's 60 s, not 1 s
    expect(left).toBeLessThanOrEqual(60_000);
    expect(await s.a.incr("p", 1, undefined)).toBe(1);
    expect(await s.a.getExpire("p")).toBe(-1);
    for (const text of ["abc", "1.5", "007", "-0", " 1", ""]) {
      await s.a.set("bad", text, undefined);
      await expect(s.a.incr("bad", 1, undefined), text).rejects.toThrow(/not an integer/);
      expect(await s.a.get("bad")).toBe(text);
    }
    await s.a.set("big", String(Number.MAX_SAFE_INTEGER), undefined);
    await expect(s.a.incr("big", 1, undefined)).rejects.toThrow(/overflow/);
    await s.a.slidingIncr("log", 60_000, 5);
    await expect(s.a.incr("log", 1, undefined)).rejects.toThrow(/WRONGTYPE/);
    await expect(s.a.incr("n", 1.5, undefined)).rejects.toThrow(/not an integer/);
  });

  it("getMany reads more than 10 keys (chunked), in input order", async () => {
    const keys = Array.from({ length: 27 }, (_, i) => `g${i}`);
    await s.a.setMany(keys.filter((_, i) => i % 3 !== 0).map((key) => [key, `v-${key}`]), 60_000);
    expect(await s.b.getMany(keys)).toEqual(keys.map((key, i) => (i % 3 === 0 ? MISSING : `v-${key}`)));
  });

  it("tags: one KV key per member; TTL extended, never shortened; undefined makes the set persistent", async () => {
    await s.a.tagAdd("_tag:x", "k1", 5_000);
    await s.a.tagAdd("_tag:x", "k2", 60_000);
    await s.a.tagAdd("_tag:x", "k3", 1_000);
    const ttl = await s.a.getExpire("_tag:x");
    expect(ttl).toBeGreaterThan(5_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    const kv = await s.a.handle();
    const memberKeys: unknown[][] = [];
    for await (const entry of kv.list({ prefix: ["sem", "\u0000tag", "_tag:x"] })) memberKeys.push([...entry.key]);
    expect(memberKeys.map((key) => key[4]).sort()).toEqual(["k1", "k2", "k3"]);
    // Members are not keys of the namespace.
    const keys: string[] = [];
    for await (const key of s.a.scan("*", 100)) keys.push(key);
    expect(keys).toEqual(["_tag:x"]);
    await s.a.tagAdd("_tag:x", "k4", undefined);
    expect(await s.a.getExpire("_tag:x")).toBe(-1);
    await s.a.tagAdd("_tag:x", "k5", 1_000);
    expect(await s.a.getExpire("_tag:x")).toBe(-1);
    expect((await s.b.tagPop("_tag:x", 100)).members.sort()).toEqual(["k1", "k2", "k3", "k4", "k5"]);
    expect(await s.a.exists("_tag:x")).toBe(false);
    expect((await s.a.tagPop("_tag:x", 10)).members).toEqual([]);
  });

  it("tags: a member recorded by the previous version (value \"\") is popped unchecked; an expired member is dropped", async () => {
    await s.a.tagAdd("_tag:legacy", "new", 60_000);
    const kv = await s.a.handle();
    const head = (await kv.get(["sem", "_tag:legacy"])).value as string; // "t<expiry>:<generation>"
    const generation = head.slice(head.indexOf(":") + 1);
    await kv.set(["sem", "\u0000tag", "_tag:legacy", generation, "old"], "");
    await kv.set(["sem", "\u0000tag", "_tag:legacy", generation, "expired"], `m${Date.now() - 1}`);
    expect(await s.b.tagPop("_tag:legacy", 10)).toEqual({ members: ["new"], unchecked: ["old"] });
    expect(await s.a.exists("_tag:legacy")).toBe(false);
  });

  it("tags: a set past its expiry starts empty again (its old members are not popped)", async () => {
    await s.a.tagAdd("_tag:old", "gone", 60_000);
    const kv = await s.a.handle();
    const head = (await kv.get(["sem", "_tag:old"])).value as string; // "t<expiry>:<generation>"
    expect(head).toMatch(/^t\d+:/);
    await kv.set(["sem", "_tag:old"], head.replace(/^t\d+:/, `t${Date.now() - 1}:`));
    expect((await s.a.tagPop("_tag:old", 10)).members).toEqual([]);
    await s.a.tagAdd("_tag:old", "new", 60_000);
    expect((await s.a.tagPop("_tag:old", 10)).members).toEqual(["new"]);
  });

  it("a sliding window keeps at most MAX_SLIDING_CALLS calls: a higher limit is refused, a full unlimited log is a backend error", async () => {
    await expect(s.a.slidingIncr("big", 60_000, MAX_SLIDING_CALLS + 1)).rejects.toBeInstanceOf(CacheConfigError);
    expect(await s.a.slidingIncr("big", 60_000, MAX_SLIDING_CALLS)).toEqual([1, 60_000]);
    // A full unlimited log (a circuit breaker's): written directly, one call per ms of the last 10 s.
    const kv = await s.a.handle();
    const now = Date.now();
    const times = Array.from({ length: MAX_SLIDING_CALLS }, (_, i) => now - 10_000 + i);
    await kv.set(["sem", "full"], `s${now + 60_000}:${times.map((t, i) => (i === 0 ? String(t) : (t - times[i - 1]!).toString(36))).join(",")}`);
    await expect(s.a.slidingIncr("full", 60_000, -1)).rejects.toThrow(/holds 10000 calls, the most deno-kv:\/\/ keeps \(10000\); shorten the period/);
  });

  it("wrong types are refused like Redis (WRONGTYPE)", async () => {
    await s.a.set("str", "v", undefined);
    await expect(s.a.tagAdd("str", "m", undefined)).rejects.toThrow(/WRONGTYPE/);
    await expect(s.a.tagPop("str", 1)).rejects.toThrow(/WRONGTYPE/);
    await expect(s.a.slidingIncr("str", 1000, 5)).rejects.toThrow(/WRONGTYPE/);
    await s.a.tagAdd("set", "m", undefined);
    await expect(s.a.get("set")).rejects.toThrow(/WRONGTYPE/);
    const kv = await s.a.handle();
    await kv.set(["sem", "foreign"], { not: "ours" }); // not written by cashews
    await expect(s.a.get("foreign")).rejects.toThrow(/WRONGTYPE/);
    await expect(s.a.incr("foreign", 1, undefined)).rejects.toThrow(/WRONGTYPE/);
  });

  it("clear() and deleteMatch remove only this namespace's keys", async () => {
    const kv = await s.a.handle();
    await kv.set(["app", "config"], { theme: "dark" });
    await kv.set(["sem2", "x"], 1);
    await s.a.set("user:1", "a", undefined);
    await s.a.set("user:2", "b", undefined);
    await s.a.set("post:1", "c", 60_000);
    await s.a.tagAdd("_tag:t", "user:1", undefined);
    expect(await s.a.deleteMatch("user:*")).toBe(2);
    expect(await s.b.get("post:1")).toBe("c");
    expect(await s.a.getKeysCount()).toBe(2);
    await s.a.clear();
    expect(await s.a.getKeysCount()).toBe(0);
    let left = 0;
    for await (const _ of kv.list({ prefix: ["sem"] })) left++;
    expect(left).toBe(0); // the tag's member entries too
    expect((await kv.get(["app", "config"])).value).toEqual({ theme: "dark" });
    expect((await kv.get(["sem2", "x"])).value).toBe(1);
  });
});

describe("deno-kv://: the Cache on it", () => {
  let db: string;
  let cache: Cache;
  let errors: CacheEventInfo[];
  beforeEach(async () => {
    db = newDb();
    errors = [];
    cache = new Cache("dkv").setup(`deno-kv://${db}`);
    cache.on("error", (e) => void errors.push(e));
    await cache.init();
  });
  afterEach(async () => {
    await cache.close();
  });

  it("deleteTags deletes the tagged keys, on a second cache too", async () => {
    const other = new Cache("dkv2").setup(`deno-kv://${db}`);
    try {
      await cache.set("user:1", { id: 1 }, { expire: "1m", tags: ["users"] });
      await other.set("user:2", { id: 2 }, { tags: ["users", "admins"] });
      await cache.set("post:1", { id: 1 }, { expire: "1m", tags: ["posts"] });
      expect(await other.deleteTags("users")).toBe(2);
      expect(await cache.get("user:1")).toBeUndefined();
      expect(await cache.get("user:2")).toBeUndefined();
      expect(await cache.get("post:1")).toEqual({ id: 1 });
    } finally {
      await other.close();
    }
  });

  it("a value over the size limit is refused with a clear error (safe mode: false and an error event)", async () => {
    const backend = createDenoKvBackend(`deno-kv://${db}`);
    try {
      await expect(backend.set("big", "x".repeat(DENO_KV_MAX_VALUE_BYTES + 1), 60_000)).rejects.toThrow(
        new CacheBackendError(`deno-kv: the value of key "big" is too large (65561 bytes): Deno KV stores at most 65536 bytes per value`),
      );
      await expect(backend.set("wide", "€".repeat(40_000), 60_000)).rejects.toThrow(/"wide" is too large \(80024 bytes\)/);
      await expect(backend.setMany([["ok", "1"], ["huge", "h".repeat(70_000)]], undefined)).rejects.toThrow(/"huge" is too large/);
      expect(await backend.exists("ok")).toBe(false); // refused before anything was written
      // The largest accepted text, with an expiry (the longest record prefix): KV stores it.
      const largest = "z".repeat(DENO_KV_MAX_VALUE_BYTES - 24);
      expect(await backend.set("fits", largest, 60_000)).toBe(true);
      expect(await backend.get("fits")).toBe(largest);
    } finally {
      await backend.close();
    }
    expect(await cache.set("huge", "x".repeat(70_000))).toBe(false);
    expect(errors.map((e) => String((e as { error?: unknown }).error))).toEqual([expect.stringMatching(/too large/)]);
    expect(await cache.get("huge")).toBeUndefined();
  });

  it("the cache strategy, incr and locks run on it", async () => {
    let calls = 0;
    const load = cache.cache({ ttl: "1m", key: "user:{id}" })(async (id: number) => ({ id, n: ++calls }));
    expect(await load(1)).toEqual({ id: 1, n: 1 });
    expect(await load(1)).toEqual({ id: 1, n: 1 });
    expect(calls).toBe(1);
    expect(await Promise.all(Array.from({ length: 10 }, () => cache.incr("hits")))).toHaveLength(10);
    expect(await cache.get("hits")).toBe(10);
    expect(errors).toEqual([]);
  });
});

describe("deno-kv://: setup and the kv option", () => {
  it("setup errors are CacheConfigErrors naming the problem", () => {
    const setup = (url: string, options?: Record<string, unknown>) => () => new Cache("e").setup(url, options);
    expect(setup("deno-kv://")).toThrow(CacheConfigError);
    expect(setup("deno-kv://")).toThrow(/exists only on Deno: give a path .* or pass an opened handle as option "kv"/);
    expect(setup("deno-kv://./x.db", { kv: {} })).toThrow(/either a path in the URL or an opened handle/);
    expect(setup("deno-kv://", { kv: { get() {} } })).toThrow(/option "kv" must be an opened Deno KV handle/);
    expect(setup("deno-kv://bad%zzpath")).toThrow(/malformed %-escape/);
    expect(setup("deno-kv://a#b")).toThrow(/has a "#": spell it %23/);
    expect(setup("deno-kv://./x.db?size=1")).toThrow(/unknown query parameter "size"/);
    expect(setup("deno-kv://./x.db", { namespace: 1 })).toThrow(/"namespace" must be a string/);
    expect(setup("deno-kv://./x.db", { kv: "handle" })).toThrow(/must be an object/);
  });

  it("a missing peer dependency says how to install it", async () => {
    await expect(importPeer("@cashews/not-installed-peer", "deno-kv")).rejects.toThrow(
      new CacheConfigError(`the deno-kv:// backend needs the peer dependency "@cashews/not-installed-peer" on this runtime: npm install @cashews/not-installed-peer`),
    );
  });

  it("URL paths: percent-decoded, relative and :memory:", async () => {
    const spaced = join(dir, "with space.db");
    const a = createDenoKvBackend(`deno-kv://${spaced.replace(/ /g, "%20")}`);
    const b = createDenoKvBackend(`deno-kv://${spaced.replace(/ /g, "%20")}`);
    expect(a.path).toBe(spaced);
    const memory1 = createDenoKvBackend("deno-kv://:memory:");
    const memory2 = createDenoKvBackend("deno-kv://:memory:");
    try {
      await a.set("k", "v", undefined);
      expect(await b.get("k")).toBe("v");
      await memory1.set("k", "one", undefined);
        expect(await memory2.get("k")).toBe(MISSING); // one in-memory database per backend
      expect(await memory1.get("k")).toBe("one");
    } finally {
      await Promise.all([a.close(), b.close(), memory1.close(), memory2.close()]);
    }
  });

  it("backends of one process on one file share a connection, closed with the last of them", async () => {
    const db = newDb();
    const a = createDenoKvBackend(`deno-kv://${db}`, { namespace: "one" });
    const b = createDenoKvBackend(`deno-kv://${db}`, { namespace: "two" });
    const kv = await a.handle();
    expect(await b.handle()).toBe(kv);
    await b.set("k", "b", undefined);
    await a.close();
    expect(await b.get("k")).toBe("b"); // still open for b
    await b.close();
    await expect(kv.get(["two", "k"])).rejects.toThrow(); // closed with the last backend
    const c = createDenoKvBackend(`deno-kv://${db}`, { namespace: "two" });
    expect(await c.get("k")).toBe("b"); // a new connection
    await c.close();
  });

  it("a supplied kv handle is used as is and never closed", async () => {
    const kv = (await openKv(":memory:")) as unknown as DenoKvHandle;
    const cache = new Cache("handle").setup("deno-kv://", { kv, namespace: "mine" });
    await cache.set("k", 42, { expire: "1m" });
    expect((await kv.get(["mine", "k"])).versionstamp).not.toBeNull();
    await cache.close();
    await kv.set(["still", "open"], 1); // would throw on a closed database
    expect((await kv.get(["still", "open"])).value).toBe(1);
    kv.close();
  });
});
