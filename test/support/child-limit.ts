/**
 * A child process for the cross-process `Backend.limit` tests (test/backends/limit/processes.test.ts):
 * `node --import tsx test/support/child-limit.ts` with `CACHE_URL`, `CACHE_OPTIONS` (JSON setup
 * options), `KEY`, `RULES` (JSON `LimitRule[]`), `CALLS`, `COST` (default 1).
 *
 * Prints `ready` once its backend is connected, waits for a line on stdin (the barrier), sends
 * `CALLS` concurrent `limit` calls on its cache's backend, prints
 * `result {"admitted": n, "refused": n, "errors": [...]}` and exits.
 */
import { createInterface } from "node:readline";
import { Cache } from "../../src/index.js";
import "../../src/deno-kv.js"; // registers deno-kv:// (@deno/kv on Node)
import type { LimitRule } from "../../src/backends/types.js";

const cache = new Cache("child-limit").setup(process.env.CACHE_URL!, JSON.parse(process.env.CACHE_OPTIONS ?? "{}") as Record<string, unknown>);
const key = process.env.KEY!;
const rules = JSON.parse(process.env.RULES!) as LimitRule[];
const calls = Number(process.env.CALLS);
const cost = Number(process.env.COST ?? "1");

await cache.init();
const backend = await cache.route(key).start();
// Loads the script into the server (and connects every node) before the barrier.
await backend.limit(`${key}:warm-up`, { rules, cost: 0 });
process.stdout.write("ready\n");
const input = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => input.once("line", () => resolve()));
input.close();
const answers = await Promise.allSettled(Array.from({ length: calls }, () => backend.limit(key, { rules, cost })));
const admitted = answers.filter((a) => a.status === "fulfilled" && a.value.success).length;
const refused = answers.filter((a) => a.status === "fulfilled" && !a.value.success).length;
const errors = answers.flatMap((a) => (a.status === "rejected" ? [String((a.reason as Error)?.message ?? a.reason)] : []));
process.stdout.write(`result ${JSON.stringify({ admitted, refused, errors })}\n`);
await cache.close();
process.exit(0);
