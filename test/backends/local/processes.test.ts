// The local tier on upstash:// in two processes (test/support/child-local.ts), each a real Cache
// with `local` on the Upstash-compatible REST server, kept coherent by the invalidation bus
// (PUBLISH over REST, the server-sent-events subscription). Times are `Date.now()` in each process
// (one machine clock).
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { startUpstashServer, type UpstashServer } from "../../support/upstash-server.js";

const redisUrl = inject("redisUrl");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const script = fileURLToPath(new URL("../../support/child-local.ts", import.meta.url));
const root = fileURLToPath(new URL("../../..", import.meta.url));

type Line = Record<string, unknown> & { op: string };

describe.skipIf(!redisUrl)("local tier on upstash:// in two processes", () => {
  let server: UpstashServer;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    server = await startUpstashServer({ redisUrl });
  });
  afterAll(() => server.stop());
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  });

  /** A child process with a cache on `namespace` (local ttl `ttlMs`). */
  function child(namespace: string, ttlMs = 60_000) {
    const proc = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: root,
      env: {
        ...process.env,
        LOCAL_URL: server.url.replace(/^http:/, "upstash+http:"),
        LOCAL_TOKEN: server.token,
        LOCAL_NAMESPACE: namespace,
        LOCAL_TTL_MS: String(ttlMs),
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.push(proc);
    const lines: Line[] = [];
    let stderr = "";
    proc.stderr!.on("data", (chunk) => (stderr += chunk));
    createInterface({ input: proc.stdout! }).on("line", (line) => lines.push(JSON.parse(line) as Line));
    const send = (command: Record<string, unknown>) => proc.stdin!.write(`${JSON.stringify(command)}\n`);
    /** The first line from index `from` on that `match` accepts; fails after `ms`. */
    const next = async (from: number, match: (line: Line) => boolean, ms: number, what: string): Promise<Line> => {
      const end = Date.now() + ms;
      for (;;) {
        const found = lines.slice(from).find(match);
        if (found) return found;
        if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms (stderr: ${stderr})`);
        await sleep(2);
      }
    };
    /** Sends `command` and resolves its answer (the next line with `op`). */
    const ask = (command: Record<string, unknown>, op = command.op as string, ms = 5_000) => {
      const from = lines.length;
      send(command);
      return next(from, (line) => line.op === op, ms, JSON.stringify(command));
    };
    const armed = () => lines.filter((line) => line.op === "armed").map((line) => line.value as boolean);
    return { lines, send, ask, next, armed, stderr: () => stderr };
  }
  type Child = ReturnType<typeof child>;

  /** Until `reader` serves `key` as `value` from its copy (no I/O). */
  async function servedLocally(reader: Child, key: string, value: unknown): Promise<void> {
    for (let tries = 0; ; tries++) {
      const got = await reader.ask({ op: "get", key });
      if (got.local === true && got.value === value) return;
      if (tries > 200) throw new Error(`${key} never served locally as ${String(value)}: ${JSON.stringify(got)}`);
      await sleep(5);
    }
  }

  it("a write or delete in one is seen by the other within 200 ms, over many rounds, after the value was served locally", async () => {
    const namespace = `local-proc-${randomUUID().slice(0, 8)}`;
    const p = [child(namespace), child(namespace)] as const;
    for (const c of p) c.send({ op: "armed-watch" });
    for (const c of p) await c.next(0, (line) => line.op === "armed" && line.value === true, 20_000, "armed");
    const latencies: number[] = [];
    for (let round = 0; round < 40; round++) {
      const [writer, reader] = round % 2 ? [p[0], p[1]] : [p[1], p[0]];
      await writer.ask({ op: "set", key: "k", value: round });
      await servedLocally(reader, "k", round);
      const next = round % 4 < 2 ? -round - 1 : null; // a new value, or a delete
      const from = reader.lines.length;
      reader.send({ op: "watch", key: "k", value: next });
      const done = next === null ? await writer.ask({ op: "delete", key: "k" }) : await writer.ask({ op: "set", key: "k", value: next });
      const seen = await reader.next(from, (line) => line.op === "seen", 2_000, `round ${round}: the change reaches the other process`);
      latencies.push((seen.at as number) - (done.at as number));
    }
    // Generous for a loaded CI machine; the bound.
    expect(Math.max(...latencies), latencies.join(" ")).toBeLessThan(200);
    for (const c of p) expect(c.armed()).toEqual([true]); // armed since the start, never lost meanwhile
    for (const c of p) expect(c.stderr()).toBe("");
  }, 60_000);

  it("a subscription killed by the server: the copy is bypassed until it is back, then used again", async () => {
    const namespace = `local-proc-${randomUUID().slice(0, 8)}`;
    const [writer, reader] = [child(namespace), child(namespace)];
    reader.send({ op: "armed-watch" });
    await reader.next(0, (line) => line.op === "armed" && line.value === true, 20_000, "armed");
    await writer.ask({ op: "set", key: "k", value: 1 });
    await servedLocally(reader, "k", 1);
    const dropped = server.dropSubscriptions();
    expect(dropped).toBeGreaterThanOrEqual(2);
    await reader.next(0, (line) => line.op === "armed" && line.value === false, 5_000, "disarmed");
    // The copy was flushed: the first read after the loss is not local (whenever it comes).
    const after = await reader.ask({ op: "get", key: "k" });
    expect(after.local).toBe(false);
    expect(after.value).toBe(1);
    await reader.next(0, (line) => line.op === "armed" && line.value === true && reader.armed().length >= 3, 5_000, "armed again");
    expect(reader.armed()).toEqual([true, false, true]);
    await writer.ask({ op: "set", key: "k", value: 2 });
    await servedLocally(reader, "k", 2);
  }, 60_000);

  it("no read is staler than 200 ms across a killed subscription and a REST server restart", async () => {
    const namespace = `local-proc-${randomUUID().slice(0, 8)}`;
    const [writer, reader] = [child(namespace), child(namespace)];
    reader.send({ op: "armed-watch" });
    await reader.next(0, (line) => line.op === "armed" && line.value === true, 20_000, "armed");
    // 20 keys written round robin every 15 ms: each changes every ~300 ms, so a missed
    // invalidation would leave a copy stale beyond the bound.
    const keys = Array.from({ length: 20 }, (_, n) => `s${n}`);
    for (const key of keys) await writer.ask({ op: "set", key, value: 0 });
    const ms = 4_000;
    writer.send({ op: "writes", keys, ms, every: 15 });
    reader.send({ op: "reads", keys, ms });
    await sleep(900);
    server.dropSubscriptions();
    await sleep(900);
    const stoppedAt = Date.now();
    await server.stop();
    await sleep(400);
    await server.restart();
    const restartedAt = Date.now();
    await writer.next(0, (line) => line.op === "writes-done", ms + 5_000, "writes done");
    await reader.next(0, (line) => line.op === "reads-done", ms + 5_000, "reads done");

    const wrote = writer.lines.filter((line) => line.op === "wrote") as Array<Line & { key: string; version: number; at: number }>;
    const reads = reader.lines.filter((line) => line.op === "read") as Array<Line & { key: string; value: unknown; started: number; local: boolean }>;
    const violations: string[] = [];
    for (const read of reads) {
      const floor = wrote.filter((w) => w.key === read.key && w.at <= read.started - 200).at(-1)?.version ?? 0;
      if (typeof read.value === "number" && read.value < floor) violations.push(`${read.key}: read ${read.value} at ${read.started} (local: ${read.local}), ${floor} was written 200 ms before`);
    }
    expect(violations).toEqual([]);
    expect(reads.length).toBeGreaterThan(300);
    expect(wrote.length).toBeGreaterThan(100);
    // The copy served reads before the loss and again after the restart.
    expect(reads.filter((read) => read.local && read.started < stoppedAt).length).toBeGreaterThan(20);
    expect(reads.filter((read) => read.local && read.started > restartedAt + 300).length).toBeGreaterThan(5);
    // Lost with the killed subscription and with the restart, and back after each.
    expect(reader.armed().filter((up) => !up).length).toBeGreaterThanOrEqual(2);
    expect(reader.armed().at(-1)).toBe(true);
  }, 60_000);
});
