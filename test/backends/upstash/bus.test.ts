// The invalidation bus over Upstash (issue 16): the test server's SSE subscribe channel driven by the
// real @upstash/redis client and raw fetch, then createUpstashBus between independent instances.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis as Upstash } from "@upstash/redis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { BusListener, Invalidation } from "../../../src/backends/local/bus.js";
import { createUpstashBackend } from "../../../src/backends/upstash/backend.js";
import { createUpstashBus, createUpstashBusFor, invalidationChannel, type UpstashBusOptions } from "../../../src/backends/upstash/bus.js";
import { CacheConfigError } from "../../../src/errors.js";
import { startUpstashServer, type UpstashServer } from "../../support/upstash-server.js";

const redisUrl = inject("redisUrl");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

function client(server: UpstashServer): Upstash {
  return new Upstash({ url: server.url, token: server.token, automaticDeserialization: false, enableTelemetry: false, retry: false });
}

/** A listener that records what it hears. */
function recorder() {
  const heard: { at: number; message: Invalidation }[] = [];
  const states: boolean[] = [];
  const listener: BusListener = {
    invalidate: (message) => heard.push({ at: Date.now(), message }),
    connected: (up) => states.push(up),
  };
  return {
    heard,
    states,
    listener,
    get up() {
      return states.at(-1) === true;
    },
  };
}

const channel = () => invalidationChannel(`t-bus-${randomUUID().slice(0, 8)}`);

describe.skipIf(!redisUrl)("upstash bus", () => {
  let server: UpstashServer;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    server = await startUpstashServer({ redisUrl, token: `tok-${randomUUID()}` });
  });
  afterEach(async () => {
    await Promise.allSettled(closers.splice(0).map((close) => close()));
  });
  afterAll(async () => {
    await server?.stop();
  });

  function bus(ch: string, extra: Partial<UpstashBusOptions> = {}, target = server) {
    const b = createUpstashBus({ url: target.url, token: target.token, channel: ch, heartbeatMs: 0, ...extra });
    closers.push(() => b.close());
    return b;
  }

  describe("the test server's subscribe channel", () => {
    it("@upstash/redis subscribe(): confirmation, then every PUBLISH on the channel, nothing from others", async () => {
      const redis = client(server);
      const ch = channel();
      const sub = redis.subscribe(ch);
      closers.push(() => sub.unsubscribe());
      const counts: number[] = [];
      const messages: unknown[] = [];
      const errors: unknown[] = [];
      sub.on("subscribe", (count) => counts.push(count));
      sub.on("message", (m) => messages.push(m));
      sub.on("error", (e) => errors.push(e));
      await until(() => counts.length === 1, 3000, "subscribe");
      expect(counts).toEqual([1]);
      expect(await redis.publish(ch, '{"k":["a,b"]}')).toBe(1);
      expect(await redis.publish(`${ch}-other`, "no")).toBe(0);
      expect(await redis.publish(ch, "plain text, with commas")).toBe(1);
      await until(() => messages.length === 2, 3000, "messages");
      expect(messages).toEqual([
        { channel: ch, message: '{"k":["a,b"]}' },
        { channel: ch, message: "plain text, with commas" },
      ]);
      expect(errors).toEqual([]);
    });

    it("@upstash/redis psubscribe(): pmessage with pattern and channel", async () => {
      const redis = client(server);
      const ch = channel();
      const sub = redis.psubscribe(`${ch}*`);
      closers.push(() => sub.unsubscribe());
      const counts: number[] = [];
      const messages: unknown[] = [];
      sub.on("psubscribe", (count) => counts.push(count));
      sub.on("pmessage", (m) => messages.push(m));
      await until(() => counts.length === 1, 3000, "psubscribe");
      await redis.publish(`${ch}:x`, "hello");
      await until(() => messages.length === 1, 3000, "pmessage");
      expect(messages).toEqual([{ pattern: `${ch}*`, channel: `${ch}:x`, message: "hello" }]);
    });

    it("a wrong token is an error event (401 before any stream)", async () => {
      const redis = new Upstash({ url: server.url, token: "wrong", automaticDeserialization: false, enableTelemetry: false, retry: false });
      const sub = redis.subscribe(channel());
      closers.push(() => sub.unsubscribe());
      const errors: Error[] = [];
      sub.on("error", (e) => errors.push(e));
      await until(() => errors.length === 1, 3000, "error");
      expect(errors[0]!.message).toContain("Unauthorized");
    });

    it("wire: POST /subscribe/<channel> streams text/event-stream lines; dropSubscriptions() ends it", async () => {
      const ch = channel();
      const res = await fetch(`${server.url}/subscribe/${ch}`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.token}`, accept: "text/event-stream", "upstash-encoding": "base64" },
        body: "[]",
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream");
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = "";
      const readUntil = async (needle: string) => {
        while (!text.includes(needle)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${needle}: ${text}`);
          text += decoder.decode(value, { stream: true });
        }
      };
      await readUntil("\n\n");
      expect(text).toBe(`data: subscribe,${ch},1\n\n`);
      expect(server.subscriptions).toBeGreaterThanOrEqual(1);
      await client(server).publish(ch, "héllo"); // never base64 on the stream, whatever the header
      await readUntil("héllo\n\n");
      expect(text).toBe(`data: subscribe,${ch},1\n\ndata: message,${ch},héllo\n\n`);
      expect(server.dropSubscriptions("end")).toBeGreaterThanOrEqual(1);
      for (;;) {
        const { done } = await reader.read();
        if (done) break;
      }
      await until(() => server.subscriptions === 0, 2000, "no subscriptions");
    });

    it("keep-alive comments every keepAliveMs", async () => {
      const own = await startUpstashServer({ redisUrl, keepAliveMs: 50 });
      closers.push(() => own.stop());
      const res = await fetch(`${own.url}/subscribe/${channel()}`, {
        method: "POST",
        headers: { authorization: `Bearer ${own.token}`, accept: "text/event-stream" },
        body: "[]",
      });
      const reader = res.body!.getReader();
      let text = "";
      while (!text.includes(": keep-alive\n\n")) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
    });
  });

  describe("createUpstashBus", () => {
    it("invalidationChannel: namespaces map to distinct URL-safe names without commas", () => {
      expect(invalidationChannel("app")).toBe("cashews:app:invalidate");
      expect(invalidationChannel("")).toBe("cashews::invalidate");
      expect(invalidationChannel("a,b c/_")).toBe("cashews:a_2cb_20c_2f_5f:invalidate");
      expect(invalidationChannel("a_2c")).not.toBe(invalidationChannel("a,"));
      expect(invalidationChannel("é")).toBe("cashews:_c3_a9:invalidate");
      expect(() => createUpstashBus({ url: server.url, token: server.token, channel: "a,b" })).toThrow(/channel/);
    });

    it("bus.ts runs beyond Node: no node:* imports, no Buffer, no process", () => {
      const source = ["upstash/bus.ts", "local/channel-bus.ts", "deadlines.ts"].map((file) => readFileSync(fileURLToPath(new URL(`../../../src/backends/${file}`, import.meta.url)), "utf8")).join("\n");
      const code = source.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ""); // without comments
      expect(code).not.toMatch(/from\s+["']node:|require\(|\bBuffer\b|\bprocess\./);
      const imports = [...code.matchAll(/from\s+["']([^"']+)["']/g)].map((m) => m[1]);
      expect(imports.sort()).toEqual(["../../errors.js", "../deadlines.js", "../local/bus.js", "../local/channel-bus.js", "./bus.js", "./clock.js"]);
    });

    it("a publish reaches the other instance within 200 ms, over many rounds; own messages are ignored", async () => {
      const ch = channel();
      const [a, b] = [bus(ch), bus(ch)];
      const [ra, rb] = [recorder(), recorder()];
      await Promise.all([a.start(ra.listener), b.start(rb.listener)]);
      expect(ra.states).toEqual([true]);
      expect(rb.states).toEqual([true]);
      const latencies: number[] = [];
      for (let round = 0; round < 40; round++) {
        const [from, to] = round % 2 ? [a, rb] : [b, ra];
        const before = to.heard.length;
        const sent = Date.now();
        from.publish({ keys: [`k${round}`, `k,${round}\n"x"`] });
        await until(() => to.heard.length > before, 2000, `round ${round}`);
        latencies.push(to.heard.at(-1)!.at - sent);
        expect(to.heard.at(-1)!.message).toEqual({ keys: [`k${round}`, `k,${round}\n"x"`] });
      }
      await sleep(50);
      expect(ra.heard.length).toBe(20); // only b's messages
      expect(rb.heard.length).toBe(20);
      expect(Math.max(...latencies)).toBeLessThan(200);
      b.publish({ all: true });
      await until(() => ra.heard.length === 21);
      expect(ra.heard.at(-1)!.message).toEqual({ all: true });
    });

    it("batches per tick: many keys → one PUBLISH request; an `all` swallows keys; above maxKeys → all", async () => {
      const ch = channel();
      const [a, b] = [bus(ch, { maxKeys: 50 }), bus(ch)];
      const rb = recorder();
      await Promise.all([a.start(recorder().listener), b.start(rb.listener)]);
      server.resetCount();
      for (let i = 0; i < 30; i++) a.publish({ keys: [`k${i}`, "dup"] });
      await until(() => rb.heard.length === 1);
      await sleep(30);
      expect(server.commandCount("PUBLISH")).toBe(1);
      expect(server.requests).toBe(1);
      expect(rb.heard.length).toBe(1);
      expect(new Set((rb.heard[0]!.message as { keys: string[] }).keys).size).toBe(31);

      a.publish({ keys: ["x"] });
      a.publish({ all: true });
      a.publish({ keys: ["y"] });
      await until(() => rb.heard.length === 2);
      expect(rb.heard[1]!.message).toEqual({ all: true });

      for (let i = 0; i < 60; i++) a.publish({ keys: [`many${i}`] });
      await until(() => rb.heard.length === 3);
      expect(rb.heard[2]!.message).toEqual({ all: true });

      for (let i = 0; i < 40; i++) a.publish({ keys: [`${i}:${"x".repeat(2000)}`] }); // 80 KB of keys
      await until(() => rb.heard.length === 4);
      expect(rb.heard[3]!.message).toEqual({ all: true });
      await sleep(30);
      expect(server.commandCount("PUBLISH")).toBe(4);
    });

    it("publishes through an @upstash/redis client when given one", async () => {
      const ch = channel();
      const a = bus(ch, { client: client(server) });
      const b = bus(ch);
      const rb = recorder();
      await b.start(rb.listener);
      a.publish({ keys: ["via-client"] });
      await until(() => rb.heard.length === 1);
      expect(rb.heard[0]!.message).toEqual({ keys: ["via-client"] });
    });

    it("subscription killed server side → connected(false), then true once resubscribed; messages flow again", async () => {
      const ch = channel();
      const [a, b] = [bus(ch), bus(ch)];
      const rb = recorder();
      await Promise.all([a.start(recorder().listener), b.start(rb.listener)]);
      for (const mode of ["destroy", "end"] as const) {
        const n = rb.states.length;
        server.dropSubscriptions(mode);
        await until(() => rb.states.length >= n + 2, 3000, `false then true (${mode})`);
        expect(rb.states.slice(n)).toEqual([false, true]);
        const before = rb.heard.length;
        a.publish({ keys: [mode] });
        await until(() => rb.heard.length > before, 2000, "message after resubscribe");
      }
    });

    it("a restart of the REST server → connected(false), then true after it is back", async () => {
      const own = await startUpstashServer({ redisUrl });
      closers.push(() => own.stop());
      const ch = channel();
      const [a, b] = [bus(ch, {}, own), bus(ch, {}, own)];
      const rb = recorder();
      await Promise.all([a.start(recorder().listener), b.start(rb.listener)]);
      await own.stop();
      await until(() => rb.states.at(-1) === false, 2000, "false");
      await sleep(300); // reconnect attempts fail meanwhile (back-off)
      expect(rb.states).toEqual([true, false]);
      await own.restart();
      await until(() => rb.up, 5000, "true again");
      expect(rb.states).toEqual([true, false, true]);
      a.publish({ keys: ["after-restart"] });
      await until(() => rb.heard.length === 1, 2000, "message after restart");
    });

    it("start() with the server down settles disconnected, and connects once it is up", async () => {
      const own = await startUpstashServer({ redisUrl });
      closers.push(() => own.stop());
      await own.stop();
      const r = recorder();
      await bus(channel(), { backoff: () => 20 }, own).start(r.listener);
      expect(r.states).toEqual([]);
      await own.restart();
      await until(() => r.up, 3000, "up");
    });

    it("heartbeat: a stream that stays open but delivers nothing counts as lost", async () => {
      const ch = channel();
      let blockPublish = false;
      const gated: typeof fetch = (input, init) =>
        blockPublish && !String(input).includes("/subscribe/") ? new Promise(() => {}) : fetch(input, init);
      const r = recorder();
      await bus(ch, { heartbeatMs: 40, fetch: gated }).start(r.listener);
      await sleep(150);
      expect(r.states).toEqual([true]); // pings come back
      blockPublish = true; // pings never reach the channel: nothing comes back on the stream
      await until(() => r.states.length >= 2, 1000, "false");
      expect(r.states[1]).toBe(false);
      blockPublish = false;
      await until(() => r.up, 2000, "up again");
    });

    it("a PUBLISH that keeps failing is not dropped: an `all` goes out once publishing works again", async () => {
      const ch = channel();
      let failPublish = true;
      const failing: typeof fetch = (input, init) =>
        failPublish && !String(input).includes("/subscribe/") ? Promise.reject(new TypeError("fetch failed")) : fetch(input, init);
      const errors: unknown[] = [];
      const a = bus(ch, { fetch: failing, onError: (e) => errors.push(e) });
      const b = bus(ch);
      const rb = recorder();
      await Promise.all([a.start(recorder().listener), b.start(rb.listener)]);
      a.publish({ keys: ["lost?"] });
      await until(() => errors.length >= 1, 2000, "reported failure");
      a.publish({ keys: ["later"] });
      failPublish = false;
      await until(() => rb.heard.length >= 1, 5000, "owed all");
      expect(rb.heard[0]!.message).toEqual({ all: true });
      // "later" may follow on its own (it was queued behind the owed `all`): redundant, harmless.
      await sleep(100);
      expect(rb.heard.slice(1).map((h) => h.message)).toEqual(rb.heard.length > 1 ? [{ keys: ["later"] }] : []);
    });

    it("createUpstashBusFor(backend): the namespace's channel, the client's URL and token, PUBLISH through the client", async () => {
      const namespace = `t-bus-${randomUUID().slice(0, 8)}`;
      const url = server.url.replace(/^http:/, "upstash+http:");
      const backends = [
        createUpstashBackend(url, { token: server.token, namespace }),
        createUpstashBackend(url, { client: client(server), namespace }), // a supplied client
        createUpstashBackend(url, { token: server.token, namespace: `${namespace}-other` }),
      ];
      for (const backend of backends) closers.push(() => backend.close());
      const buses = backends.map((backend) => createUpstashBusFor(backend, { heartbeatMs: 0 }));
      for (const b of buses) closers.push(() => b.close());
      const rs = [recorder(), recorder(), recorder()];
      await Promise.all(buses.map((b, i) => b.start(rs[i]!.listener)));
      expect(rs.map((r) => r.up)).toEqual([true, true, true]);
      buses[0]!.publish({ keys: ["k"] });
      await until(() => rs[1]!.heard.length === 1);
      expect(rs[1]!.heard[0]!.message).toEqual({ keys: ["k"] });
      buses[1]!.publish({ all: true });
      await until(() => rs[0]!.heard.length === 1);
      expect(rs[0]!.heard[0]!.message).toEqual({ all: true });
      await sleep(50);
      expect(rs[2]!.heard).toEqual([]); // another namespace, another channel
      expect(() => createUpstashBusFor({ namespace, client: {} })).toThrow(CacheConfigError);
    });

    it("close() disconnects, stops listening and sends what was published before it", async () => {
      const ch = channel();
      const [a, b] = [bus(ch), bus(ch)];
      const [ra, rb] = [recorder(), recorder()];
      await Promise.all([a.start(ra.listener), b.start(rb.listener)]);
      const open = server.subscriptions;
      a.publish({ keys: ["last"] });
      await a.close();
      expect(ra.states).toEqual([true, false]);
      await until(() => rb.heard.length === 1, 2000, "last words");
      await until(() => server.subscriptions === open - 1, 2000, "stream closed");
      b.publish({ keys: ["unheard"] });
      await sleep(100);
      expect(ra.heard).toEqual([]);
    });
  });

  describe("a reference local tier on the bus (the contract the real one must keep)", () => {
    /**
     * Map + bus: served locally only while connected; every invalidation and every connected()
     * change bumps an epoch, and a remote read stores its value only if the epoch did not move
     * while it was in flight (else a read that started before an invalidation could store the
     * old value after it).
     */
    class ToyLocal {
      readonly map = new Map<string, string | null>();
      up = false;
      epoch = 0;
      localHits = 0;
      readonly listener: BusListener = {
        invalidate: (message) => {
          this.epoch++;
          if ("all" in message) this.map.clear();
          else for (const key of message.keys) this.map.delete(key);
        },
        connected: (up) => {
          this.epoch++;
          this.map.clear();
          this.up = up;
        },
      };
      constructor(
        readonly redis: Upstash,
        readonly bus: ReturnType<typeof createUpstashBus>,
      ) {}
      async get(key: string): Promise<string | null> {
        if (this.up && this.map.has(key)) {
          this.localHits++;
          return this.map.get(key)!;
        }
        const epoch = this.epoch;
        const value = await this.redis.get<string>(key);
        if (this.up && this.epoch === epoch) this.map.set(key, value);
        return value;
      }
      async set(key: string, value: string): Promise<void> {
        this.map.delete(key);
        await this.redis.set(key, value);
        this.bus.publish({ keys: [key] }); // after the remote write is acknowledged
      }
    }

    it("no read is staler than 200 ms across a killed subscription and a REST server restart", async () => {
      const own = await startUpstashServer({ redisUrl });
      closers.push(() => own.stop());
      const ch = channel();
      // 20 keys written round-robin every 15 ms: each key changes every ~300 ms, so a missed
      // invalidation would leave a copy stale beyond the bound.
      const prefix = `t-bus-stale-${randomUUID().slice(0, 8)}:`;
      const keyOf = (n: number) => `${prefix}${n % 20}`;
      const writer = new ToyLocal(client(own), bus(ch, {}, own));
      const reader = new ToyLocal(client(own), bus(ch, { backoff: () => 30 }, own));
      await Promise.all([writer.bus.start(writer.listener), reader.bus.start(reader.listener)]);
      for (let n = 0; n < 20; n++) await writer.set(keyOf(n), "0");

      const completed: { key: string; version: number; at: number }[] = [];
      let stop = false;
      const violations: string[] = [];
      let reads = 0;
      const writing = (async () => {
        for (let version = 1; !stop; version++) {
          try {
            await writer.set(keyOf(version), String(version));
            completed.push({ key: keyOf(version), version, at: Date.now() });
          } catch {
            // server down: the write failed, nothing changed
          }
          await sleep(15);
        }
      })();
      const reading = (async () => {
        for (let n = 0; !stop; n++) {
          const key = keyOf(n);
          const started = Date.now();
          const floor = completed.filter((c) => c.key === key && c.at <= started - 200).at(-1)?.version ?? 0;
          try {
            const value = Number(await reader.get(key));
            reads++;
            if (value < floor) violations.push(`${key}: read ${value} at ${started}, ${floor} was written 200 ms before`);
          } catch {
            // server down: an error, not a stale value
          }
          await sleep(1);
        }
      })();
      await sleep(700);
      const hitsBefore = reader.localHits;
      own.dropSubscriptions();
      await sleep(700);
      await own.stop();
      await sleep(300);
      await own.restart();
      await sleep(1000);
      stop = true;
      await Promise.all([writing, reading]);
      expect(violations).toEqual([]);
      expect(hitsBefore).toBeGreaterThan(20); // values were served locally
      expect(reader.localHits).toBeGreaterThan(hitsBefore); // and again after the restart
      expect(reads).toBeGreaterThan(100);
      expect(completed.at(-1)!.version).toBeGreaterThan(50);
      expect(reader.up).toBe(true);
    });
  });

  describe("two processes", () => {
    const script = fileURLToPath(new URL("../../support/child-bus.ts", import.meta.url));
    const root = fileURLToPath(new URL("../../..", import.meta.url));

    const bin = (name: string) => fileURLToPath(new URL(`../../../node_modules/.bin/${name}`, import.meta.url));
    const runtimes: Record<string, string[]> = {
      node: [process.execPath, "--import", "tsx", script],
      bun: [bin("bun"), script],
      deno: [bin("deno"), "run", "-A", "--sloppy-imports", script],
    };

    function child(ch: string, runtime = "node") {
      const [cmd, ...args] = runtimes[runtime]!;
      const proc: ChildProcess = spawn(cmd!, args, {
        cwd: root,
        env: { ...process.env, BUS_URL: server.url, BUS_TOKEN: server.token, BUS_CHANNEL: ch },
        stdio: ["pipe", "pipe", "pipe"],
      });
      closers.push(async () => {
        if (proc.exitCode === null) proc.kill();
      });
      const lines: { at: number; line: string }[] = [];
      let stderr = "";
      proc.stderr!.on("data", (chunk) => (stderr += chunk));
      createInterface({ input: proc.stdout! }).on("line", (line) => lines.push({ at: Date.now(), line }));
      return {
        lines,
        stderr: () => stderr,
        send: (line: string) => proc.stdin!.write(`${line}\n`),
        states: () => lines.filter((l) => l.line.startsWith("connected ")).map((l) => l.line === "connected true"),
        heard: () => lines.filter((l) => l.line.startsWith("invalidate ")),
      };
    }

    it("a publish in one process is heard by the other within 200 ms over many rounds; a killed subscription is false then true in both", async () => {
      const ch = channel();
      const p = [child(ch), child(ch)] as const;
      await until(() => p.every((c) => c.states().at(-1) === true), 15_000, "both connected");
      const latencies: number[] = [];
      for (let round = 0; round < 30; round++) {
        const [from, to] = round % 2 ? [p[0], p[1]] : [p[1], p[0]];
        const before = to.heard().length;
        const sent = Date.now();
        from.send(`publish ${JSON.stringify({ keys: [`r${round}`] })}`);
        await until(() => to.heard().length > before, 2000, `round ${round}`);
        latencies.push(to.heard().at(-1)!.at - sent);
        expect(JSON.parse(to.heard().at(-1)!.line.slice(11))).toEqual({ keys: [`r${round}`] });
      }
      expect(Math.max(...latencies)).toBeLessThan(200);
      expect(p[0].heard().length).toBe(15); // never its own
      expect(p[1].heard().length).toBe(15);

      server.dropSubscriptions();
      await until(() => p.every((c) => c.states().length >= 3), 5000, "false then true");
      for (const c of p) expect(c.states()).toEqual([true, false, true]);
      p[0].send(`publish ${JSON.stringify({ all: true })}`);
      await until(() => p[1].heard().length === 16, 2000, "after resubscribe");
      for (const c of p) c.send("close");
      await until(() => p.every((c) => c.states().at(-1) === false), 5000, "closed");
      expect(p[0].stderr() + p[1].stderr()).toBe("");
    });

    it.skipIf(!existsSync(bin("bun")) || !existsSync(bin("deno")))(
      "Bun and Deno processes: publishes cross runtimes; a killed subscription is false then true",
      async () => {
        const ch = channel();
        const [bun, deno] = [child(ch, "bun"), child(ch, "deno")];
        await until(() => [bun, deno].every((c) => c.states().at(-1) === true), 45_000, "both connected");
        for (let round = 0; round < 10; round++) {
          const [from, to] = round % 2 ? [bun, deno] : [deno, bun];
          const before = to.heard().length;
          from.send(`publish ${JSON.stringify({ keys: [`r${round}`] })}`);
          await until(() => to.heard().length > before, 2000, `round ${round}`);
        }
        server.dropSubscriptions();
        await until(() => [bun, deno].every((c) => c.states().length >= 3), 5000, "false then true");
        for (const c of [bun, deno]) expect(c.states()).toEqual([true, false, true]);
        for (const c of [bun, deno]) c.send("close");
        await until(() => [bun, deno].every((c) => c.states().at(-1) === false), 5000, "closed");
        expect(bun.stderr() + deno.stderr()).toBe("");
      },
      60_000,
    );
  });
});
