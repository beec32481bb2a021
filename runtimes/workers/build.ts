// Bundles a Worker the way wrangler would (one ESM file, Workers export conditions), for running in
// workerd through miniflare from the tests. The worker imports the library from src/ (relative
// imports), so the bundle always reflects the current source; test/package/dist.test.ts covers dist/.
import { build, type BuildOptions, type Metafile } from "esbuild";

const root = new URL("../..", import.meta.url).pathname;

/** esbuild options shared by every Worker bundle (wrangler resolves `workerd`, then `worker`, then `browser`). */
export const WORKER_BUILD_OPTIONS = {
  bundle: true,
  write: false,
  format: "esm",
  // Neutral: no Node built-in is assumed. Nothing is marked external, so a `node:*` import anywhere
  // in the graph fails the build instead of failing later in a workerd without nodejs_compat.
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  // workerd's V8 has ES2022+ but no TC39 decorators: esbuild lowers them (and `using`) for this target.
  target: "es2022",
  // As wrangler does by default (`keep_names`): bundling renames colliding identifiers (a function
  // `pageOf` becomes `pageOf2`), which would change default cache keys built from `fn.name`.
  keepNames: true,
  metafile: true,
  logLevel: "silent",
  absWorkingDir: root,
} satisfies BuildOptions;

export interface WorkerBundle {
  code: string;
  metafile: Metafile;
}

/**
 * Bundles `entry` (a path relative to the repository root). `also` lists modules (relative to the
 * root) imported after the entry, e.g. a backend entry that registers its URL scheme eagerly (the
 * order of API.md: `import { cache } from "cashews"; import "cashews/upstash";`).
 */
export async function bundleWorker(entry: string, also: readonly string[] = []): Promise<WorkerBundle> {
  const lines = [entry, ...also].map((file) => `import ${JSON.stringify(`./${file}`)};`);
  const result = await build({
    ...WORKER_BUILD_OPTIONS,
    stdin: {
      contents: `${lines.join("\n")}\nexport { default } from ${JSON.stringify(`./${entry}`)};\n`,
      resolveDir: root,
      sourcefile: "worker-entry.ts",
      loader: "ts",
    },
  });
  return { code: result.outputFiles[0]!.text, metafile: result.metafile! };
}
