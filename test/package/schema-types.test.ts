// The `schema` option in the built package (`npm test` builds dist/ first): the declarations carry
// their own copy of the Standard Schema types (no dependency on @standard-schema/spec, nor on any
// schema library), and a user's zod, valibot and arktype schemas type-check against them.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dist = join(root, "dist");

describe("schema in dist/", () => {
  it("no built file imports @standard-schema/spec or a schema library", () => {
    const files = readdirSync(dist).filter((f) => /\.(m?js|d\.ts)$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      // TSDoc examples may show `import { z } from "zod"`: only code counts.
      const text = readFileSync(join(dist, file), "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
      expect(text, file).not.toMatch(/(from\s*|import\s*\(\s*|require\s*\(\s*)["'](@standard-schema\/spec|zod|valibot|arktype)["']/);
    }
  });

  it("zod, valibot and arktype schemas type-check against the declarations, which resolve without @standard-schema/spec", () => {
    const work = join(root, ".tmp", "schema-types");
    mkdirSync(work, { recursive: true });
    const file = join(work, "user.ts");
    writeFileSync(
      file,
      `import { cache, SchemaError, type StandardSchemaV1 } from "cashews";
import { z } from "zod";
import * as v from "valibot";
import { type } from "arktype";

const User = z.object({ id: z.string() });
export const getUser = cache({ ttl: "1h", key: "user:{id}", schema: User, strict: true })(async (id: string) => ({ id }));
export const getV = cache.early({ ttl: "1h", schema: v.object({ id: v.string() }) })(async function getV(id: string) { return { id }; });
export const getA = cache.soft({ ttl: "1h", schema: type({ id: "string" }) })(async function getA(id: string) { return { id }; });
export async function read(): Promise<{ id: string }> {
  const user = await cache.getOrSet("user:1", () => ({ id: "1" }), { schema: User });
  return user;
}
export const s: StandardSchemaV1<unknown, { id: string }> = User;
export const isSchemaError = (e: unknown): boolean => e instanceof SchemaError && e.issues.length > 0;
cache.on("invalid", ({ issues }) => issues?.map((i) => i.message));
// @ts-expect-error: not a Standard Schema
cache({ ttl: "1h", schema: "user" });
`,
    );
    const program = ts.createProgram([file], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.esnext.disposable.d.ts", "lib.esnext.decorators.d.ts"],
      strict: true,
      noEmit: true,
      types: [],
      baseUrl: root,
      // The package as a user gets it; @standard-schema/spec mapped to nothing: needing it would fail.
      paths: { cashews: [join(dist, "index.d.ts")], "@standard-schema/spec": [join(work, "missing.d.ts")] },
      skipLibCheck: true,
    });
    const errors = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file === undefined || d.file.fileName === file || d.file.fileName.startsWith(dist))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(errors).toEqual([]);
  });
});
