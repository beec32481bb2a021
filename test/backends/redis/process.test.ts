// close() leaves nothing that keeps a process alive: a child process that sets up the Redis
// backend, uses it (its limit lane included) and closes it exits on its own, also when Redis went
// away in between.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, inject, it } from "vitest";
import { startRedis } from "../../support/redis-server.js";

const url = inject("redisUrl");
const root = fileURLToPath(new URL("../../..", import.meta.url));
const entry = pathToFileURL(join(root, "src/redis.ts")).href;
const ioredis = pathToFileURL(join(root, "node_modules/ioredis/built/index.js")).href;
const dir = mkdtempSync(join(tmpdir(), "cashews-exit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SCRIPT = `
import { createRedisBackend } from ${JSON.stringify(entry)};
// db 11: no other test uses it, so the lane CLIENT LIST shows there is this process's.
const backend = createRedisBackend(process.env.REDIS_URL, { namespace: "exit-test", timeout: 300, db: 11 });
await backend.init();
await backend.set("k", "v", 60_000);
if ((await backend.get("k")) !== "v") process.exit(3);
await backend.incr("n", 1, 60_000);
await backend.unlock("lock", "x");
for await (const _ of backend.scan("*", 10)) {}
// Lone limit calls a few ms apart: the limit lane (a second connection) opens and carries them.
const rule = { algorithm: "fixed", limit: 1000, periodMs: 60_000, refill: 1000 };
for (let i = 0; i < 20; i++) {
  await backend.limit("lim", { rules: [rule], cost: 1 });
  await new Promise((resolve) => setTimeout(resolve, 5));
}
const { Redis } = await import(${JSON.stringify(ioredis)});
const admin = new Redis(process.env.REDIS_URL);
const clients = await admin.client("LIST");
admin.disconnect();
if (!clients.split("\\n").some((line) => line.includes(" name=cashews-limits ") && line.includes(" db=11 "))) process.exit(4);
if (process.env.REDIS_GOES_AWAY) {
  // Redis goes away: the client is now between reconnect attempts (a pending timer).
  process.stdout.write("ready\\n");
  await new Promise((resolve) => process.stdin.once("data", resolve));
  process.stdin.destroy();
  await backend.get("k").catch(() => {});
}
if (process.env.CLOSE !== "0") await backend.close();
process.stdout.write("done\\n");
`;

/**
 * Runs the script; resolves its exit code, or "alive" if it still runs `waitMs` after printing
 * "done" (1.5 s: generous, yet shorter than ioredis' default 2 s `disconnectTimeout` timer, which
 * close() must not leave behind).
 */
function run(env: Record<string, string>, waitMs: number, beforeExit?: () => Promise<void>) {
  const file = join(dir, `child-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(file, SCRIPT);
  const child = spawn(process.execPath, ["--import", "tsx", file], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes("ready\n") && beforeExit) {
      const hook = beforeExit;
      beforeExit = undefined;
      void hook().then(() => child.stdin.write("go\n"));
    }
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise<{ result: number | "alive"; output: string; sinceDone: number }>((resolve) => {
    let doneAt = 0;
    child.stdout.on("data", () => {
      if (!doneAt && output.includes("done\n")) doneAt = performance.now();
    });
    const check = setInterval(() => {
      if (doneAt && performance.now() - doneAt > waitMs) {
        clearInterval(check);
        child.kill("SIGKILL");
        resolve({ result: "alive", output, sinceDone: performance.now() - doneAt });
      }
    }, 50);
    const hardStop = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code) => {
      clearInterval(check);
      clearTimeout(hardStop);
      resolve({ result: code ?? -1, output, sinceDone: doneAt ? performance.now() - doneAt : -1 });
    });
  });
}

describe.skipIf(!url)("process exit after close()", () => {
  it("exits on its own once the backend is closed", async () => {
    const { result, output } = await run({ REDIS_URL: url }, 1500);
    expect(output).toContain("done");
    expect(result).toBe(0);
  });

  it("(control) stays alive while the backend is open", async () => {
    const { result, output } = await run({ REDIS_URL: url, CLOSE: "0" }, 1500);
    expect(output).toContain("done");
    expect(result).toBe("alive");
  });

  it("exits on its own when closed while Redis is down and reconnecting", async () => {
    const redis = await startRedis();
    try {
      const { result, output } = await run({ REDIS_URL: redis.url, REDIS_GOES_AWAY: "1" }, 1500, () => redis.stop());
      expect(output).toContain("done");
      expect(result).toBe(0);
    } finally {
      await redis.stop();
    }
  });
});
