// cashews/prometheus with prom-client on Node, Bun and Deno: the built entry (dist/, through the
// package's `exports`, as an npm user imports it) and the source entry (src/, as a JSR user gets
// it), each run as its own process (Bun and Deno from their npm packages, as
// test/runtimes/smoke.test.ts runs them). `npm test` builds dist/ first.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = (name: string): string => join(root, "node_modules", ".bin", name);

/** The script: a decorated miss and hit, an in-flight wait, a second instrument refused, a scrape through metricsHandler. */
const script = (cashews: string, prometheus: string): string => `
import { Cache, CacheConfigError } from ${JSON.stringify(cashews)};
import { instrument, metricsHandler } from ${JSON.stringify(prometheus)};
import { Registry } from "prom-client";
const cache = new Cache("runtime").setup("mem://");
const registry = new Registry();
const stop = instrument(cache, { registry });
const get = cache({ ttl: "1m", key: "u:{id}" })(async (id) => ({ id }));
await get(1);
await get(1);
let open;
const gate = new Promise((r) => (open = r));
const slow = cache({ ttl: "1m", key: "slow" })(async () => (await gate, 1));
const both = Promise.all([slow(), slow()]);
open();
await both;
let twice = "";
try { instrument(cache, { registry }); } catch (e) { twice = e instanceof CacheConfigError ? "CacheConfigError" : String(e); }
const res = await metricsHandler({ registry })(new Request("http://localhost/metrics"));
const text = await res.text();
stop();
await cache.close();
const sample = (name) => (text.match(new RegExp("^" + name + " (\\\\d+)$", "m")) ?? [])[1] ?? null;
console.log(JSON.stringify({
  type: res.headers.get("content-type"),
  hits: sample('cashews_hits_total\\\\{backend="mem",strategy="cache"\\\\}'),
  misses: sample('cashews_misses_total\\\\{backend="mem",strategy="cache"\\\\}'),
  waits: sample('cashews_stampede_wait_seconds_count\\\\{backend="mem",strategy="cache",kind="in-flight"\\\\}'),
  twice,
}));
`;

// Misses: get(1)'s first call, and both slow() calls (the second read the cache, then joined the first).
const EXPECTED = { type: "text/plain; version=0.0.4; charset=utf-8", hits: "1", misses: "3", waits: "1", twice: "CacheConfigError" };

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" };
  delete env.NODE_OPTIONS;
  return new Promise((resolve, reject) =>
    execFile(file, args, { cwd: root, env, timeout: 90_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout: String(stdout), stderr: String(stderr) });
    }),
  );
}

const dir = join(root, ".tmp", `prometheus-runtimes-${process.pid}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes the script under .tmp/ (inside the package, so "cashews" resolves by self-reference). */
function write(name: string, source: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, source);
  return file;
}

const RUNTIMES = {
  node: (file: string) => [process.execPath, [file]] as const,
  bun: (file: string) => [bin("bun"), [file]] as const,
  deno: (file: string) => [bin("deno"), ["run", "--sloppy-imports", "--no-lock", "--allow-env", "--allow-read", file]] as const,
};

describe.concurrent("cashews/prometheus on Node, Bun and Deno", () => {
  for (const [runtime, command] of Object.entries(RUNTIMES)) {
    it(`${runtime}: the built entry (dist/)`, async ({ expect }) => {
      expect(existsSync(join(root, "dist", "prometheus.js")), "run `npm run build` first (npm test does)").toBe(true);
      const [file, args] = command(write(`dist-${runtime}.mjs`, script("cashews", "cashews/prometheus")));
      const out = await run(file, [...args]);
      expect(out.code, `${out.stdout}\n${out.stderr}`).toBe(0);
      expect(JSON.parse(out.stdout.trim().split("\n").pop()!)).toEqual(EXPECTED);
    }, 100_000);

    if (runtime === "node") continue; // Node runs the source through vitest (the other files of this folder)
    it(`${runtime}: the source entry (src/)`, async ({ expect }) => {
      const [file, args] = command(write(`src-${runtime}.ts`, script("../../src/index.ts", "../../src/prometheus/index.ts")));
      const out = await run(file, [...args]);
      expect(out.code, `${out.stdout}\n${out.stderr}`).toBe(0);
      expect(JSON.parse(out.stdout.trim().split("\n").pop()!)).toEqual(EXPECTED);
    }, 100_000);
  }
});
