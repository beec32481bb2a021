// The Worker that test/runtimes/workers.test.ts bundles and runs in workerd (through miniflare),
// once with `nodejs_compat` and once with no compatibility flag at all. Each route exercises one
// part of the core inside workerd and answers JSON; the test asserts it.
//
// Everything from here to `export default` runs at module (global) scope, where workerd forbids
// I/O, timers and random values: `setup` (memory and signed), wrapping functions and decorating
// class methods must all be fine there, or the worker fails to start.
import { Cache, SerializationError, createContextStore, withKeyContext } from "../../src/index.js";
import { MISSING, type Backend } from "../../src/backends/types.js";

interface Env {
  /** `upstash+http://127.0.0.1:PORT` of the test's Upstash-compatible REST server (unset: route skipped). */
  UPSTASH_URL?: string;
  UPSTASH_TOKEN?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- module scope: setup, wrapping, decorating ----

const mem = new Cache("mem").setup("mem://?size=1000");
const typed = new Cache("typed").setup("mem://", { serialize: true, checkInterval: 0 });
const signed = new Cache("signed").setup("mem://", { secret: "s3cret" });
const ctx = new Cache("ctx").setup("mem://");
const moduleScope = { mem: mem.isSetup(), typed: typed.isSetup(), signed: signed.isSetup(), ctx: ctx.isSetup() };

let squareCalls = 0;
const square = mem.cache({ ttl: "1m", key: "square:{n}" })(async (n: number) => {
  squareCalls++;
  await sleep(5);
  return n * n;
});

let defaultKeyCalls = 0;
const pageOf = mem.cache({ ttl: "1m" })(async function pageOf(user: string, page: number) {
  defaultKeyCalls++;
  return { user, page };
});

let slowCalls = 0;
const slowDouble = mem.cache({ ttl: "1m", key: "slow:{n}" })(async (n: number) => {
  slowCalls++;
  await sleep(200);
  return n * 2;
});

class Users {
  calls = 0;

  @mem.cache({ ttl: "1m", key: "user:{id}" })
  async get(id: string): Promise<{ id: string; n: number }> {
    this.calls++;
    return { id, n: this.calls };
  }

  @mem.cache({ ttl: "1m" })
  async byEmail(email: string): Promise<string> {
    this.calls++;
    return email.toUpperCase();
  }
}
const users = new Users();

let signedCalls = 0;
const signedSquare = signed.cache({ ttl: "1m", key: "ssq:{n}" })(async (n: number) => {
  signedCalls++;
  return n * n;
});

const plan = ctx.cache({ ttl: "1m", key: "plan:{@:get(tenant)}:{id}" })(async (id: string) => ({ id }));
const region = ctx.cache({ ttl: "1m", key: "region:{@:get(tenant)}:{@:get(region)}" })(async () => 1);

// ---- helpers ----

async function backendOf(cache: Cache, key: string): Promise<Backend> {
  return cache.route(key).start();
}

async function keys(cache: Cache, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for await (const key of cache.scan(pattern)) found.push(key);
  return [...new Set(found)].sort();
}

async function rejection(promise: Promise<unknown>): Promise<string | null> {
  try {
    await promise;
    return null;
  } catch (error) {
    return (error as Error).name;
  }
}

// ---- routes ----

async function info(): Promise<unknown> {
  const g = globalThis as { process?: { getBuiltinModule?: unknown }; AsyncLocalStorage?: unknown; navigator?: { userAgent?: string } };
  return {
    userAgent: g.navigator?.userAgent ?? null,
    process: typeof g.process,
    getBuiltinModule: typeof g.process?.getBuiltinModule,
    globalAsyncLocalStorage: typeof g.AsyncLocalStorage,
    contextStoreAsync: createContextStore().async,
    subtle: typeof crypto?.subtle?.importKey,
    moduleScope,
  };
}

async function memoryCommands(): Promise<unknown> {
  const c = mem;
  await c.clear();
  const out: Record<string, unknown> = {};
  out.set = await c.set("k", { a: 1 });
  out.get = await c.get("k");
  out.missing = await c.get("nope", "dflt");
  await c.setMany({ a: 1, b: "two" }, { expire: "1m" });
  out.getMany = await c.getMany(["a", "missing", "b"], null);
  out.incr = [await c.incr("n"), await c.incr("n", 5), await c.get("n")];
  out.exists = [await c.exists("k"), await c.exists("nope")];
  await c.set("t", 1, { expire: "1h" });
  const left = await c.getExpire("t");
  out.expireInRange = left > 3_500_000 && left <= 3_600_000;
  out.getExpire = [await c.getExpire("k"), await c.getExpire("nope")];
  out.expire = [await c.expire("k", "10s"), await c.getExpire("k") > 9_000, await c.expire("k", null), await c.getExpire("k")];
  out.nx = [await c.set("nx", 1, { exist: false }), await c.set("nx", 2, { exist: false }), await c.get("nx")];
  out.xx = [await c.set("xx", 1, { exist: true }), await c.exists("xx")];
  out.scan = await keys(c, "*");
  out.count = await c.getKeysCount();
  out.ping = [await c.ping(), await c.ping("hi")];
  out.getOrSet = [await c.getOrSet("gos", async () => 7), await c.getOrSet("gos", 8)];
  out.lock = [await c.setLock("L", "me", "10s"), await c.setLock("L", "you", "10s"), await c.unlock("L", "you"), await c.unlock("L", "me")];
  out.withLock = await c.withLock("W", "5s", async () => {
    await sleep(1);
    return [42, await c.isLocked("W")];
  });
  out.lockedAfter = await c.isLocked("W");
  out.deleteMatch = await c.deleteMatch("[ab]");
  out.delete = [await c.delete("k"), await c.delete("k")];
  out.deleteMany = await c.deleteMany(["nx", "n", "nope"]);
  out.left = await keys(c, "*");
  out.serializationError = await rejection(c.set("f", () => 1));
  out.serializationErrorIsClass = (await c.set("f", Symbol("x")).catch((e: unknown) => e)) instanceof SerializationError;
  await c.clear();
  out.cleared = await c.getKeysCount();
  return out;
}

/** Typed values through the codec (`serialize: true` stores encoded strings, as network backends do). */
async function typedValues(): Promise<unknown> {
  const c = typed;
  await c.clear();
  await c.set("v", {
    date: new Date(0),
    map: new Map<unknown, unknown>([[1, "x"], ["y", { z: 2 }]]),
    set: new Set([1, 2]),
    big: 12345678901234567890n,
    undef: undefined,
    nan: Number.NaN,
    inf: Number.NEGATIVE_INFINITY,
    re: /a+b/gi,
    bytes: new Uint8Array([1, 2, 255]),
    error: new RangeError("bad", { cause: "why" }),
  });
  const raw = await (await backendOf(c, "v")).get("v");
  const v = (await c.get("v")) as Record<string, unknown>;
  const error = v.error as Error;
  return {
    rawIsString: typeof raw === "string",
    date: v.date instanceof Date ? (v.date as Date).toISOString() : null,
    map: v.map instanceof Map ? [...(v.map as Map<unknown, unknown>)] : null,
    set: v.set instanceof Set ? [...(v.set as Set<unknown>)] : null,
    big: typeof v.big === "bigint" ? (v.big as bigint).toString() : null,
    undef: "undef" in v && v.undef === undefined,
    nan: Number.isNaN(v.nan),
    inf: v.inf === Number.NEGATIVE_INFINITY,
    re: v.re instanceof RegExp ? String(v.re) : null,
    bytes: v.bytes instanceof Uint8Array ? [...(v.bytes as Uint8Array)] : null,
    error: error instanceof RangeError ? [error.name, error.message, error.cause] : null,
    storedUndefined: [await c.set("u", undefined), await c.get("u", "dflt"), await c.exists("u")],
  };
}

let tickerCalls = 0;
const ticker = mem.cache({ ttl: 150, key: "ticker" })(async () => ++tickerCalls);

/**
 * Expiry across requests: phase `set` writes a short- and a long-lived key and reads them on the
 * hit path (as a cache-hit-only request would); phase `get`, sent later, reads on the hit path
 * first (get, decorated call), then with the exact clock (exists, getExpire).
 */
async function ttl(phase: string | null): Promise<unknown> {
  if (phase === "set") {
    await mem.set("ttl:short", 1, { expire: 150 });
    await mem.set("ttl:long", 2, { expire: "1h" });
    return { short: await mem.get("ttl:short"), long: await mem.get("ttl:long"), ticker: [await ticker(), await ticker()] };
  }
  return {
    short: (await mem.get("ttl:short")) ?? null,
    ticker: await ticker(),
    shortExists: await mem.exists("ttl:short"),
    shortExpire: await mem.getExpire("ttl:short"),
    long: await mem.get("ttl:long"),
  };
}

async function decorator(): Promise<unknown> {
  await mem.clear();
  mem.resetStats();
  squareCalls = 0;
  defaultKeyCalls = 0;
  users.calls = 0;
  const events: string[] = [];
  const off = [mem.on("hit", (e) => events.push(`hit ${e.key}`)), mem.on("miss", (e) => events.push(`miss ${e.key}`))];
  try {
    const values = [await square(3), await square(3), await square(4)];
    const concurrent = await Promise.all([square(5), square(5), square(5)]);
    const pages = [await pageOf("ada", 2), await pageOf("ada", 2)];
    const method = [await users.get("u1"), await users.get("u1"), await users.get("u2"), await users.byEmail("a@b"), await users.byEmail("a@b")];
    return {
      values,
      squareCalls,
      concurrent,
      pages,
      defaultKeyCalls,
      method,
      methodCalls: users.calls,
      keys: await keys(mem, "*"),
      events,
      stats: mem.stats(),
    };
  } finally {
    for (const unsubscribe of off) unsubscribe();
  }
}

/** A slow decorated call, for single-flight across concurrent requests in one isolate. */
async function slow(n: number): Promise<unknown> {
  const before = slowCalls;
  const value = await slowDouble(n);
  return { value, calls: slowCalls - before, totalCalls: slowCalls };
}

async function signing(): Promise<unknown> {
  const c = signed;
  await c.clear();
  signedCalls = 0;
  const tampered: string[] = [];
  const off = c.on("tampered", (e) => tampered.push(e.key ?? "?"));
  try {
    const backend = await backendOf(c, "k");
    const out: Record<string, unknown> = {};
    await c.set("k", { admin: false });
    const stored = (await backend.get("k")) as string;
    out.storedSigned = typeof stored === "string" && stored.startsWith("$s1:") && stored.includes("admin");
    out.get = await c.get("k");
    await backend.set("k", stored.replace("false", "true "), undefined);
    out.tamperedGet = await c.get("k", "default");
    out.tamperedDeleted = (await backend.get("k")) === MISSING;
    // A signed value copied to another key does not verify (the key is bound into the MAC).
    await c.set("a", 1);
    await backend.set("b", await backend.get("a"), undefined);
    out.moved = [await c.get("a"), (await c.get("b")) ?? null];
    // An unsigned value never reaches the caller.
    await backend.set("plain", '{"a":1}', undefined);
    out.unsigned = (await c.get("plain", "default")) ?? null;
    // Counters stay plain integers under a secret.
    out.counter = [await c.incr("cnt", 2), await c.get("cnt")];
    // The decorator: miss, hit, then a tampered entry is a miss and is recomputed.
    const first = [await signedSquare(6), await signedSquare(6), signedCalls];
    const entry = (await backend.get("ssq:6")) as string;
    await backend.set("ssq:6", entry.replace(/36$/, "37"), undefined);
    out.decorator = [...first, await signedSquare(6), signedCalls, await signedSquare(6), signedCalls];
    out.tampered = tampered;
    return out;
  } finally {
    off();
  }
}

async function context(): Promise<unknown> {
  await ctx.clear();
  const results: Record<string, unknown> = {};
  results.sync = await withKeyContext({ tenant: "acme" }, () => plan("sync"));
  await withKeyContext({ tenant: "acme" }, async () => {
    await Promise.resolve();
    return plan("afterAwait");
  });
  await withKeyContext({ tenant: "acme" }, async () => {
    await sleep(5);
    return plan("afterTimer");
  });
  await withKeyContext({ tenant: "acme" }, () => withKeyContext({ region: "eu" }, () => region()));
  await Promise.all([
    withKeyContext({ tenant: "t1" }, async () => {
      await sleep(10);
      return plan("c1");
    }),
    withKeyContext({ tenant: "t2" }, async () => {
      await sleep(1);
      return plan("c2");
    }),
  ]);
  await plan("outside");
  // A throwing callback leaves no context behind.
  const threw = await rejection(
    Promise.resolve().then(() =>
      withKeyContext({ tenant: "boom" }, () => {
        throw new TypeError("boom");
      }),
    ),
  );
  await plan("afterThrow");
  return { ...results, threw, async: createContextStore().async, keys: await keys(ctx, "*") };
}

async function upstash(env: Env): Promise<unknown> {
  if (!env.UPSTASH_URL) return { skipped: true };
  const c = new Cache("upstash").setup(env.UPSTASH_URL, { token: env.UPSTASH_TOKEN, secret: "up-secret", namespace: "workerd" });
  try {
    await c.clear();
    const out: Record<string, unknown> = {};
    out.ping = await c.ping();
    out.set = await c.set("k", { a: 1, d: new Date(0) }, { expire: "1m" });
    const got = (await c.get("k")) as { a: number; d: Date };
    out.get = [got.a, got.d instanceof Date && got.d.toISOString()];
    out.getMany = await c.getMany(["k", "missing"], null).then((v) => v.map((x) => (x === null ? null : "value")));
    out.incr = [await c.incr("n"), await c.incr("n", 4)];
    const left = await c.getExpire("k");
    out.expireInRange = left > 50_000 && left <= 60_000;
    out.lock = [await c.setLock("L", "me", "10s"), await c.setLock("L", "you", "10s"), await c.unlock("L", "you"), await c.unlock("L", "me")];
    let calls = 0;
    const triple = c.cache({ ttl: "1m", key: "triple:{n}" })(async (n: number) => {
      calls++;
      return n * 3;
    });
    out.decorator = [await triple(2), await triple(2), calls];
    const tampered: string[] = [];
    c.on("tampered", (e) => tampered.push(e.key ?? "?"));
    const backend = await backendOf(c, "k");
    const stored = (await backend.get("k")) as string;
    await backend.set("k", stored.replace('"a":1', '"a":2'), undefined);
    out.tampered = [(await c.get("k", "default")) ?? null, tampered];
    out.keys = await keys(c, "*");
    out.deleteMatch = await c.deleteMatch("*");
    out.count = await c.getKeysCount();
    out.errors = c.stats().errors;
    return out;
  } finally {
    await c.close();
  }
}

async function handle(request: Request, env: Env): Promise<unknown> {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/info":
      return info();
    case "/memory":
      return memoryCommands();
    case "/typed":
      return typedValues();
    case "/ttl":
      return ttl(url.searchParams.get("phase"));
    case "/decorator":
      return decorator();
    case "/slow":
      return slow(Number(url.searchParams.get("n") ?? "1"));
    case "/signing":
      return signing();
    case "/context":
      return context();
    case "/upstash":
      return upstash(env);
    default:
      return { notFound: url.pathname };
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    try {
      return Response.json(await handle(request, env));
    } catch (error) {
      const e = error as Error;
      return Response.json({ error: `${e?.name}: ${e?.message}`, stack: e?.stack }, { status: 500 });
    }
  },
};
