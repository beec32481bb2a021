// Issue 17 item 8, what is not per backend: disable/enable per prefix, the middleware chain across
// routes and scopes, the SET_ADD script, and Redis clientSide never serving a set from its local
// copy. The commands themselves (setRaw, getRaw, getSize, sets, use) run on every backend in the
// conformance suite (src/testing/extras.ts, run by test/conformance/).
import { createHash } from "node:crypto";
import { afterEach, describe, expect, inject, it } from "vitest";
import { SET_ADD } from "../../src/backends/scripts.js";
import { Cache, CacheConfigError, Command } from "../../src/index.js";
import { utf8Length } from "../../src/core/extra-commands.js";
import type { MemoryBackend } from "../../src/backends/memory.js";

const redisUrl = inject("redisUrl");
const opened: Cache[] = [];
const open = (name: string): Cache => {
  const cache = new Cache(name);
  opened.push(cache);
  return cache;
};
afterEach(async () => {
  for (const cache of opened.splice(0)) {
    await cache.clear().catch(() => undefined);
    await cache.close();
  }
});

describe("SET_ADD script", () => {
  it("carries the SHA-1 of its source and touches only KEYS[1]", () => {
    expect(SET_ADD.sha1).toBe(createHash("sha1").update(SET_ADD.lua).digest("hex"));
    expect(SET_ADD.lua.match(/KEYS\[(\d+)\]/g)?.every((k) => k === "KEYS[1]")).toBe(true);
  });
});

describe("utf8Length", () => {
  it("counts what TextEncoder writes, surrogate pairs and lone surrogates included", () => {
    for (const text of ["", "abc", "é", "☃", "😀", "a😀b", "\ud800", "x\udc00y", "\u07ff\u0800"]) {
      expect(utf8Length(text), JSON.stringify(text)).toBe(new TextEncoder().encode(text).length);
    }
  });
});

describe("disable / enable per prefix", () => {
  const twoRoutes = (): Cache => open("prefix-disable").setup("mem://").setup(`${redisUrl}`, { prefix: "user:", namespace: "i17d-prefix" });

  it("disables commands on one backend only; the other keeps working; enable restores", async () => {
    const cache = twoRoutes();
    await cache.set("user:1", "ada");
    await cache.set("other", "x");
    cache.disable({ prefix: "user:" }, Command.GET);
    try {
      expect(await cache.get("user:1")).toBeUndefined();
      expect(await cache.get("other")).toBe("x");
      expect(await cache.exists("user:1")).toBe(true); // only GET
      expect(cache.isDisabled({ prefix: "user:" }, Command.GET)).toBe(true);
      expect(cache.isDisabled({ prefix: "" }, Command.GET)).toBe(false);
      expect(cache.isDisabled(Command.GET)).toBe(false);
    } finally {
      cache.enable({ prefix: "user:" }, Command.GET);
    }
    expect(await cache.get("user:1")).toBe("ada");
  });

  it("a prefix disabled entirely makes its decorated functions recompute and store nothing there", async () => {
    const cache = twoRoutes();
    let calls = 0;
    const getUser = cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => `${id}:${++calls}`);
    const getOther = cache({ ttl: "1m", key: "other:{id}" })(async (id: string) => `${id}:${++calls}`);
    cache.disable({ prefix: "user:" });
    try {
      expect(await getUser("1")).toBe("1:1");
      expect(await getUser("1")).toBe("1:2");
      expect(await getOther("1")).toBe("1:3");
      expect(await getOther("1")).toBe("1:3");
      expect(await cache.exists("user:1")).toBe(false); // EXISTS disabled too: neutral
    } finally {
      cache.enable({ prefix: "user:" });
    }
    expect(await cache.exists("user:1")).toBe(false); // nothing was stored while disabled
  });

  it("disabling({ prefix }) is scoped to its callback; the new commands are disabled like the others", async () => {
    const cache = twoRoutes();
    await cache.setRaw("user:raw", '"r"');
    const inside = await cache.disabling(
      async () => [await cache.getRaw("user:raw"), await cache.setAdd("user:set", ["a"]), await cache.getSize("user:raw")],
      { prefix: "user:" },
      Command.GET_RAW,
      Command.SET_ADD,
      Command.GET_SIZE,
    );
    expect(inside).toEqual([undefined, 0, -2]);
    expect(await cache.getRaw("user:raw")).toBe('"r"');
    expect(await cache.setMembers("user:set")).toEqual([]);
  });

  it("rejects an unknown prefix once set up, and a bad target, with CacheConfigError; works before setup", () => {
    const early = open("prefix-early");
    early.disable({ prefix: "later:" }, Command.SET);
    early.setup("mem://").setup("mem://", { prefix: "later:" });
    expect(early.isDisabled({ prefix: "later:" }, Command.SET)).toBe(true);
    expect(() => early.disable({ prefix: "nope:" })).toThrow(CacheConfigError);
    expect(() => early.disable({ prefix: 1 as unknown as string })).toThrow(CacheConfigError);
    expect(() => early.disable({ prefix: "" }, "bogus" as Command)).toThrow(TypeError);
    early.enable({ prefix: "later:" });
  });
});

describe("middleware across routes", () => {
  it("sees every route's commands with the backend's label, scans included; removal restores the fast path", async () => {
    const cache = open("mw-routes").setup("mem://").setup(redisUrl, { prefix: "user:", namespace: "i17d-mw" });
    const seen: string[] = [];
    const off = cache.use(async (command, args, next, backend) => {
      seen.push(`${backend} ${command} ${String(args[0])}`);
      return next();
    });
    await cache.set("user:1", 1);
    await cache.set("x", 2);
    const keys: string[] = [];
    for await (const key of cache.scan("user:*")) keys.push(key);
    expect(keys).toEqual(["user:1"]);
    expect(seen).toEqual(["redis@user: set user:1", "mem set x", "redis@user: scan user:*"]);
    // The view through the middleware still reads the backend's own getters (private fields).
    expect((cache.route("x").backend as MemoryBackend).storedCount).toBe(1);
    off();
    seen.length = 0;
    expect(await cache.get("x")).toBe(2);
    expect(seen).toEqual([]);
    expect(cache.route("x").peekable).toBe(true);
  });

  it("applies to a backend set up after it was registered, and does not run for a disabled command", async () => {
    const cache = open("mw-later");
    const seen: string[] = [];
    cache.use(async (command, _args, next) => {
      seen.push(command);
      return next();
    });
    cache.setup("mem://");
    await cache.set("k", 1);
    await cache.disabling(() => cache.get("k"), Command.GET);
    expect(seen).toEqual([Command.SET]);
  });

  it("next() is a promise for every command, scan included (a middleware may chain .then on it)", async () => {
    const cache = open("mw-then").setup("mem://", { safe: false });
    const settled: string[] = [];
    cache.use((command, _args, next) => next().then((result) => (settled.push(command), result)));
    await cache.set("a:1", 1);
    const keys: string[] = [];
    for await (const key of cache.scan("a:*")) keys.push(key);
    expect(keys).toEqual(["a:1"]);
    const matched: unknown[] = [];
    for await (const entry of cache.getMatch("a:*")) matched.push(entry);
    expect(matched).toEqual([["a:1", 1]]);
    expect(settled).toContain(Command.SCAN);
  });

  it("safe: false surfaces a middleware's error as the command's error", async () => {
    const cache = open("mw-unsafe").setup("mem://", { safe: false });
    cache.use(async () => {
      throw new Error("no");
    });
    await expect(cache.get("k")).rejects.toThrow(/no/);
  });
});

describe("Redis clientSide: sets never come from the local copy", () => {
  it("a key read as a value, then turned into a set, is never served from the copy", async () => {
    const cache = open("cs-sets").setup(redisUrl, { clientSide: true, namespace: "i17d-cs" });
    await cache.set("k", "value");
    expect(await cache.get("k")).toBe("value"); // now in the local copy
    expect(await cache.get("k")).toBe("value");
    await cache.delete("k");
    expect(await cache.setAdd("k", ["a", "b"])).toBe(2);
    expect(await cache.get("k", "dflt")).toBe("dflt"); // a set is no value
    expect((await cache.setMembers("k")).sort()).toEqual(["a", "b"]);
    expect(await cache.getRaw("k")).toBeUndefined();
  });
});

describe("read-through mends", () => {
  it("deleteTags is a DELETE_MANY to disable and to middleware", async () => {
    const cache = new Cache("mends-tags").setup("mem://");
    await cache.set("k", 1, { tags: ["t"] });
    const seen: string[] = [];
    const remove = cache.use(async (command, args, next) => (seen.push(command), next(args)));
    await cache.disabling(async () => {
      await cache.deleteTags("t");
    }, Command.DELETE_MANY);
    expect(await cache.get("k")).toBe(1);
    await cache.deleteTags("t");
    expect(await cache.get("k")).toBeUndefined();
    expect(seen).toContain("delete_many");
    remove();
    await cache.close();
  });

  it("getRaw, getSize and setRaw on live mem:// know the cache's registered types", async () => {
    class Point {
      constructor(readonly x: number) {}
    }
    const cache = new Cache("mends-raw").setup("mem://");
    cache.registerType(Point, { name: "Point", encode: (p) => p.x, decode: (x) => new Point(x as number) });
    await cache.set("p", new Point(3));
    const text = await cache.getRaw("p");
    expect(typeof text).toBe("string");
    expect(await cache.getSize("p")).toBe(utf8Length(text!));
    expect(await cache.setRaw("q", text!)).toBe(true);
    expect(await cache.get("q")).toEqual(new Point(3));
    await cache.close();
  });
});
