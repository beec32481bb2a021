// Backend.limit across processes: child processes (test/support/child-limit.ts), each with its own
// cache on the same store, hammer one id at once; in total exactly the limit is admitted, on
// redis://, redis+cluster://, upstash:// (the REST server in front of the shared redis-server,
// the real @upstash/redis client) and deno-kv:// (one database file, @deno/kv in each process).
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { startUpstashServer, type UpstashServer } from "../../support/upstash-server.js";
import type { LimitRule } from "../../../src/backends/types.js";
import { Cache } from "../../../src/index.js";
import "../../../src/deno-kv.js";

const redisUrl = inject("redisUrl");
const redisClusterUrl = inject("redisClusterUrl");
const script = fileURLToPath(new URL("../../support/child-limit.ts", import.meta.url));
const root = fileURLToPath(new URL("../../..", import.meta.url));

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

interface Result {
  admitted: number;
  refused: number;
  errors: string[];
}

/** A child on `url`: resolves `go` (releases it) once it is ready, and its result. */
function child(url: string, options: Record<string, unknown>, key: string, rules: LimitRule[], calls: number, cost = 1) {
  const proc = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: root,
    env: { ...process.env, CACHE_URL: url, CACHE_OPTIONS: JSON.stringify(options), KEY: key, RULES: JSON.stringify(rules), CALLS: String(calls), COST: String(cost) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(proc);
  let out = "";
  proc.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  proc.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const waitFor = async (prefix: string): Promise<string> => {
    const end = Date.now() + 30_000;
    for (;;) {
      const line = out.split("\n").find((l) => l.startsWith(prefix));
      if (line !== undefined) return line.slice(prefix.length).trim();
      if (proc.exitCode !== null || Date.now() > end) {
        await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
        const again = out.split("\n").find((l) => l.startsWith(prefix));
        if (again !== undefined) return again.slice(prefix.length).trim();
        throw new Error(`child-limit: no "${prefix}" line (output: ${out})`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return {
    ready: waitFor("ready"),
    go: () => proc.stdin!.write("go\n"),
    result: async () => JSON.parse(await waitFor("result ")) as Result,
  };
}

/** `processes` children of `calls` calls each on one id: the admitted total, every answer accounted for. */
async function hammer(url: string, options: Record<string, unknown>, rules: LimitRule[], processes: number, calls: number, cost = 1): Promise<{ admitted: number; remaining: number[] }> {
  const key = `limit-procs:${randomUUID()}`;
  const kids = Array.from({ length: processes }, () => child(url, options, key, rules, calls, cost));
  await Promise.all(kids.map((k) => k.ready));
  for (const k of kids) k.go();
  const results = await Promise.all(kids.map((k) => k.result()));
  // What each limit has left (a read: cost 0); then nothing is left behind on the shared server.
  const cleanup = new Cache("limit-procs cleanup").setup(url, options);
  const remaining = (await (await cleanup.route(key).start()).limit(key, { rules, cost: 0 })).states.map((s) => s.remaining);
  await cleanup.clear();
  await cleanup.close();
  for (const r of results) {
    expect(r.errors).toEqual([]);
    expect(r.admitted + r.refused).toBe(calls);
  }
  return { admitted: results.reduce((sum, r) => sum + r.admitted, 0), remaining };
}

const rulesOf = (limit: number): Record<string, LimitRule[]> => ({
  fixed: [{ algorithm: "fixed", limit, periodMs: 60_000, refill: limit }],
  sliding: [{ algorithm: "sliding", limit, periodMs: 60_000, refill: limit }],
  tokenBucket: [{ algorithm: "tokenBucket", limit, periodMs: 600_000, refill: 1 }],
  "all three": [
    { algorithm: "fixed", limit: limit * 2, periodMs: 60_000, refill: limit * 2 },
    { algorithm: "sliding", limit, periodMs: 60_000, refill: limit },
    { algorithm: "tokenBucket", limit: limit * 3, periodMs: 600_000, refill: 1 },
  ],
});

function suite(name: string, enabled: string, url: () => string, options: () => Record<string, unknown>): void {
  describe.skipIf(!enabled)(`Backend.limit across processes on ${name}`, () => {
    for (const [algorithm, rules] of Object.entries(rulesOf(75))) {
      it(`${algorithm}: 3 processes × 100 concurrent calls against a limit of 75 admit exactly 75`, async () => {
        const { admitted, remaining } = await hammer(url(), options(), rules, 3, 100);
        expect(admitted).toBe(75);
        // All or nothing: every limit consumed 75, not one unit more (refused calls took nothing).
        expect(remaining).toEqual(rules.map((rule) => rule.limit - 75));
      }, 60_000);
    }
    it("cost 4: 3 processes × 40 calls against a sliding limit of 90 admit exactly 22 (88 units)", async () => {
      expect((await hammer(url(), options(), rulesOf(90).sliding!, 3, 40, 4)).admitted).toBe(22);
    }, 60_000);
  });
}

suite("redis://", redisUrl, () => redisUrl, () => ({ namespace: "limit-procs" }));
suite("redis+cluster://", redisClusterUrl, () => redisClusterUrl, () => ({ namespace: "limit-procs" }));

let upstash: UpstashServer | undefined;
describe.skipIf(!redisUrl)("upstash REST server", () => {
  beforeAll(async () => {
    upstash = await startUpstashServer({ redisUrl });
  });
  afterAll(() => upstash?.stop());
  suite("upstash://", redisUrl, () => upstash!.url.replace(/^http:/, "upstash+http:"), () => ({ namespace: "limit-procs", token: upstash!.token }));
});

// Deno KV: each process opens the same database file; their atomic checks meet in SQLite.
const denoDir = mkdtempSync(join(tmpdir(), "cashews-limit-procs-"));
afterAll(() => rmSync(denoDir, { recursive: true, force: true }));
suite("deno-kv://", "yes", () => `deno-kv://${join(denoDir, "limits.db")}`, () => ({ namespace: "limit-procs" }));
