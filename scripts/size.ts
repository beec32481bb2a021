/**
 * `npm run size`: how many bytes the `cashews` entry (core, memory backend, decorator) costs a user.
 *
 * Bundles src/index.ts with esbuild (ESM, minified, platform neutral; everything the entry exports is
 * kept, as with `import * as cashews from "cashews"`), then prints the minified size, the gzipped size
 * (node:zlib, level 9) and the source files contributing the most bytes to the output.
 *
 *   npm run size               # summary and the top 15 contributors
 *   npm run size -- --top 40   # more contributors
 *   npm run size -- --json     # machine-readable
 */
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";

/** Budget for the gzipped `cashews` entry, in bytes (15 KB). */
export const GZIP_BUDGET_BYTES: number = 15 * 1024;

export interface Contributor {
  /** Source file, relative to the repository root. */
  file: string;
  /** Bytes this file contributes to the minified output. */
  bytes: number;
}

export interface SizeReport {
  entry: string;
  minified: number;
  gzipped: number;
  /** Source files by bytes in the minified output, largest first. */
  contributors: Contributor[];
}

const root = fileURLToPath(new URL("..", import.meta.url));

/** Bundles and measures `entry` (default: the `cashews` entry, src/index.ts). */
export async function measureSize(entry: string = "src/index.ts"): Promise<SizeReport> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    minify: true,
    metafile: true,
    logLevel: "silent",
    // The backends' peer dependencies are never part of the core; keep them out if one slips in.
    external: ["ioredis", "@upstash/redis"],
  });
  const output = result.outputFiles[0]!;
  const metafile: Metafile = result.metafile;
  const outputMeta = Object.values(metafile.outputs)[0]!;
  const contributors = Object.entries(outputMeta.inputs)
    .map(([file, info]) => ({ file, bytes: info.bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return {
    entry,
    minified: output.contents.byteLength,
    gzipped: gzipSync(output.contents, { level: 9 }).byteLength,
    contributors,
  };
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KB`;
}

async function main(argv: string[]): Promise<void> {
  const topAt = argv.indexOf("--top");
  const top = topAt === -1 ? 15 : Number(argv[topAt + 1]);
  const report = await measureSize();
  if (argv.includes("--json")) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const ok = report.gzipped <= GZIP_BUDGET_BYTES;
  console.log(`cashews (${report.entry}), esbuild --bundle --minify --platform=neutral`);
  console.log(`  minified: ${report.minified} B (${kb(report.minified)})`);
  console.log(`  gzipped:  ${report.gzipped} B (${kb(report.gzipped)}), budget ${kb(GZIP_BUDGET_BYTES)}: ${ok ? "ok" : "OVER"}`);
  console.log(`  top ${top} contributors (minified bytes in output):`);
  for (const { file, bytes } of report.contributors.slice(0, top)) {
    const share = ((bytes / report.minified) * 100).toFixed(1).padStart(5);
    console.log(`  ${String(bytes).padStart(7)} B ${share}%  ${file}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
