/**
 * Harness for the public HTTP caching conformance suite `http-cache-tests` (cache-tests.fyi) run
 * against `cacheResponse` of `cashews/hono`:
 *
 * - {@link startOrigin}: the suite's origin server (`server/server.mjs`) as a child process.
 * - {@link startProxy}: the caching reverse proxy example (runtimes/shared/proxy.ts: `cacheResponse`
 *   in front of a handler forwarding the request to the origin) on `@hono/node-server`.
 * - {@link runSuite}: the suite's runner (`cli.mjs`) against the proxy, its JSON results parsed.
 * - {@link score}: per-test outcomes and counts (the counting rule below), {@link publishedResults}:
 *   the results of other caches that ship with the package.
 * - {@link runConformance}: all of it in one call (origin, proxy, runner, teardown).
 *
 * Counting rule (the same for every implementation): tests of `tests/index.mjs` only (the runner
 * also runs `tests/surrogate-control.mjs`, left out here), minus `browser_only` ones and those of
 * kind `"check"`; a test passes when its result is exactly `true`; counted per kind (`required`,
 * the default kind, and `optimal`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { CoreCache } from "../../src/core.js";
import "../../src/redis.js";
import { createProxy } from "../../runtimes/shared/proxy.js";
import { freePort } from "./redis-server.js";

/** Folder of the installed `http-cache-tests` package. */
export const SUITE_DIR = dirname(createRequire(import.meta.url).resolve("http-cache-tests/package.json"));

/** Version of the installed suite. */
export const SUITE_VERSION: string = (JSON.parse(readFileSync(join(SUITE_DIR, "package.json"), "utf8")) as { version: string }).version;

/** Implementations whose results ship with the package (`results/<name>.json`). */
export const PUBLISHED = ["apache", "squid", "varnish", "trafficserver", "nginx", "fastly", "nuster"] as const;

/** One test's raw result as the runner prints it: `true`, or `[errorName, message]` (other shapes tolerated). */
export type RawResult = true | [string, string] | unknown;
export type RawResults = Record<string, RawResult>;

export interface RunningProcess {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for a child to exit (at most `ms`), SIGKILLing it after that. */
async function kill(child: ChildProcess, ms = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts the suite's origin server on a free port; resolves once it prints that it listens.
 * `stop()` kills it and removes its pid file's folder.
 */
export async function startOrigin(options: { readyTimeoutMs?: number } = {}): Promise<RunningProcess> {
  const timeout = options.readyTimeoutMs ?? 10_000;
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "cashews-hct-"));
    const child = spawn(process.execPath, ["--no-warnings", join(SUITE_DIR, "server", "server.mjs")], {
      cwd: dir,
      env: {
        ...process.env,
        npm_config_port: String(port),
        npm_config_protocol: "http",
        npm_config_pidfile: join(dir, "server.pid"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`origin did not listen within ${timeout} ms: ${output}`)), timeout);
        const onData = (chunk: Buffer): void => {
          output += chunk.toString();
          if (output.includes("Listening on")) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout!.on("data", onData);
        child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.once("error", (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.once("exit", (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`origin exited (${code ?? signal}) before listening: ${output}`));
        });
      });
    } catch (error) {
      lastError = error;
      await kill(child);
      rmSync(dir, { recursive: true, force: true });
      if (!/EADDRINUSE/.test(output)) throw error;
      continue;
    }
    // From here on the server logs every request: keep draining the pipes so it never blocks.
    child.stdout!.resume();
    child.stderr!.resume();
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      async stop() {
        await kill(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw lastError;
}

export interface Proxy extends RunningProcess {
  cache: CoreCache;
  /** Errors the cache reported (`error` events) since start. */
  errors: unknown[];
  /** Requests answered 502 because forwarding failed (`METHOD path: error`). */
  upstreamErrors: string[];
}

/**
 * Starts the caching reverse proxy (`createProxy` of runtimes/shared/proxy.ts) in this process, on
 * 127.0.0.1, a free port. `cacheUrl` is a `mem://` or `redis://` URL, `setupOptions` go to
 * `cache.setup` (e.g. a `namespace` for a shared Redis).
 */
export async function startProxy(options: { origin: string; cacheUrl: string; setupOptions?: Record<string, unknown> }): Promise<Proxy> {
  const cache = new CoreCache().setup(options.cacheUrl, options.setupOptions);
  const errors: unknown[] = [];
  cache.on("error", (info) => errors.push(info));
  await cache.init();
  const app = createProxy(options.origin, cache);
  // The origin closes the connection without answering for a few of its own test setups (e.g. a
  // `Content-Length` that does not match the body): answer 502 like a gateway, quietly.
  const upstreamErrors: string[] = [];
  app.onError((error, c) => {
    upstreamErrors.push(`${c.req.method} ${new URL(c.req.url).pathname}: ${String((error as { cause?: unknown }).cause ?? error)}`);
    return c.text("Bad Gateway", 502);
  });
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) =>
      resolve({ server, port: info.port }),
    );
    server.once("error", reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cache,
    errors,
    upstreamErrors,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets of the runner would hold `close` open.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await cache.clear().catch(() => undefined);
      await cache.close();
    },
  };
}

/** Runs the suite's runner against `base` (all tests) and returns its parsed JSON results. */
export async function runSuite(base: string, options: { timeoutMs?: number } = {}): Promise<RawResults> {
  const timeout = options.timeoutMs ?? 110_000;
  const child = spawn(process.execPath, ["--no-warnings", join(SUITE_DIR, "cli.mjs")], {
    cwd: SUITE_DIR,
    env: {
      ...process.env,
      npm_config_base: base,
      // Both must be empty, else the runner runs the single test named by them ("undefined").
      npm_config_id: "",
      npm_package_config_id: "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
  const code = await new Promise<number | string>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (c, signal) => resolve(c ?? signal ?? "?"));
  });
  clearTimeout(timer);
  const start = stdout.indexOf("{");
  if (code !== 0 || start < 0) {
    throw new Error(`http-cache-tests runner failed (exit ${code}): ${stderr.slice(-2000)}${stdout.slice(-2000)}`);
  }
  try {
    return JSON.parse(stdout.slice(start)) as RawResults;
  } catch (error) {
    throw new Error(`http-cache-tests runner printed no JSON: ${String(error)}: ${stdout.slice(0, 500)}`);
  }
}

export type Kind = "required" | "optimal";

export interface SuiteTest {
  id: string;
  name: string;
  suite: string;
  kind: Kind;
}

interface RawTest {
  id: string;
  name?: string;
  kind?: string;
  browser_only?: boolean;
}

/** The counted tests of `tests/index.mjs` (no `browser_only`, no kind `"check"`), in suite order. */
export async function countedTests(): Promise<SuiteTest[]> {
  const url = new URL(`file://${join(SUITE_DIR, "tests", "index.mjs")}`).href;
  const suites = (await import(url)).default as { name: string; id: string; tests: RawTest[] }[];
  const out: SuiteTest[] = [];
  for (const suite of suites) {
    for (const test of suite.tests) {
      if (test.browser_only) continue;
      const kind = test.kind ?? "required";
      if (kind === "check") continue;
      if (kind !== "required" && kind !== "optimal") throw new Error(`unknown kind ${kind} of ${test.id}`);
      out.push({ id: test.id, name: test.name ?? test.id, suite: suite.name, kind });
    }
  }
  return out;
}

export interface Outcome extends SuiteTest {
  pass: boolean;
  /** The failure, `"<errName>: <message>"`, or `"no result"`; undefined when passing. */
  message?: string;
}

export interface Score {
  outcomes: Outcome[];
  required: number;
  requiredTotal: number;
  optimal: number;
  optimalTotal: number;
}

/** The failure message of a raw result. */
export function messageOf(result: RawResult): string {
  if (result === undefined) return "no result";
  if (Array.isArray(result)) return result.filter((part) => part !== undefined && part !== "").join(": ");
  return JSON.stringify(result);
}

/** Scores raw results by the counting rule (see the module comment). */
export function score(results: RawResults, tests: SuiteTest[]): Score {
  const out: Score = { outcomes: [], required: 0, requiredTotal: 0, optimal: 0, optimalTotal: 0 };
  for (const test of tests) {
    const result = results[test.id];
    const pass = result === true;
    out.outcomes.push(pass ? { ...test, pass } : { ...test, pass, message: messageOf(result) });
    if (test.kind === "required") {
      out.requiredTotal++;
      if (pass) out.required++;
    } else {
      out.optimalTotal++;
      if (pass) out.optimal++;
    }
  }
  return out;
}

/** The published results of `name` (`results/<name>.json` of the package). */
export function publishedResults(name: string): RawResults {
  return JSON.parse(readFileSync(join(SUITE_DIR, "results", `${name}.json`), "utf8")) as RawResults;
}

export interface ConformanceRun extends Score {
  raw: RawResults;
  /** Cache errors reported during the run. */
  errors: unknown[];
  /** Requests the proxy answered 502 because forwarding failed. */
  upstreamErrors: string[];
  ms: number;
}

/**
 * The whole run: origin, proxy on `cacheUrl`, the suite against the proxy, scored; everything
 * stopped afterwards (also on failure).
 */
export async function runConformance(options: {
  cacheUrl: string;
  setupOptions?: Record<string, unknown>;
  timeoutMs?: number;
}): Promise<ConformanceRun> {
  const started = Date.now();
  const tests = await countedTests();
  const origin = await startOrigin();
  try {
    const proxy = await startProxy({ origin: origin.url, ...options });
    try {
      const raw = await runSuite(`${proxy.url}`, { timeoutMs: options.timeoutMs });
      // Let in-flight cache writes (fire-and-forget on some paths) settle before closing.
      await sleep(50);
      return { ...score(raw, tests), raw, errors: proxy.errors, upstreamErrors: proxy.upstreamErrors, ms: Date.now() - started };
    } finally {
      await proxy.stop();
    }
  } finally {
    await origin.stop();
  }
}

/** Expected outcome of one test in the committed list. */
export type Expectation = "pass" | "fail" | "flaky";

/**
 * Tests whose outcome is not stable from run to run, with the reason: the expected list marks them
 * "flaky" (written so by `--update`) and they are not compared.
 */
export const FLAKY: Record<string, string> = {};

/** The expected list a run gives (FLAKY tests marked "flaky"). */
export function expectedFrom(outcomes: Outcome[]): Record<string, Expectation> {
  const out: Record<string, Expectation> = {};
  for (const outcome of outcomes) out[outcome.id] = outcome.id in FLAKY ? "flaky" : outcome.pass ? "pass" : "fail";
  return out;
}

/** Serializes an expected list: one test per line, sorted by id. */
export function formatExpected(expected: Record<string, Expectation>): string {
  const ids = Object.keys(expected).sort();
  return `{\n${ids.map((id) => `  ${JSON.stringify(id)}: ${JSON.stringify(expected[id])}`).join(",\n")}\n}\n`;
}

/** Path of the committed expected list. */
export const EXPECTED_FILE = join(dirname(new URL(import.meta.url).pathname), "..", "hono", "http-cache-conformance.expected.json");

export function readExpected(): Record<string, Expectation> {
  return JSON.parse(readFileSync(EXPECTED_FILE, "utf8")) as Record<string, Expectation>;
}

export interface Comparison {
  /** Expected to pass, failed now (with the failure message). */
  regressed: Outcome[];
  /** Expected to fail, pass now. */
  improved: Outcome[];
  /** Counted tests missing from the expected list. */
  unknown: Outcome[];
  /** Ids in the expected list that are no counted test. */
  stale: string[];
}

/** Compares a run with the expected list; `flaky` entries are not compared. */
export function compare(outcomes: Outcome[], expected: Record<string, Expectation>): Comparison {
  const out: Comparison = { regressed: [], improved: [], unknown: [], stale: [] };
  const seen = new Set<string>();
  for (const outcome of outcomes) {
    seen.add(outcome.id);
    const want = expected[outcome.id];
    if (want === undefined) out.unknown.push(outcome);
    else if (want === "pass" && !outcome.pass) out.regressed.push(outcome);
    else if (want === "fail" && outcome.pass) out.improved.push(outcome);
  }
  out.stale = Object.keys(expected).filter((id) => !seen.has(id));
  return out;
}
