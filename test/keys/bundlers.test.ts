/**
 * What transpilers and bundlers do to parameter names, through the real pipelines: esbuild's
 * bundler and transform API, vitest's own transform, and a production tsup build (minify).
 * Whatever they do, a key template must either bind correctly or fail loudly at compile time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build as esbuild, transform } from "esbuild";
import { build as tsup } from "tsup";
import { afterAll, describe, expect, it } from "vitest";
import { CacheConfigError } from "../../src/errors.js";
import { compileKey, defaultKey, parameterNames, type KeyBuilder } from "../../src/keys/index.js";
import * as viaVitest from "../fixtures/keys-rename.js";

type Fixture = typeof viaVitest;

const fixture = fileURLToPath(new URL("../fixtures/keys-rename.ts", import.meta.url));
const outRoot = mkdtempSync(join(tmpdir(), "cashews-keys-"));
afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

let counter = 0;
/** Writes compiled code to a temporary .mjs file and imports it. */
async function load(code: string): Promise<Fixture> {
  const file = join(outRoot, `out-${++counter}.mjs`);
  writeFileSync(file, code);
  return (await import(/* @vite-ignore */ pathToFileURL(file).href)) as Fixture;
}

const compile = (template: string, fn: Function, name = fn.name): KeyBuilder =>
  compileKey(template, { name, params: parameterNames(fn) });

function configError(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(CacheConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a CacheConfigError");
}

/** The behaviour every non-minifying esbuild pipeline shows for the fixture. */
function expectShadowingRenamed(mod: Fixture): void {
  const getUser = parameterNames(mod.getUser).names;
  expect(getUser[0]).toMatch(/^user\d+$/);
  expect(getUser[1]).toBe("verbose");
  expect(parameterNames(mod.findUser).names[0]).toMatch(/^user\d+$/);
  expect(parameterNames(mod.Users.prototype.get).names).toEqual([expect.stringMatching(/^user\d+$/), "id"]);
  // the parameter that shadows nothing keeps its name
  expect(parameterNames(mod.getAccount).names).toEqual(["account", "region"]);

  // a template written against the source names binds to the renamed parameter (one candidate) ...
  expect(compile("user:{user.id}", mod.getUser)([{ id: 7 }, true])).toBe("user:7");
  expect(compile("{user}:{id}", mod.Users.prototype.get)(["ada", 3])).toBe("ada:3");
  // ... but two candidates are ambiguous and fail loudly, explaining the rename
  const ambiguous = { name: "f", params: { names: ["user2", "user3"], rest: false } };
  const message = configError(() => compileKey("user:{user.id}", ambiguous));
  expect(message).toContain('uses the placeholder {user.id}, but the function has no parameter "user"');
  expect(message).toContain("Parameters found: user2, user3.");
  expect(message).toContain('"user2" looks like "user" renamed by a transpiler or bundler');
  expect(message).toContain('Refer to arguments by position ("{0}", "{0.id}") or pass a key function');

  // ... and positions, or names that were not renamed, work
  expect(compile("user:{0.id}:{verbose}", mod.getUser)([{ id: 7 }, true])).toBe("user:7:true");
  expect(compile("acct:{account.id}:{region}", mod.getAccount)([{ id: 3 }, "eu"])).toBe("acct:3:eu");
}

describe("parameter renaming by transpilers (fixture: parameters shadowing an imported `user`)", () => {
  it("vitest's own transform renames `user` to `user2`", () => {
    expect(parameterNames(viaVitest.getUser).names).toEqual(["user2", "verbose"]);
    expectShadowingRenamed(viaVitest);
    // the default key therefore carries the compiled name, not the source name
    expect(defaultKey("getUser", parameterNames(viaVitest.getUser))([{ id: 1 }, false])).toBe(
      "getUser:user2:id:1:verbose:false",
    );
  });

  it("esbuild transform (per file, as tsx/vite do) renames the same way", async () => {
    const { code } = await transform(readFileSync(fixture, "utf8"), { loader: "ts", format: "esm", target: "es2022" });
    expect(code).toContain("async function getUser(user2, verbose = false)");
    // evaluate the transformed module with the import rewritten to a local value
    const mod = await load(code.replace(/import \{ user \} from "\.\/keys-shared\.js";/, 'const user = { id: 0 };'));
    expectShadowingRenamed(mod);
  });

  it("esbuild bundle renames too", async () => {
    const result = await esbuild({
      entryPoints: [fixture],
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      target: "es2022",
    });
    const mod = await load(result.outputFiles[0]!.text);
    expectShadowingRenamed(mod);
  });
});

describe("production build: tsup with minify: true", () => {
  async function buildMinified(keepNames: boolean): Promise<Fixture> {
    const outDir = join(outRoot, `tsup-${keepNames ? "keep" : "plain"}`);
    await tsup({
      entry: [fixture],
      format: ["esm"],
      target: "es2022",
      minify: true,
      keepNames,
      outDir,
      silent: true,
      config: false,
      dts: false,
      sourcemap: false,
    });
    return load(readFileSync(join(outDir, "keys-rename.js"), "utf8"));
  }

  it("every parameter is renamed: name templates fail loudly, positions work", async () => {
    const mod = await buildMinified(false);
    const names = parameterNames(mod.getUser).names as string[];
    expect(names).toHaveLength(2);
    expect(names).not.toContain("user");
    expect(names).not.toContain("verbose");
    expect(names.every((n) => n.length <= 2)).toBe(true);

    const message = configError(() => compile("user:{user.id}", mod.getUser, "getUser"));
    expect(message).toContain(`Parameters found: ${names.join(", ")}.`);
    expect(message).toContain("a bundler or minifier may have renamed them");
    expect(() => compile("acct:{account.id}", mod.getAccount, "getAccount")).toThrow(CacheConfigError);

    expect(compile("user:{0.id}:{1}", mod.getUser, "getUser")([{ id: 9 }, true])).toBe("user:9:true");
  });

  it("default keys then carry minified names (fn.name too, unless keepNames)", async () => {
    const plain = await buildMinified(false);
    // the exported binding is `getUser`, but the function itself is called something short
    expect(plain.getUser.name).not.toBe("getUser");
    const [p0, p1] = parameterNames(plain.getUser).names as string[];
    expect(defaultKey(plain.getUser.name, parameterNames(plain.getUser))([{ id: 1 }, true])).toBe(
      `${plain.getUser.name}:${p0}:id:1:${p1}:true`,
    );
    // methods keep their property name, but nothing says which class they belong to
    expect(plain.Users.prototype.get.name).toBe("get");

    const kept = await buildMinified(true);
    expect(kept.getUser.name).toBe("getUser");
    expect(parameterNames(kept.getUser).names).not.toContain("user");
  });
});
