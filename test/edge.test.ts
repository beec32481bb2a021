// The core (`cashews`) runs on every runtime: bundled for a neutral platform it needs no Node
// built-in, and it never pulls ioredis in.
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

describe("edge-safe core", () => {
  it("bundles src/index.ts for platform neutral without any Node built-in or ioredis", async () => {
    const result = await build({
      entryPoints: [new URL("../src/index.ts", import.meta.url).pathname],
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((file) => file.includes("node_modules/ioredis"))).toBe(false);
    const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    expect(imports.filter((path) => path.startsWith("node:") || /^(fs|net|tls|crypto|buffer|events|util|stream|async_hooks)$/.test(path))).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/\bBuffer\./);
    expect(code).not.toMatch(/\brequire\(/);
  });
});
