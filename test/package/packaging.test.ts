// Packaging checks on the built package (`npm test` builds dist/ first): publint, are-the-types-wrong,
// `deno publish --dry-run` (JSR, slow types), and user bundles
// made by esbuild from the packed tarball, with the package's `sideEffects` honoured.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Platform } from "esbuild";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = (name: string): string => join(root, "node_modules", ".bin", name);
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<string, unknown>;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; resolves with its exit code and output (never rejects on exit code). */
function run(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd ?? root, env: options.env ?? process.env, timeout: options.timeout ?? 60_000, maxBuffer: 32 << 20 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") return reject(error);
        resolve({ code: error ? (error.code as number) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

// Everything this file writes: the tarball, a consumer project that installs it, and (apart from
// that project, so that no node_modules can be found from there) the bundles it runs.
const work = join(root, ".tmp", `packaging-${process.pid}`);
const consumer = join(work, "consumer");
let outside = "";
let tarball = "";

beforeAll(async () => {
  expect(existsSync(join(root, "dist", "index.js")), "run `npm run build` first (npm test does)").toBe(true);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(consumer, "node_modules", "cashews"), { recursive: true });
  // Its own package.json: otherwise "cashews" would resolve to this repository by self-reference.
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  outside = mkdtempSync(join(tmpdir(), "cashews-bundle-"));
  const packed = await run("npm", ["pack", "--json", "--pack-destination", work]);
  expect(packed.code, packed.stderr).toBe(0);
  const [info] = JSON.parse(packed.stdout) as { filename: string }[];
  tarball = join(work, info!.filename);
  const untar = await run("tar", ["-xzf", tarball, "-C", join(consumer, "node_modules", "cashews"), "--strip-components=1"]);
  expect(untar.code, untar.stderr).toBe(0);
}, 60_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (outside) rmSync(outside, { recursive: true, force: true });
});

describe.concurrent("package metadata and types", () => {
  it("publint reports nothing, suggestions included", async () => {
    const { messages } = await publint({ pkgDir: root, level: "suggestion", strict: true, pack: "npm" });
    expect(messages.map((m) => `${m.type} ${m.code}: ${formatMessage(m, pkg, { color: false })}`)).toEqual([]);
  });

  // ESM only: `node10` resolution (no `exports`) and `require()` from CommonJS are out of scope, which
  // is exactly what the esm-only profile ignores. `--ignore-rules cjs-resolves-to-esm` alone would
  // still fail every subpath (`cashews/redis`) under node10.
  it("are-the-types-wrong is clean for an ESM-only package (--profile esm-only)", async () => {
    const attw = await run(bin("attw"), [tarball, "--profile", "esm-only", "--format", "ascii", "--no-color", "--no-emoji"]);
    expect(attw.code, `${attw.stdout}\n${attw.stderr}`).toBe(0);
    for (const entry of ["cashews", "cashews/redis", "cashews/upstash", "cashews/testing", "cashews/prometheus"]) {
      expect(attw.stdout).toContain(`"${entry}"`);
    }
  });

  it("every export has types and JavaScript in the tarball, and deno.json exports the same entries", () => {
    const exportsMap = pkg.exports as Record<string, string | { types: string; default: string }>;
    const entries = Object.entries(exportsMap).filter(([key]) => key !== "./package.json");
    expect(entries.map(([key]) => key)).toEqual(expect.arrayContaining([".", "./redis", "./upstash"]));
    for (const [key, target] of entries) {
      expect(typeof target === "object" && Object.keys(target), key).toEqual(["types", "default"]);
      const { types, default: js } = target as { types: string; default: string };
      expect(existsSync(join(consumer, "node_modules", "cashews", types)), types).toBe(true);
      expect(existsSync(join(consumer, "node_modules", "cashews", js)), js).toBe(true);
    }
    const denoJson = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as { version: string; exports: Record<string, string> };
    expect(Object.keys(denoJson.exports).sort()).toEqual(entries.map(([key]) => key).sort());
    expect(denoJson.version).toBe(pkg.version);
  });

  // JSR: type check plus the slow-types check of every export, offline (npm: specifiers come from
  // node_modules; the jsr.io registry is never contacted by a dry run).
  it("deno publish --dry-run passes with no slow types", async () => {
    const env = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" };
    const deno = await run(bin("deno"), ["publish", "--dry-run", "--allow-dirty"], { env });
    const output = `${deno.stdout}\n${deno.stderr}`;
    expect(deno.code, output).toBe(0);
    expect(output).toContain("Dry run complete");
    expect(output).not.toMatch(/error\[/);
    const denoJson = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as { exports: Record<string, string> };
    for (const file of Object.values(denoJson.exports)) expect(output).toContain(pathToFileURL(join(root, file)).href);
    expect(output).not.toContain(pathToFileURL(join(root, "test")).href);
  }, 90_000); // ~20 s alone; more while the rest of the suite runs on 2 cores
});

/**
 * Bundles `source` (written into the consumer project, which has the packed tarball installed) with
 * esbuild the way a user's build would (package `exports` and `sideEffects` honoured), writes the
 * bundle to a directory with no node_modules in reach, runs it with Node, and parses its last line.
 */
async function bundleAndRun(
  name: string,
  source: string,
  options: { platform: Platform; conditions?: string[] },
): Promise<{ result: unknown; inputs: string[] }> {
  const entry = join(consumer, `${name}.mjs`);
  writeFileSync(entry, source);
  const outfile = join(outside, `${name}.mjs`);
  const built = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: options.platform,
    ...(options.conditions ? { conditions: options.conditions } : {}),
    target: "es2022",
    metafile: true,
    logLevel: "silent",
    // ioredis is CommonJS: give its bundled require() calls for Node built-ins a real require.
    ...(options.platform === "node"
      ? { banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' } }
      : {}),
  });
  const ran = await run(process.execPath, [outfile], { cwd: outside, timeout: 20_000 });
  expect(ran.code, ran.stderr).toBe(0);
  return { result: JSON.parse(ran.stdout.trim().split("\n").pop()!), inputs: Object.keys(built.metafile.inputs) };
}

/** User code: set up `url` with safe mode off and report how a read fails on a dead server. */
const deadServerProbe = (url: string, extra = ""): string => `
  const cache = new Cache().setup(${JSON.stringify(url)}, { safe: false, timeout: 300${extra} });
  let err = "none";
  try { await cache.get("k"); } catch (e) { err = e instanceof CacheBackendError ? "CacheBackendError" : String(e); }
  await cache.close();
  console.log(JSON.stringify({ err }));
`;

describe.concurrent("user bundles of the packed package (esbuild, sideEffects honoured)", () => {
  it('`import { cache } from "cashews"` bundled for a neutral platform keeps mem:// registered and works', async () => {
    const { result, inputs } = await bundleAndRun(
      "core",
      `
      import { cache } from "cashews";
      cache.setup("mem://");
      let calls = 0;
      const get = cache({ ttl: "1m", key: "u:{id}" })(async (id) => { calls++; return { id }; });
      await get(1); const hit = await get(1);
      await cache.close();
      console.log(JSON.stringify({ calls, hit }));
      `,
      { platform: "neutral" },
    );
    expect(result).toEqual({ calls: 1, hit: { id: 1 } });
    expect(inputs.filter((file) => !file.includes("node_modules/cashews/dist/") && !file.endsWith("core.mjs"))).toEqual([]);
  });

  it('`import { cache } from "cashews"; import "cashews/redis"` registers redis:// eagerly in a bundle', async () => {
    const { result, inputs } = await bundleAndRun(
      "redis-after",
      `import { Cache, CacheBackendError } from "cashews";\nimport "cashews/redis";\n${deadServerProbe("redis://127.0.0.1:1", ", connectTimeout: 300")}`,
      { platform: "node" },
    );
    // A lazy load would fail here ("could not import cashews/redis"): the bundle runs with no package in reach.
    expect(result).toEqual({ err: "CacheBackendError" });
    expect(inputs.some((file) => file.includes("node_modules/ioredis/"))).toBe(true);
  });

  // Importing the backend entry BEFORE "cashews": index.js (cache.ts) runs after redis.js and
  // registers the lazy redisSpec again; registerScheme keeps the eager one.
  it('`import "cashews/redis"` before `import "cashews"` also registers redis:// eagerly in a bundle', async () => {
    const { result } = await bundleAndRun(
      "redis-before",
      `import "cashews/redis";\nimport { Cache, CacheBackendError } from "cashews";\n${deadServerProbe("redis://127.0.0.1:1", ", connectTimeout: 300")}`,
      { platform: "node" },
    );
    expect(result).toEqual({ err: "CacheBackendError" });
  });

  // Workers: the backend must be imported eagerly, and the bundle needs no Node built-in.
  const workers = { platform: "neutral" as const, conditions: ["workerd", "worker", "browser"] };
  const upstashProbe = deadServerProbe("upstash+http://127.0.0.1:1", ', token: "t"');

  it('`import { cache } from "cashews"; import "cashews/upstash"` registers upstash:// eagerly in a Workers bundle', async () => {
    const { result, inputs } = await bundleAndRun(
      "upstash-after",
      `import { Cache, CacheBackendError } from "cashews";\nimport "cashews/upstash";\n${upstashProbe}`,
      workers,
    );
    expect(result).toEqual({ err: "CacheBackendError" });
    expect(inputs.some((file) => file.includes("node_modules/@upstash/redis/"))).toBe(true);
    expect(inputs.some((file) => file.includes("node_modules/ioredis/"))).toBe(false);
  });

  // The same for upstash: the order a Worker is most likely written in.
  it('`import "cashews/upstash"` before `import "cashews"` also registers upstash:// eagerly in a Workers bundle', async () => {
    const { result } = await bundleAndRun(
      "upstash-before",
      `import "cashews/upstash";\nimport { Cache, CacheBackendError } from "cashews";\n${upstashProbe}`,
      workers,
    );
    expect(result).toEqual({ err: "CacheBackendError" });
  });
});
