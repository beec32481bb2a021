// Runs the shared runtime smoke set (runtimes/shared/smoke.ts) under Bun (`bun test runtimes/bun`)
// and Deno (`deno test runtimes/deno`) against the library source, with the test Redis (and the
// local Upstash REST server, when src/upstash.ts exists) passed through environment variables.
// No test file's path may contain "runtimes/bun": `bun test runtimes/bun` filters paths by that
// substring, so it would run such a file too (outside vitest, where it fails).
//
// Deno flags: `--sloppy-imports` lets `src/*.ts` keep its `.js`-suffixed relative imports; the
// repository's deno.json and package.json are discovered from the working directory, so npm
// packages (ioredis, @upstash/redis, and @types/node for type checking) resolve from the local
// node_modules ("manual" node_modules mode, Deno's default when a package.json is present): no
// download. `--no-lock` keeps the run from writing deno.lock. Network permission is limited to
// loopback.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, inject, it } from "vitest";
import { SMOKE_ENV, expectedTests } from "../../runtimes/shared/counts.js";
import { startUpstashServer, type UpstashServer } from "../support/upstash-server.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "node_modules", ".bin");
const RUN_TIMEOUT_MS = 110_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  timedOut: boolean;
}

/** Spawns a command in the repository root and collects stdout and stderr (interleaved). */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let timedOut = false;
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, RUN_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, output: stripAnsi(output), timedOut });
    });
  });
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
}

function describeRun(label: string, command: string[], result: Run): string {
  const status = result.timedOut ? `killed after ${RUN_TIMEOUT_MS} ms` : `exit code ${result.code}${result.signal ? ` (${result.signal})` : ""}`;
  return `${label}: ${command.join(" ")} → ${status}\n----- output -----\n${result.output}\n------------------`;
}

/**
 * The local Upstash-compatible REST server, started once the backend (src/upstash.ts) exists;
 * until then the Upstash block of the smoke set is left out.
 */
async function maybeStartUpstash(redisUrl: string): Promise<UpstashServer | undefined> {
  if (!redisUrl || !existsSync(join(ROOT, "src", "upstash.ts"))) return undefined;
  return startUpstashServer({ redisUrl });
}

describe("the runtime smoke set on Bun and Deno (library source)", () => {
  const redisUrl = inject("redisUrl");
  let upstash: UpstashServer | undefined;
  let env: NodeJS.ProcessEnv;
  let expected: number;

  beforeAll(async () => {
    upstash = await maybeStartUpstash(redisUrl);
    env = { ...process.env, NO_COLOR: "1" };
    // Only what this runner provides, never a value from the developer's shell.
    for (const name of Object.values(SMOKE_ENV)) delete env[name];
    delete env.NODE_OPTIONS;
    delete env.FORCE_COLOR;
    if (redisUrl) env[SMOKE_ENV.redisUrl] = redisUrl;
    if (upstash) {
      // The REST server speaks plain http: the `upstash+http://` scheme.
      env[SMOKE_ENV.upstashUrl] = upstash.url.replace(/^http:\/\//, "upstash+http://");
      env[SMOKE_ENV.upstashToken] = upstash.token;
    }
    expected = expectedTests({ redis: Boolean(redisUrl), upstash: Boolean(upstash) });
  }, 60_000);

  afterAll(async () => {
    await upstash?.stop();
  });

  it.concurrent("bun test runtimes/bun passes", async ({ expect }) => {
    const command = [join(BIN, "bun"), "test", "--timeout", "30000", "runtimes/bun"];
    const result = await run(command[0]!, command.slice(1), env);
    const report = describeRun("bun", command, result);
    expect(result.code, report).toBe(0);
    // " 21 pass" / " 0 fail"
    const passed = Number(/^\s*(\d+) pass\b/m.exec(result.output)?.[1] ?? 0);
    const failed = Number(/^\s*(\d+) fail\b/m.exec(result.output)?.[1] ?? -1);
    expect(failed, report).toBe(0);
    expect(passed, `${report}\nexpected at least ${expected} tests to pass`).toBeGreaterThanOrEqual(expected);
  }, 120_000);

  it.concurrent("deno test runtimes/deno passes", async ({ expect }) => {
    const command = [
      join(BIN, "deno"),
      "test",
      "--sloppy-imports",
      "--no-lock",
      "--allow-env",
      "--allow-read",
      "--allow-net=127.0.0.1,localhost",
      "runtimes/deno",
    ];
    const result = await run(command[0]!, command.slice(1), env);
    const report = describeRun("deno", command, result);
    expect(result.code, report).toBe(0);
    // "ok | 5 passed (21 steps) | 0 failed (612ms)": each top-level node:test `describe` is a test,
    // each `it` inside it a step (the smoke set nests no `describe`, so steps = tests).
    const summary = /^ok \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/m.exec(result.output);
    expect(summary, report).not.toBeNull();
    const steps = Number(summary![2] ?? 0);
    expect(Number(summary![3]), report).toBe(0);
    expect(steps, `${report}\nexpected at least ${expected} tests to pass`).toBeGreaterThanOrEqual(expected);
  }, 120_000);
});
