// The local Upstash-compatible REST server (test/support/upstash-server.ts), driven by the real
// @upstash/redis client and, for wire-level assertions, by fetch. Uses the shared redis-server with
// a unique key prefix; the "Redis goes away" tests spawn their own.
import { randomUUID } from "node:crypto";
import { Redis as Upstash, type RedisConfigNodejs } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { startRedis, type RedisServer } from "../../support/redis-server.js";
import { startUpstashServer, type UpstashServer } from "../../support/upstash-server.js";

const redisUrl = inject("redisUrl");
const P = `t-upstash-${randomUUID().slice(0, 8)}:`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const unb64 = (text: string) => Buffer.from(text, "base64").toString("utf8");

interface RawResponse {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

/** A raw POST to the server (bearer token, optional base64 encoding). */
async function post(
  server: UpstashServer,
  path: string,
  body: unknown,
  options: { base64?: boolean; token?: string; method?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const res = await fetch(`${server.url}${path}`, {
    method: options.method ?? "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${options.token ?? server.token}`,
      ...(options.base64 ? { "upstash-encoding": "base64" } : {}),
      ...options.headers,
    },
    ...(options.method === "GET" ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

function client(server: UpstashServer, extra: Partial<RedisConfigNodejs> = {}): Upstash {
  return new Upstash({
    url: server.url,
    token: server.token,
    automaticDeserialization: false,
    enableTelemetry: false,
    retry: false,
    ...extra,
  });
}

describe.skipIf(!redisUrl)("upstash-server against the shared redis-server", () => {
  let server: UpstashServer;
  let redis: Upstash;
  let raw: IORedis; // a direct connection to look at (and plant) bytes

  beforeAll(async () => {
    server = await startUpstashServer({ redisUrl, token: `tok-${randomUUID()}` });
    redis = client(server);
    raw = new IORedis(redisUrl, { protocol: 2 });
  });

  afterAll(async () => {
    await server?.stop();
    if (raw) {
      const keys = await raw.keys(`${P}*`);
      if (keys.length) await raw.del(...keys);
      raw.disconnect();
    }
  });

  beforeEach(() => server.setDelay(0));

  describe("through @upstash/redis (automaticDeserialization: false)", () => {
    it("get / set / mget / incr / del", async () => {
      expect(await redis.set(`${P}a`, "1")).toBe("OK");
      expect(await redis.get(`${P}a`)).toBe("1");
      expect(await redis.get(`${P}missing`)).toBeNull();
      expect(await redis.incr(`${P}a`)).toBe(2);
      expect(await redis.set(`${P}b`, "bee")).toBe("OK");
      expect(await redis.mget(`${P}a`, `${P}missing`, `${P}b`)).toEqual(["2", null, "bee"]);
      expect(await redis.del(`${P}a`, `${P}b`, `${P}missing`)).toBe(2);
      expect(await redis.get(`${P}a`)).toBeNull();
    });

    it("set options, expire and pttl", async () => {
      expect(await redis.set(`${P}ttl`, "v", { px: 60_000 })).toBe("OK");
      const pttl = await redis.pttl(`${P}ttl`);
      expect(pttl).toBeGreaterThan(50_000);
      expect(pttl).toBeLessThanOrEqual(60_000);
      expect(await redis.expire(`${P}ttl`, 5)).toBe(1);
      expect(await redis.pttl(`${P}ttl`)).toBeLessThanOrEqual(5000);
      expect(await redis.pttl(`${P}nothing`)).toBe(-2);
      expect(await redis.set(`${P}nx`, "first", { nx: true })).toBe("OK");
      expect(await redis.set(`${P}nx`, "second", { nx: true })).toBeNull();
      expect(await redis.get(`${P}nx`)).toBe("first");
    });

    it("scan with a match pattern walks every key", async () => {
      const want = Array.from({ length: 25 }, (_, i) => `${P}scan:${i}`);
      await raw.mset(...want.flatMap((k) => [k, "x"]));
      const seen = new Set<string>();
      let cursor: string | number = "0";
      let rounds = 0;
      do {
        // The shared redis-server holds other files' keys too (tens of thousands while the tamper
        // and property tests run): the walk may take many pages, so the cap is only a hang guard.
        const [next, keys]: [string | number, string[]] = await redis.scan(cursor, { match: `${P}scan:*`, count: 200 });
        for (const key of keys) seen.add(key);
        cursor = next;
        rounds++;
      } while (String(cursor) !== "0" && rounds < 10_000);
      expect([...seen].sort()).toEqual([...want].sort());
    });

    it("unicode keys and values round-trip", async () => {
      const value = "héllo wörld ✓ 日本語 🎉 \u0000 nul and\nnewline \"quotes\" \\ backslash";
      const key = `${P}ключ-🔑`;
      await redis.set(key, value);
      expect(await redis.get(key)).toBe(value);
      expect((await raw.getBuffer(key))!.equals(Buffer.from(value, "utf8"))).toBe(true);
      expect(await raw.exists(key)).toBe(1);
    });

    it("every code point 0..255 round-trips as text (the binary the client allows)", async () => {
      const latin1 = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
      await redis.set(`${P}latin1`, latin1);
      expect(await redis.get(`${P}latin1`)).toBe(latin1);
      // Stored as the UTF-8 of the string, as Upstash would.
      expect((await raw.getBuffer(`${P}latin1`))!.equals(Buffer.from(latin1, "utf8"))).toBe(true);
      // Bytes → latin1 text → back to the same bytes.
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const back = Buffer.from((await redis.get<string>(`${P}latin1`))!, "latin1");
      expect(back.equals(Buffer.from(bytes))).toBe(true);
    });

    it("raw bytes stored by another client decode exactly as the client's TextDecoder would", async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await raw.set(`${P}bytes`, bytes);
      expect(await redis.get(`${P}bytes`)).toBe(new TextDecoder().decode(bytes));
    });

    it("concurrent commands are auto-pipelined into one /pipeline request", async () => {
      await Promise.all([1, 2, 3, 4, 5].map((i) => redis.set(`${P}ap:${i}`, String(i))));
      server.resetCount();
      const values = await Promise.all([1, 2, 3, 4, 5].map((i) => redis.get(`${P}ap:${i}`)));
      expect(values).toEqual(["1", "2", "3", "4", "5"]);
      expect(server.requests).toBe(1);
      expect(server.commands).toBe(5);

      server.resetCount();
      await Promise.all([1, 2, 3].map((i) => redis.incr(`${P}ap:${i}`)));
      expect(server.requests).toBe(1);
      expect(server.commands).toBe(3);

      // Without auto-pipelining every call is its own request to `/`.
      const single = client(server, { enableAutoPipelining: false });
      server.resetCount();
      expect(await Promise.all([1, 2, 3].map((i) => single.get(`${P}ap:${i}`)))).toEqual(["2", "3", "4"]);
      expect(server.requests).toBe(3);
      expect(server.commands).toBe(3);
    });

    it("a failing auto-pipelined command rejects alone", async () => {
      await redis.set(`${P}ap-str`, "not a number");
      server.resetCount();
      const [ok, bad] = await Promise.allSettled([redis.incr(`${P}ap-n`), redis.incr(`${P}ap-str`)]);
      expect(server.requests).toBe(1);
      expect(ok).toEqual({ status: "fulfilled", value: 1 });
      expect(bad.status).toBe("rejected");
      expect(String((bad as PromiseRejectedResult).reason)).toMatch(/ERR value is not an integer/);
    });

    it("explicit pipeline(): in order, per-item errors", async () => {
      await redis.set(`${P}pl-str`, "text");
      server.resetCount();
      const results = await redis
        .pipeline()
        .set(`${P}pl`, "1")
        .incr(`${P}pl-str`)
        .incr(`${P}pl`)
        .get(`${P}pl`)
        .exec({ keepErrors: true });
      expect(server.requests).toBe(1);
      expect(server.commands).toBe(4);
      expect(results.map((r) => r.result)).toEqual(["OK", undefined, 2, "2"]);
      expect(results[1]!.error).toMatch(/^ERR value is not an integer/);

      await expect(redis.pipeline().get(`${P}pl`).incr(`${P}pl-str`).exec()).rejects.toThrow(
        /Command 2 \[ incr \] failed: ERR value is not an integer/,
      );
    });

    it("multi(): atomic block, runtime errors per item", async () => {
      await redis.set(`${P}tx-str`, "text");
      server.resetCount();
      const results = await redis
        .multi()
        .set(`${P}tx`, "10")
        .incr(`${P}tx-str`)
        .incrby(`${P}tx`, 5)
        .get(`${P}tx`)
        .exec({ keepErrors: true });
      expect(server.requests).toBe(1);
      expect(server.commands).toBe(4);
      expect(results.map((r) => r.result)).toEqual(["OK", undefined, 15, "15"]);
      expect(results[1]!.error).toMatch(/^ERR value is not an integer/);
    });

    it("multi(): a queue-time error aborts the whole transaction (EXECABORT)", async () => {
      await redis.set(`${P}abort`, "before");
      const tx = redis.multi().set(`${P}abort`, "after").hset(`${P}abort-h`, {}); // HSET without fields: arity error
      await expect(tx.exec()).rejects.toThrow(/EXECABORT/);
      expect(await redis.get(`${P}abort`)).toBe("before");
    });

    it("concurrent multi() calls do not interfere (SRH bug #25)", async () => {
      const runs = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          redis.multi().set(`${P}cm:${i}`, String(i)).incr(`${P}cm:${i}`).get(`${P}cm:${i}`).exec(),
        ),
      );
      runs.forEach((r, i) => expect(r).toEqual(["OK", i + 1, String(i + 1)]));
    });

    it("eval, scriptLoad and evalsha", async () => {
      expect(await redis.eval("return {KEYS[1], ARGV[1], 7}", [`${P}k`], ["arg"])).toEqual([`${P}k`, "arg", 7]);
      const lua = `-- ${randomUUID()}\nreturn redis.call('incrby', KEYS[1], ARGV[1])`;
      const sha = await redis.scriptLoad(lua);
      expect(sha).toMatch(/^[0-9a-f]{40}$/);
      expect(await redis.evalsha(sha, [`${P}ev`], [3])).toBe(3);
      expect(await redis.evalsha(sha, [`${P}ev`], [4])).toBe(7);
    });

    it("evalsha of an unknown script fails with NOSCRIPT; createScript falls back to EVAL", async () => {
      await expect(redis.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);

      const script = redis.createScript<number>(`-- ${randomUUID()}\nreturn redis.call('incr', KEYS[1])`);
      server.resetCount();
      expect(await script.exec([`${P}script`], [])).toBe(1); // EVALSHA → NOSCRIPT → EVAL
      expect(server.requests).toBe(2);
      server.resetCount();
      expect(await script.exec([`${P}script`], [])).toBe(2); // now cached by the EVAL
      expect(server.requests).toBe(1);
    });

    it("rejects a wrong token with 401 (the client throws)", async () => {
      const intruder = client(server, { token: "wrong" });
      server.resetCount();
      await expect(intruder.get(`${P}a`)).rejects.toThrow(/Unauthorized/);
      expect(server.requests).toBe(1);
      expect(server.commands).toBe(0);
    });
  });

  describe("through @upstash/redis with the defaults (automaticDeserialization on)", () => {
    it("values are JSON-parsed by the client, as against Upstash", async () => {
      const redisDefault = new Upstash({ url: server.url, token: server.token, enableTelemetry: false });
      await redisDefault.set(`${P}json`, { a: 1, b: [true, null] });
      expect(await redisDefault.get(`${P}json`)).toEqual({ a: 1, b: [true, null] });
      await redisDefault.set(`${P}num`, "123");
      expect(await redisDefault.get(`${P}num`)).toBe(123);
      await redisDefault.set(`${P}bool`, true);
      expect(await raw.get(`${P}bool`)).toBe("true");
      expect(await redisDefault.get(`${P}bool`)).toBe(true);
      expect(await redisDefault.get(`${P}none`)).toBeNull();
      await redisDefault.hset(`${P}hash`, { f: "v", n: 2 });
      expect(await redisDefault.hgetall(`${P}hash`)).toEqual({ f: "v", n: 2 });
      expect(await redisDefault.mget(`${P}num`, `${P}none`)).toEqual([123, null]);
    });

    it("the base64 response encoding (default) decodes OK and QUEUED-free multi results", async () => {
      const redisDefault = new Upstash({ url: server.url, token: server.token, enableTelemetry: false });
      expect(await redisDefault.ping()).toBe("PONG");
      expect(await redisDefault.multi().set(`${P}m`, "x").ping().get(`${P}m`).exec()).toEqual(["OK", "PONG", "x"]);
      expect(await redisDefault.type(`${P}m`)).toBe("string");
    });
  });

  describe("raw protocol", () => {
    it("single command: 200 {result}, numbers and booleans stringified", async () => {
      expect(await post(server, "/", ["set", `${P}r1`, 60])).toMatchObject({ status: 200, body: { result: "OK" } });
      expect((await post(server, "/", ["get", `${P}r1`])).body).toEqual({ result: "60" });
      expect((await post(server, "/", ["set", `${P}r2`, true])).body).toEqual({ result: "OK" });
      expect((await post(server, "/", ["get", `${P}r2`])).body).toEqual({ result: "true" });
      expect((await post(server, "/", ["GET", `${P}none`])).body).toEqual({ result: null });
      expect((await post(server, "/", ["incrbyfloat", `${P}f`, 1.5])).body).toEqual({ result: "1.5" });
    });

    it("a failing single command is 400 {error: <redis message>}", async () => {
      await raw.set(`${P}str`, "abc");
      expect(await post(server, "/", ["incr", `${P}str`])).toMatchObject({
        status: 400,
        body: { error: "ERR value is not an integer or out of range" },
      });
      const arity = await post(server, "/", ["get"]);
      expect(arity.status).toBe(400);
      expect(arity.body.error).toMatch(/^ERR wrong number of arguments for 'get' command/);
      expect((await post(server, "/", ["nosuchcommand", "x"])).body.error).toMatch(/^ERR unknown command/);
      expect(await post(server, "/", ["evalsha", "f".repeat(40), 0])).toMatchObject({
        status: 400,
        body: { error: "NOSCRIPT No matching script. Please use EVAL." },
      });
    });

    it("malformed requests are 400 and leave the server working", async () => {
      for (const body of [
        ["set", `${P}bad`, { a: 1 }],
        ["set", `${P}bad`, null],
        ["set", `${P}bad`, ["nested"]],
        [],
        { cmd: "get" },
        "[not json",
        "",
      ]) {
        const res = await post(server, "/", body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(typeof res.body.error).toBe("string");
      }
      for (const body of [[], [["get", `${P}x`], "get"], [["set", `${P}bad`, null]], { a: 1 }]) {
        expect((await post(server, "/pipeline", body)).status, JSON.stringify(body)).toBe(400);
        expect((await post(server, "/multi-exec", body)).status, JSON.stringify(body)).toBe(400);
      }
      expect(await raw.exists(`${P}bad`)).toBe(0);
      expect((await post(server, "/", ["ping"])).body).toEqual({ result: "PONG" });
    });

    it("auth: 401 {error: Unauthorized} on a wrong or missing token, on every route", async () => {
      for (const path of ["/", "/pipeline", "/multi-exec"]) {
        const body = path === "/" ? ["ping"] : [["ping"]];
        expect(await post(server, path, body, { token: "nope" })).toMatchObject({
          status: 401,
          body: { error: "Unauthorized" },
        });
        const res = await fetch(`${server.url}${path}`, { method: "POST", body: JSON.stringify(body) });
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual({ error: "Unauthorized" });
      }
    });

    it("unknown routes are 404, other methods 405", async () => {
      const res = await post(server, "/nope", ["ping"]);
      expect(res.status).toBe(404);
      expect(typeof res.body.error).toBe("string");
      expect((await post(server, "/set/foo/bar", [])).status).toBe(404);
      expect((await post(server, "/", undefined, { method: "GET" })).status).toBe(405);
      expect((await post(server, "/pipeline", undefined, { method: "GET" })).status).toBe(405);
    });

    it("base64: every string at every depth, integers as numbers, nil as null, errors raw", async () => {
      await raw.mset(`${P}b:1`, "one", `${P}b:2`, "twö");
      const opts = { base64: true };
      expect((await post(server, "/", ["set", `${P}b:3`, "three"], opts)).body).toEqual({ result: b64("OK") });
      expect((await post(server, "/", ["ping"], opts)).body).toEqual({ result: b64("PONG") });
      expect((await post(server, "/", ["type", `${P}b:1`], opts)).body).toEqual({ result: b64("string") });
      expect((await post(server, "/", ["incr", `${P}b:n`], opts)).body).toEqual({ result: 1 });
      expect((await post(server, "/", ["get", `${P}b:none`], opts)).body).toEqual({ result: null });
      expect((await post(server, "/", ["mget", `${P}b:1`, `${P}b:none`, `${P}b:2`], opts)).body).toEqual({
        result: [b64("one"), null, b64("twö")],
      });
      // SCAN: [cursor, [keys]]: the cursor and the nested keys are encoded too.
      const scan = await post(server, "/", ["scan", 0, "match", `${P}b:*`, "count", 1000], opts);
      expect(scan.status).toBe(200);
      const [cursor, keys] = scan.body.result as [string, string[]];
      expect(typeof cursor).toBe("string");
      expect(unb64(cursor)).toMatch(/^\d+$/);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(b64(unb64(key))).toBe(key);
      // Nested Lua tables: strings encoded at depth, integers stay numbers.
      expect((await post(server, "/", ["eval", "return {'a', {'b', 2, {'OK'}}, 3}", 0], opts)).body).toEqual({
        result: [b64("a"), [b64("b"), 2, [b64("OK")]], 3],
      });
      // Errors are never encoded.
      expect((await post(server, "/", ["incr", `${P}b:1`], opts)).body).toEqual({
        error: "ERR value is not an integer or out of range",
      });
      const pipeline = await post(
        server,
        "/pipeline",
        [["set", `${P}b:4`, "x"], ["incr", `${P}b:n`], ["incr", `${P}b:1`], ["mget", `${P}b:4`, `${P}b:none`], ["ping"]],
        opts,
      );
      expect(pipeline).toMatchObject({
        status: 200,
        body: [
          { result: b64("OK") },
          { result: 2 },
          { error: "ERR value is not an integer or out of range" },
          { result: [b64("x"), null] },
          { result: b64("PONG") },
        ],
      });
      const multi = await post(server, "/multi-exec", [["set", `${P}b:5`, "y"], ["incr", `${P}b:1`], ["get", `${P}b:5`]], opts);
      expect(multi).toMatchObject({
        status: 200,
        body: [{ result: b64("OK") }, { error: "ERR value is not an integer or out of range" }, { result: b64("y") }],
      });
    });

    it("without the header strings are plain UTF-8", async () => {
      await raw.mset(`${P}u:1`, "one", `${P}u:2`, "twö");
      expect((await post(server, "/", ["mget", `${P}u:1`, `${P}u:none`, `${P}u:2`])).body).toEqual({
        result: ["one", null, "twö"],
      });
      expect((await post(server, "/pipeline", [["set", `${P}u:3`, "z"], ["ping"]])).body).toEqual([
        { result: "OK" },
        { result: "PONG" },
      ]);
    });

    it("is binary-safe: arbitrary bytes come back exactly under base64", async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await raw.set(`${P}bin`, bytes);
      await raw.hset(`${P}binh`, bytes, bytes);
      const get = await post(server, "/", ["get", `${P}bin`], { base64: true });
      expect(Buffer.from(get.body.result as string, "base64").equals(bytes)).toBe(true);
      const hgetall = await post(server, "/pipeline", [["hgetall", `${P}binh`]], { base64: true });
      const [field, value] = (hgetall.body[0].result as string[]).map((s) => Buffer.from(s, "base64"));
      expect(field!.equals(bytes)).toBe(true);
      expect(value!.equals(bytes)).toBe(true);
      // Without the header the invalid UTF-8 is replaced with U+FFFD, as Upstash documents.
      const plain = await post(server, "/", ["get", `${P}bin`]);
      expect(plain.body.result).toBe(bytes.toString("utf8"));
      expect(plain.body.result).toContain("\uFFFD");
    });

    it("hgetall is a flat array (no ioredis reply transformer)", async () => {
      await raw.hset(`${P}h`, "f1", "v1", "f2", "v2");
      for (const name of ["hgetall", "HGETALL", "HgetAll"]) {
        expect((await post(server, "/", [name, `${P}h`])).body).toEqual({ result: ["f1", "v1", "f2", "v2"] });
      }
    });

    it("integers above 2^53 keep every digit", async () => {
      await raw.set(`${P}big`, "9007199254740993");
      const res = await post(server, "/", ["incr", `${P}big`], { base64: true });
      expect(res.text).toBe('{"result":9007199254740994}');
    });

    it("multi-exec: EXECABORT is 400 and nothing is applied", async () => {
      await raw.set(`${P}ea`, "before");
      const res = await post(server, "/multi-exec", [["set", `${P}ea`, "after"], ["set", `${P}ea`]], { base64: true });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/^EXECABORT Transaction discarded/);
      expect(await raw.get(`${P}ea`)).toBe("before");
      // The dedicated connection is clean afterwards.
      expect((await post(server, "/multi-exec", [["set", `${P}ea`, "after"], ["get", `${P}ea`]])).body).toEqual([
        { result: "OK" },
        { result: "after" },
      ]);
    });

    it("pipeline: NOSCRIPT and other errors are per item with 200", async () => {
      const res = await post(server, "/pipeline", [["evalsha", "e".repeat(40), 0], ["eval", "return 5", 0]]);
      expect(res).toMatchObject({
        status: 200,
        body: [{ error: "NOSCRIPT No matching script. Please use EVAL." }, { result: 5 }],
      });
    });

    it("refuses commands that would change the shared connection, and keeps working", async () => {
      for (const command of [["subscribe", "ch"], ["monitor"], ["select", 1], ["hello", 3], ["quit"], ["multi"], ["client", "reply", "off"]]) {
        const res = await post(server, "/", command);
        expect(res.status, JSON.stringify(command)).toBe(400);
        expect(res.body.error).toMatch(/^ERR Command is not available/);
      }
      const pipeline = await post(server, "/pipeline", [["set", `${P}ref`, "1"], ["select", 2], ["get", `${P}ref`]]);
      expect(pipeline.body).toEqual([{ result: "OK" }, { error: "ERR Command is not available: 'select'" }, { result: "1" }]);
      expect((await post(server, "/multi-exec", [["get", `${P}ref`], ["exec"]])).status).toBe(400);
      expect((await post(server, "/", ["get", `${P}ref`])).body).toEqual({ result: "1" });
    });

    it("a blocking command does not stall other requests", async () => {
      const started = Date.now();
      const blocking = post(server, "/", ["blpop", `${P}list`, 1]);
      await sleep(50);
      expect((await post(server, "/", ["ping"])).body).toEqual({ result: "PONG" });
      expect(Date.now() - started).toBeLessThan(800);
      expect((await blocking).body).toEqual({ result: null });
    });

    it("answers with an upstash-sync-token header", async () => {
      const res = await post(server, "/", ["ping"], { headers: { "upstash-sync-token": "abc" } });
      expect(res.headers.get("upstash-sync-token")).toMatch(/\S/);
    });

    it("counts requests (auth failures and 404s included) and commands", async () => {
      server.resetCount();
      expect(server.requests).toBe(0);
      expect(server.commands).toBe(0);
      await post(server, "/", ["ping"]);
      await post(server, "/pipeline", [["ping"], ["ping"], ["ping"]]);
      await post(server, "/multi-exec", [["ping"], ["ping"]]);
      await post(server, "/", ["ping"], { token: "wrong" });
      await post(server, "/missing", ["ping"]);
      expect(server.requests).toBe(5);
      expect(server.commands).toBe(6);
    });
  });

  describe("setDelay", () => {
    it("makes every response wait", async () => {
      server.setDelay(200);
      let started = Date.now();
      expect((await post(server, "/", ["ping"])).body).toEqual({ result: "PONG" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      started = Date.now();
      expect((await post(server, "/nope", [])).status).toBe(404);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);

      // A client with a short timeout gives up.
      const impatient = client(server, { signal: () => AbortSignal.timeout(50) });
      await expect(impatient.get(`${P}a`)).rejects.toThrow();

      server.setDelay(0);
      started = Date.now();
      await post(server, "/", ["ping"]);
      expect(Date.now() - started).toBeLessThan(150);
    });
  });

  describe("stop and restart", () => {
    it("refuses connections after stop() and serves again after restart()", async () => {
      const own = await startUpstashServer({ redisUrl });
      const c = client(own);
      await c.set(`${P}sr`, "kept");
      const url = own.url;
      await own.stop();
      await own.stop(); // idempotent

      const started = Date.now();
      const error = await fetch(url, { method: "POST", body: "[]" }).then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: NodeJS.ErrnoException },
      );
      expect(error?.cause?.code).toBe("ECONNREFUSED");
      await expect(c.get(`${P}sr`)).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(1000);

      await own.restart();
      expect(own.url).toBe(url);
      expect(await c.get(`${P}sr`)).toBe("kept");
      expect((await post(own, "/multi-exec", [["get", `${P}sr`]])).body).toEqual([{ result: "kept" }]);
      await own.stop();
    });

    it("stop() does not wait for delayed requests", async () => {
      const own = await startUpstashServer({ redisUrl });
      own.setDelay(10_000);
      const pending = post(own, "/", ["set", `${P}never`, "x"]).catch((e: unknown) => e);
      await sleep(50);
      const started = Date.now();
      await own.stop();
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await pending).toBeInstanceOf(Error);
      expect(await raw.exists(`${P}never`)).toBe(0);
    });

    it("listens on a requested port and takes a custom token", async () => {
      const probe = await startUpstashServer({ redisUrl });
      const port = Number(new URL(probe.url).port);
      await probe.stop();
      const own = await startUpstashServer({ redisUrl, port, token: "custom" });
      try {
        expect(own.url).toBe(`http://127.0.0.1:${port}`);
        expect(own.token).toBe("custom");
        expect((await post(own, "/", ["ping"])).body).toEqual({ result: "PONG" });
      } finally {
        await own.stop();
      }
    });
  });
});

describe.skipIf(!redisUrl)("upstash-server when Redis goes away", () => {
  let backing: RedisServer;
  let server: UpstashServer;

  beforeAll(async () => {
    backing = await startRedis();
    server = await startUpstashServer({ redisUrl: backing.url });
  });

  afterAll(async () => {
    await server?.stop();
    await backing?.stop();
  });

  it("answers 500 {error} while Redis is down and recovers when it is back", async () => {
    const redis = client(server);
    await redis.set("k", "v");
    await backing.stop();

    for (const [path, body] of [
      ["/", ["get", "k"]],
      ["/pipeline", [["get", "k"]]],
      ["/multi-exec", [["get", "k"]]],
    ] as const) {
      const res = await post(server, path, body);
      expect(res.status, path).toBe(500);
      expect(typeof res.body.error).toBe("string");
    }
    const started = Date.now();
    const error = await redis.get("k").then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.name).toBe("UpstashError");
    expect(Date.now() - started).toBeLessThan(1000);

    await backing.restart(); // empty again
    let last: RawResponse | undefined;
    for (let i = 0; i < 100; i++) {
      last = await post(server, "/", ["set", "k", "back"]);
      if (last.status === 200) break;
      await sleep(50);
    }
    expect(last?.body).toEqual({ result: "OK" });
    expect(await redis.get("k")).toBe("back");
    expect(await redis.multi().get("k").exec()).toEqual(["back"]);
  });

  it("startUpstashServer rejects when Redis is unreachable", async () => {
    const dead = await startRedis();
    const deadUrl = dead.url;
    await dead.stop();
    await expect(startUpstashServer({ redisUrl: deadUrl })).rejects.toThrow();
  });
});
