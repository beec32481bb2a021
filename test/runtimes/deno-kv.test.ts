// Runs runtimes/bun/deno-kv.test.ts under Bun (@deno/kv) and runtimes/deno/deno-kv.test.ts under
// Deno (`deno test`), the deno-kv:// backend on
// `Deno.openKv` itself, against the library source, on a database file in a fresh temporary
// directory (removed after). Flags: `--unstable-kv` (Deno.openKv is unstable), write access to that
// directory only, `--sloppy-imports` and `--no-lock` as in test/runtimes/smoke.test.ts (npm packages
// resolve from the local node_modules: no download).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const RUN_TIMEOUT_MS = 110_000;
/** The `it` calls of the Deno KV blocks in runtimes/deno/deno-kv.test.ts (the backend, and `local`). */
const EXPECTED_STEPS = 9;

/** Runs `command args` in the repository root with CASHEWS_DENO_KV_DIR=`dir`; resolves its exit code and output. */
function run(command: string, args: string[], dir: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CASHEWS_DENO_KV_DIR: dir };
  delete env.NODE_OPTIONS;
  delete env.FORCE_COLOR;
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.once("close", (exit) => {
      clearTimeout(timer);
      done({ code: exit, output: text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "") }); // eslint-disable-line no-control-regex
    });
  });
}

describe("deno-kv:// on Bun (runtimes/bun/deno-kv.test.ts, through @deno/kv)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cashews-denokv-bun-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("bun test runtimes/bun/deno-kv.test.ts passes (not skipped)", async () => {
    const args = ["test", "--timeout", "30000", "runtimes/bun/deno-kv.test.ts"];
    const { code, output } = await run(BUN, args, dir);
    const report = `bun ${args.join(" ")} → exit ${code}\n----- output -----\n${output}\n------------------`;
    expect(code, report).toBe(0);
    expect(Number(/^\s*(\d+) pass\b/m.exec(output)?.[1] ?? 0), report).toBe(1);
    expect(Number(/^\s*(\d+) skip\b/m.exec(output)?.[1] ?? 0), report).toBe(0);
  }, 120_000);
});

describe("deno-kv:// on Deno (runtimes/deno/deno-kv.test.ts)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cashews-denokv-deno-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("deno test --unstable-kv runtimes/deno/deno-kv.test.ts passes every step", async () => {
    const args = ["test", "--sloppy-imports", "--no-lock", "--unstable-kv", "--allow-env", "--allow-read", `--allow-write=${dir}`, "runtimes/deno/deno-kv.test.ts"];
    const { code, output } = await run(DENO, args, dir);
    const report = `deno ${args.join(" ")} → exit ${code}\n----- output -----\n${output}\n------------------`;
    expect(code, report).toBe(0);
    // "ok | 2 passed (9 steps) | 0 failed | 1 ignored": the KV blocks ran (not skipped), every step passed.
    const summary = /^ok \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/m.exec(output);
    expect(summary, report).not.toBeNull();
    expect(Number(summary![3]), report).toBe(0);
    expect(output, report).not.toMatch(/deno-kv:\/\/ on Deno \(Deno\.openKv\) \.\.\. ignored/);
    expect(output, report).not.toMatch(/deno-kv:\/\/ with local on Deno[^\n]*\.\.\. ignored/);
    expect(Number(summary![2] ?? 0), report).toBe(EXPECTED_STEPS);
  }, 120_000);
});
