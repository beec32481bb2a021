/**
 * `npm run size`: what `cashews` costs a user's bundle, for the usages that have a budget.
 *
 * Each usage is a few lines of user code bundled with esbuild the way issue 13 defines it
 * (`--bundle --minify --format=esm --platform=neutral`, optional peers external), from the source
 * entries (`cashews` → src/index.ts, `cashews/core` → src/core.ts), then gzipped at level 9.
 * Prints each usage's size against its budget and the source files contributing the most bytes.
 *
 *   npm run size               # every usage and its top 10 contributors
 *   npm run size -- --top 40   # more contributors
 *   npm run size -- --json     # machine-readable
 */
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

/** One measured usage: user code and its gzipped budget. */
export interface Usage {
  name: string;
  /** The user's module; `cashews` and `cashews/core` resolve to the source entries. */
  code: string;
  /** Budget in gzipped bytes (issue 13). */
  budget: number;
  /** Measure the increase over this usage instead of the whole bundle. */
  over?: string;
}

const KB = 1024;

export const USAGES: readonly Usage[] = [
  { name: "parseDuration from cashews", code: `import { parseDuration } from "cashews"; export const ms = parseDuration("1m");`, budget: 1.5 * KB },
  {
    name: "CoreCache + mem:// + one cache() wrapper",
    code: `import { CoreCache } from "cashews/core";
const cache = new CoreCache().setup("mem://");
export const getUser = cache.cache({ ttl: "10m", key: "k:{id}" })(async (id) => ({ id }));`,
    budget: 12 * KB,
  },
  {
    name: "the same + failover (increase)",
    code: `import { CoreCache, failover } from "cashews/core";
const cache = new CoreCache().setup("mem://");
export const getUser = cache.cache({ ttl: "10m", key: "k:{id}" })(async (id) => ({ id }));
export const getRates = failover(cache, { ttl: "1d" })(async function getRates() { return 1; });`,
    budget: 2 * KB,
    over: "CoreCache + mem:// + one cache() wrapper",
  },
  {
    name: "the same + instrument from cashews/prometheus (increase; prom-client external)",
    code: `import { CoreCache } from "cashews/core";
import { instrument, metricsHandler } from "cashews/prometheus";
const cache = new CoreCache().setup("mem://");
export const getUser = cache.cache({ ttl: "10m", key: "k:{id}" })(async (id) => ({ id }));
instrument(cache);
export const metrics = metricsHandler();`,
    budget: 3 * KB,
    over: "CoreCache + mem:// + one cache() wrapper",
  },
  {
    name: "cache from cashews + cache, early, failover",
    code: `import { cache } from "cashews";
cache.setup("mem://");
export const getUser = cache({ ttl: "10m", key: "k:{id}" })(async (id) => ({ id }));
export const getFeed = cache.early({ ttl: "10m", earlyTtl: "7m" })(async function getFeed(id) { return [id]; });
export const getRates = cache.failover({ ttl: "1d" })(async function getRates() { return 1; });`,
    budget: 28 * KB,
  },
];

export interface Contributor {
  /** Source file, relative to the repository root. */
  file: string;
  /** Bytes this file contributes to the minified output. */
  bytes: number;
}

export interface SizeReport {
  name: string;
  minified: number;
  /** Gzipped bytes of the whole bundle (or of the increase, for a usage measured `over` another). */
  gzipped: number;
  budget: number;
  /** Source files by bytes in the minified output (or bytes added, for a usage measured `over` another), largest first. */
  contributors: Contributor[];
}

const root = fileURLToPath(new URL("..", import.meta.url));

/** `cashews`, `cashews/core` and `cashews/prometheus` resolve to the source entries. */
const SOURCES: Readonly<Record<string, string>> = { cashews: "index.ts", "cashews/core": "core.ts", "cashews/prometheus": "prometheus/index.ts" };
const sourceEntries: Plugin = {
  name: "cashews-source",
  setup(b) {
    b.onResolve({ filter: /^cashews(\/core|\/prometheus)?$/ }, (args) => ({ path: `${root}src/${SOURCES[args.path]}` }));
  },
};

async function bundle(code: string): Promise<{ minified: number; gzipped: number; contributors: Contributor[] }> {
  const result = await build({
    stdin: { contents: code, loader: "js", resolveDir: root },
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    minify: true,
    metafile: true,
    logLevel: "silent",
    plugins: [sourceEntries],
    // Optional peers are never part of a user's bundle through these entries; keep them out if one slips in.
    external: ["ioredis", "@upstash/redis", "hono", "prom-client"],
  });
  const output = result.outputFiles[0]!;
  const inputs = Object.values(result.metafile.outputs)[0]!.inputs;
  const contributors = Object.entries(inputs)
    .map(([file, info]) => ({ file, bytes: info.bytesInOutput }))
    .filter((c) => c.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
  return { minified: output.contents.byteLength, gzipped: gzipSync(output.contents, { level: 9 }).byteLength, contributors };
}

/** Bundles and measures every usage. */
export async function measureUsages(): Promise<SizeReport[]> {
  const reports: SizeReport[] = [];
  for (const usage of USAGES) {
    const measured = await bundle(usage.code);
    const base = usage.over === undefined ? undefined : reports.find((r) => r.name === usage.over);
    const before = new Map(base?.contributors.map((c) => [c.file, c.bytes]));
    reports.push({
      name: usage.name,
      minified: measured.minified - (base?.minified ?? 0),
      gzipped: measured.gzipped - (base?.gzipped ?? 0),
      budget: usage.budget,
      contributors: measured.contributors
        .map((c) => ({ file: c.file, bytes: c.bytes - (before.get(c.file) ?? 0) }))
        .filter((c) => c.bytes > 0)
        .sort((a, b) => b.bytes - a.bytes),
    });
  }
  return reports;
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KB`;

async function main(argv: string[]): Promise<void> {
  const topAt = argv.indexOf("--top");
  const top = topAt === -1 ? 10 : Number(argv[topAt + 1]);
  const reports = await measureUsages();
  if (argv.includes("--json")) {
    console.log(JSON.stringify(reports, null, 2));
    return;
  }
  console.log("esbuild --bundle --minify --format=esm --platform=neutral, gzip -9");
  for (const r of reports) {
    const verdict = r.gzipped <= r.budget ? "ok" : "OVER";
    console.log(`\n${r.name}: ${r.gzipped} B gzipped (${kb(r.gzipped)}), ${r.minified} B minified; budget ${kb(r.budget)}: ${verdict}`);
    for (const { file, bytes } of r.contributors.slice(0, top)) console.log(`  ${String(bytes).padStart(7)} B  ${file}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
