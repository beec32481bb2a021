// The core (`cashews`) runs on every runtime: bundled for a neutral platform it needs no Node
// built-in, and it never pulls ioredis or @upstash/redis in. `cashews/upstash` runs everywhere too.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build, type BuildOptions, type Metafile } from "esbuild";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const NODE_BUILTIN = /^(node:|(fs|net|tls|crypto|buffer|events|util|stream|async_hooks|os|path|http|https|dns|zlib|child_process)(\/|$))/;

async function bundle(options: BuildOptions): Promise<{ code: string; inputs: string[]; imports: string[] }> {
  const result = await build({
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    metafile: true,
    logLevel: "silent",
    ...options,
  });
  const metafile: Metafile = result.metafile!;
  return {
    code: result.outputFiles![0]!.text,
    inputs: Object.keys(metafile.inputs),
    imports: Object.values(metafile.outputs).flatMap((o) => o.imports.map((i) => i.path)),
  };
}

function expectEdgeSafe({ code, imports }: { code: string; imports: string[] }): void {
  expect(imports.filter((path) => NODE_BUILTIN.test(path))).toEqual([]);
  expect(code).not.toMatch(/\bBuffer\./);
  expect(code).not.toMatch(/\brequire\(/);
}

describe("edge-safe core", () => {
  it("bundles src/index.ts for platform neutral without any Node built-in, ioredis or @upstash/redis", async () => {
    const out = await bundle({ entryPoints: ["src/index.ts"] });
    expect(out.inputs.filter((file) => /node_modules\/(ioredis|@upstash\/redis)\//.test(file))).toEqual([]);
    expectEdgeSafe(out);
  });

  // The observability integrations are entries of their own: the core bundles neither prom-client
  // nor the probe (src/core/probe.ts, the catalog), which only the integrations import.
  it.each(["src/index.ts", "src/core.ts"])("bundles %s without prom-client, src/prometheus or the probe", async (entry) => {
    const out = await bundle({ entryPoints: [entry] });
    expect(out.inputs.filter((file) => /node_modules\/prom-client\/|^src\/prometheus\/|^src\/core\/(probe|catalog)\.ts$/.test(file))).toEqual([]);
    expect(out.imports.filter((path) => /prom-client/.test(path))).toEqual([]);
  });

  // What a user's bundler sees: the built files, reached through the package's `exports` (esbuild
  // resolves "cashews" here by package self-reference). `npm test` builds dist/ first.
  it('bundles the built `import { cache } from "cashews"` for platform neutral the same way', async () => {
    expect(existsSync(`${root}dist/index.js`), "run `npm run build` first").toBe(true);
    const out = await bundle({
      stdin: { contents: 'import { cache } from "cashews"; cache.setup("mem://");', resolveDir: root, loader: "js" },
    });
    expect(out.inputs.filter((file) => !file.startsWith("dist/") && file !== "<stdin>")).toEqual([]);
    expectEdgeSafe(out);
  });

  it("bundles src/upstash.ts for Workers (neutral, workerd conditions) without any Node built-in or ioredis", async () => {
    const out = await bundle({ entryPoints: ["src/upstash.ts"], conditions: ["workerd", "worker", "browser"] });
    expect(out.inputs.some((file) => file.includes("node_modules/@upstash/redis/"))).toBe(true);
    expect(out.inputs.filter((file) => file.includes("node_modules/ioredis/"))).toEqual([]);
    // @upstash/redis (its Node entry, which Workers also get) polyfills atob with Buffer, guarded so it never runs where atob exists.
    const code = out.code.replace(/if \(typeof atob === "undefined"\) \{\s*global\.atob = [^\n]*Buffer\.from[^\n]*\n\}/, "");
    expectEdgeSafe({ ...out, code });
  });

  // Observability stays out of the core: only cashews/otel imports @opentelemetry/api, and the
  // probe and the metric catalog are reached only from the integrations.
  it.each(["src/index.ts", "src/core.ts"])("bundles %s without @opentelemetry, the probe or the metric catalog", async (entry) => {
    const out = await bundle({ entryPoints: [entry] });
    expect(out.inputs.filter((file) => /@opentelemetry|src\/core\/(probe|catalog)\.ts|src\/otel\.ts/.test(file))).toEqual([]);
  });

  it("bundles src/otel.ts for Workers (neutral, workerd conditions) with @opentelemetry/api and no Node built-in", async () => {
    const out = await bundle({ entryPoints: ["src/otel.ts"], conditions: ["workerd", "worker", "browser"] });
    expect(out.inputs.some((file) => file.includes("node_modules/@opentelemetry/api/"))).toBe(true);
    expect(out.inputs.filter((file) => /node_modules\/(ioredis|@upstash\/redis)\//.test(file) || file.includes("src/backends/redis/"))).toEqual([]);
    expectEdgeSafe(out);
  });

  // The platforms' stores: each entry bundles for Workers without a Node built-in or a client
  // library (deno-kv loads @deno/kv only off Deno, by a specifier bundlers do not follow).
  it.each(["src/cloudflare-kv.ts", "src/cloudflare-cache.ts", "src/deno-kv.ts"])("bundles %s for Workers (neutral, workerd conditions) without any Node built-in", async (entry) => {
    const out = await bundle({ entryPoints: [entry], conditions: ["workerd", "worker", "browser"] });
    expect(out.inputs.filter((file) => file.includes("node_modules/"))).toEqual([]);
    expectEdgeSafe(out);
  });
});
