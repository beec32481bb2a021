// The built `cashews/testing` entry (dist/testing.js; `npm test` builds dist/ first): it reaches only
// the package's own chunks and vitest (nothing under test/, no other package), it exports the
// conformance suite, and the bundler kept the names of its top-level declarations: a class renamed
// `Boom2` would break the tests of cached errors, which get their class back by name. Static checks
// and one import: the suite itself runs from src/ in test/conformance/.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dist = join(root, "dist");
const entry = join(dist, "testing.js");

/** The static import specifiers of a built module. */
const importsOf = (code: string): string[] => [...code.matchAll(/^import\s*(?:[^'"]*?\sfrom\s*)?['"]([^'"]+)['"]/gm)].map((m) => m[1]!);

/** Every file dist/testing.js loads statically (itself and the chunks it reaches), with its imports. */
function reachable(): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    const imports = importsOf(readFileSync(join(dist, file), "utf8"));
    seen.set(file, imports);
    for (const specifier of imports) if (specifier.startsWith("./")) visit(specifier.slice(2));
  };
  visit("testing.js");
  return seen;
}

/** Every file under `dir`, recursively. */
const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));

describe("dist/testing.js (cashews/testing, built)", () => {
  it("exists and loads only the package's own chunks and vitest", () => {
    expect(existsSync(entry), "run `npm run build` first (npm test does)").toBe(true);
    const files = reachable();
    expect(files.size).toBeGreaterThan(1);
    for (const [file, imports] of files) {
      expect(imports.filter((s) => !/^\.\/chunk-[\w-]+\.js$/.test(s) && !(file === "testing.js" && s === "vitest")), file).toEqual([]);
      expect(readFileSync(join(dist, file), "utf8"), file).not.toMatch(/\btest\/(support|fixtures|conformance)\//);
    }
  });

  it("exports the conformance suite: conformanceSuite, commandSuite, strategySuite", async () => {
    const module = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
    expect(Object.keys(module).sort()).toEqual(["commandSuite", "conformanceSuite", "strategySuite"]);
    for (const value of Object.values(module)) expect(typeof value).toBe("function");
    expect(readFileSync(join(dist, "testing.d.ts"), "utf8")).toMatch(/interface ConformanceTarget\b/);
  });

  it("keeps the name of every top-level declaration of src/testing (no bundler renames)", () => {
    const declared = new Set(
      filesUnder(join(root, "src", "testing")).flatMap((file) =>
        [...readFileSync(file, "utf8").matchAll(/\b(?:class|function\*?|const|let|var)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]!),
      ),
    );
    const top = [...readFileSync(entry, "utf8").matchAll(/^(?:async\s+)?(?:function\*?|class|var|let|const)\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]!);
    expect(top.length).toBeGreaterThan(10);
    expect(top.filter((name) => !declared.has(name))).toEqual([]);
  });
});
