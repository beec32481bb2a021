// The BroadcastChannel bus of a local tier (src/backends/local/broadcast.ts) on Node's own
// BroadcastChannel: what one bus publishes another on the same name hears (the keys of one tick in
// one message, "all" swallowing keys), never its own, nothing across names, nothing after close; it
// does not keep a process alive. And deno-kv:// with `local` on Node (@deno/kv): two caches of one
// process on one database file drop what the other changed (the tier's ttl is 60 s), and
// `broadcastName` keeps databases apart. Deno's isolates: runtimes/deno/deno-kv.test.ts.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterEach, describe, expect, it } from "vitest";
import { Cache } from "../../../src/index.js";
import "../../../src/deno-kv.js";
import { createDenoKvBackend } from "../../../src/deno-kv.js";
import { createBroadcastBus, hasBroadcastChannel } from "../../../src/backends/local/broadcast.js";
import type { Bus, BusListener, Invalidation } from "../../../src/backends/local/bus.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

let channels = 0;
const channelName = (): string => `cashews-test-${process.pid}-${++channels}`;

/** A started bus recording what it hears. */
async function listening(name: string): Promise<{ bus: Bus; heard: Invalidation[]; connected: boolean[] }> {
  const bus = createBroadcastBus(name);
  const heard: Invalidation[] = [];
  const connected: boolean[] = [];
  const listener: BusListener = { invalidate: (message) => heard.push(message), connected: (up) => connected.push(up) };
  await bus.start(listener);
  cleanup.push(() => bus.close());
  return { bus, heard, connected };
}

/** Waits until `check` holds (every 10 ms, at most 5 s). */
async function until(check: () => boolean): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > 5_000) throw new Error("not within 5 s");
    await sleep(10);
  }
}

describe("createBroadcastBus on Node's BroadcastChannel", () => {
  it("Node has BroadcastChannel (else these tests prove nothing)", () => {
    expect(hasBroadcastChannel()).toBe(true);
  });

  it("says connected at start; another bus on the name hears one message per tick; the sender hears nothing of its own", async () => {
    const name = channelName();
    const a = await listening(name);
    const b = await listening(name);
    expect(a.connected).toEqual([true]);
    a.bus.publish({ keys: ["x", "y"] });
    a.bus.publish({ keys: ["y", "z"] });
    await until(() => b.heard.length > 0);
    await sleep(50);
    expect(b.heard).toEqual([{ keys: ["x", "y", "z"] }]);
    expect(a.heard).toEqual([]);
    b.bus.publish({ keys: ["w"] });
    await until(() => a.heard.length > 0);
    expect(a.heard).toEqual([{ keys: ["w"] }]);
  });

  it("'all' swallows the keys of its tick; another name hears nothing", async () => {
    const name = channelName();
    const a = await listening(name);
    const b = await listening(name);
    const elsewhere = await listening(channelName());
    a.bus.publish({ keys: ["x"] });
    a.bus.publish({ all: true });
    a.bus.publish({ keys: ["y"] });
    await until(() => b.heard.length > 0);
    await sleep(50);
    expect(b.heard).toEqual([{ all: true }]);
    expect(elsewhere.heard).toEqual([]);
  });

  it("close() sends what is pending, then nothing is sent or heard", async () => {
    const name = channelName();
    const a = await listening(name);
    const b = await listening(name);
    a.bus.publish({ keys: ["last"] });
    await a.bus.close();
    a.bus.publish({ keys: ["after-close"] });
    b.bus.publish({ keys: ["to-a"] });
    await until(() => b.heard.length > 0);
    await sleep(50);
    expect(b.heard).toEqual([{ keys: ["last"] }]);
    expect(a.heard).toEqual([]);
  });

  it("ignores messages that are not a bus's (other users of the channel name)", async () => {
    const name = channelName();
    const a = await listening(name);
    const other = new BroadcastChannel(name);
    cleanup.push(() => other.close());
    other.postMessage("hello");
    other.postMessage({ v: 1, id: "x", keys: ["not-a-string-message"] });
    other.postMessage(JSON.stringify({ v: 2, id: "x", keys: ["other-version"] }));
    other.postMessage(JSON.stringify({ v: 1, id: "x", keys: ["ok"] }));
    await until(() => a.heard.length > 0);
    await sleep(50);
    expect(a.heard).toEqual([{ keys: ["ok"] }]);
  });

  it("a started, never closed bus does not keep a Node process alive", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cashews-broadcast-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const entry = join(dir, "entry.ts");
    writeFileSync(
      entry,
      `import { createBroadcastBus } from ${JSON.stringify(join(ROOT, "src/backends/local/broadcast.ts"))};
const bus = createBroadcastBus("cashews-exit-test");
await bus.start({ invalidate() {}, connected() {} });
bus.publish({ keys: ["k"] });
console.log("started");\n`,
    );
    const out = join(dir, "entry.mjs");
    await build({ entryPoints: [entry], bundle: true, format: "esm", platform: "node", outfile: out, logLevel: "silent" });
    const { code, output } = await new Promise<{ code: number | null; output: string }>((done) => {
      const child = spawn(process.execPath, [out], { stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.once("close", (exit) => {
        clearTimeout(timer);
        done({ code: exit, output: text });
      });
    });
    expect(output).toContain("started");
    expect(code, output).toBe(0);
  }, 30_000);
});

describe("deno-kv:// with local on Node (@deno/kv): the BroadcastChannel bus", () => {
  it("two caches of one process on one file drop what the other changed, well within their 60 s local ttl", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cashews-broadcast-dkv-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const url = `deno-kv://${join(dir, "kv.db")}?local=1&localTtl=60s`;
    const a = new Cache("bc-a").setup(url, { namespace: "bc", safe: false });
    const b = new Cache("bc-b").setup(url, { namespace: "bc", safe: false });
    const behind = new Cache("bc-behind").setup(url.replace(/\?.*/, ""), { namespace: "bc", safe: false });
    cleanup.push(() => Promise.all([a.close(), b.close(), behind.close()]));
    await a.set("k", "one", { expire: "10m" });
    await sleep(100); // a's invalidation of its own write passes first (it would drop b's copy of "one")
    expect(await b.get("k")).toBe("one"); // b's copy holds it now
    // A writer without local publishes nothing: b's copy still answers (the local tier is in use).
    await behind.set("k", "behind", { expire: "10m" });
    expect(await b.get("k")).toBe("one");
    await a.set("k", "two", { expire: "10m" });
    let seen: unknown;
    const started = Date.now();
    while ((seen = await b.get("k")) !== "two" && Date.now() - started < 5_000) await sleep(10);
    expect(seen).toBe("two");
    await a.delete("k");
    while ((seen = await b.get("k")) !== undefined && Date.now() - started < 10_000) await sleep(10);
    expect(seen).toBeUndefined();
  });

  it("broadcastName: one per database and namespace; none for :memory: or a supplied handle", () => {
    expect(createDenoKvBackend("deno-kv:///data/a.db").broadcastName).toBe(JSON.stringify(["cashews", "deno-kv", "/data/a.db", "cashews"]));
    const names = new Set([
      createDenoKvBackend("deno-kv:///data/a.db").broadcastName,
      createDenoKvBackend("deno-kv:///data/b.db").broadcastName,
      createDenoKvBackend("deno-kv:///data/a.db", { namespace: "other" }).broadcastName,
    ]);
    expect(names.size).toBe(3);
    expect(createDenoKvBackend("deno-kv://:memory:").broadcastName).toBeUndefined();
    const handle = { get() {}, getMany() {}, set() {}, delete() {}, list() {}, atomic() {}, close() {} };
    expect(createDenoKvBackend("deno-kv://", { kv: handle as never }).broadcastName).toBeUndefined();
  });
});
