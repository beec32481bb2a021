// The layers of DESIGN.md, checked on the source: data flows top to bottom, never back up.
// Runtime imports only: an `import type` is erased and may name a higher layer's type (a strategy
// takes a `CoreCache`).
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const src = join(root, "src");

/** The stack, lowest first: a module may import its own layer and the ones below. */
const STACK: readonly [layer: string, test: (file: string) => boolean][] = [
  ["backends", (f) => f.startsWith("backends/")],
  ["codec", (f) => f.startsWith("codec/")],
  ["core", (f) => f.startsWith("core/")],
  ["decorator", (f) => f.startsWith("wrap/")],
  ["strategies", (f) => f.startsWith("strategies/")],
  ["presets", (f) => f.startsWith("presets/")],
  ["integrations", (f) => f.startsWith("hono/") || f.startsWith("prometheus/") || f === "workers.ts" || f === "otel.ts"],
  ["entries", (f) => ["index.ts", "core.ts", "redis.ts", "upstash.ts", "cloudflare-kv.ts", "cloudflare-cache.ts", "deno-kv.ts"].includes(f)],
  // The conformance suite (cashews/testing), on top: mostly through the `cashews` entry, as a user's
  // test would; a few checks read internals (wrap/registry's wrappedInfo, core/state's TAG_PREFIX).
  ["testing", (f) => f.startsWith("testing/")],
];

/** Beside the stack, used by all: imports only its own kind. */
const SHARED = (f: string): boolean =>
  ["keys/", "context/", "config/"].some((dir) => f.startsWith(dir)) ||
  ["durations.ts", "errors.ts", "options.ts", "conditions.ts", "events.ts", "base64.ts", "schema.ts"].includes(f);

function layerOf(file: string): string {
  if (SHARED(file)) return "shared";
  const found = STACK.find(([, test]) => test(file));
  if (!found) throw new Error(`src/${file} is in no layer: add it to test/architecture/layers.test.ts`);
  return found[0];
}

const rank = (layer: string): number => STACK.findIndex(([name]) => name === layer);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  );
}

/** Relative runtime imports and re-exports of a module, as paths under src/. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+"(\.[^"]+)"|^import\s+"(\.[^"]+)"/gms)) {
    const spec = (match[1] ?? match[2])!;
    found.push(relative(src, join(dirname(file), spec)).replace(/\.js$/, ".ts"));
  }
  return found;
}

const files = sources(src).map((file) => relative(src, file));

describe("layers (DESIGN.md)", () => {
  it("every source file belongs to a layer", () => {
    for (const file of files) expect(() => layerOf(file), file).not.toThrow();
  });

  it("no runtime import goes up the stack, and shared modules import only shared ones", () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      for (const target of runtimeImports(join(src, file))) {
        const to = layerOf(target);
        const ok = from === "shared" ? to === "shared" : to === "shared" || rank(to) <= rank(from);
        if (!ok) wrong.push(`src/${file} (${from}) imports src/${target} (${to})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("the one dynamic import is the lazy loading of backend entries (config/load.ts), named, never a path into src/", () => {
    const dynamic = files.filter((file) => /\bimport\s*\(/.test(readFileSync(join(src, file), "utf8").replace(/^\s*(\*|\/\/).*$/gm, "")));
    expect(dynamic).toEqual(["config/load.ts"]);
  });

  it("no module imports the package by name or with single quotes (the check would not see it)", () => {
    for (const file of files) {
      const text = readFileSync(join(src, file), "utf8");
      expect(text, file).not.toMatch(/^(?:import|export)\s[^;]*?from\s+'/m);
      expect(text, file).not.toMatch(/^(?:import|export)\s[^;]*?from\s+"cashews/m);
    }
  });

  it("the check sees imports (it is not vacuous)", () => {
    expect(runtimeImports(join(src, "presets/cache.ts"))).toContain("strategies/failover.ts");
    expect(runtimeImports(join(src, "strategies/failover.ts"))).not.toContain("presets/core-cache.ts"); // a type import only
    expect(layerOf("strategies/failover.ts")).toBe("strategies");
  });

  it("strategies reach the cache's state through stateOf, never through members of the cache", () => {
    for (const file of files.filter((f) => f.startsWith("strategies/"))) {
      const text = readFileSync(join(src, file), "utf8");
      expect(text, file).not.toMatch(/\bcache\.(core|route|tagKey)\b/);
    }
  });
});
