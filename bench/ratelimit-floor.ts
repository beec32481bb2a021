/**
 * Where a sequential limit call's time goes on redis:// (issue 18, the sequential columns of the
 * rate-limit tier): cashews' limiter, layer by layer (the limiter, the backend's limit() alone,
 * the limit lane's script call alone: see src/backends/redis/lane.ts), against
 * rate-limiter-flexible and against a bare ioredis EVALSHA of the LIMIT script (no library code
 * at all: the floor of any limiter with these semantics on ioredis). Every variant runs in this
 * one process, in interleaved blocks of sequential calls on one id (the order reversed every
 * other round), so the machine's drift cancels out of the ratios; each variant on its own
 * connection.
 *
 * Run: `node --import tsx bench/ratelimit-floor.ts` (its own redis-server, pinned to the last CPU
 * and this process to the first with `taskset` when there is one). Env: FLOOR_ROUNDS (default 60),
 * FLOOR_BLOCK (calls per block, default 1000). Prints a markdown table: per variant, the median
 * block's µs per call and the median of the per-round ratios of calls per second against
 * rate-limiter-flexible (> 1: faster).
 */
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { Redis } from "ioredis";
import { Cache } from "../src/index.js";
import "../src/redis.js";
import { createRedisBackend } from "../src/backends/redis/backend.js";
import { Lane } from "../src/backends/redis/lane.js";
import { limitKeys } from "../src/backends/remote.js";
import { LIMIT } from "../src/backends/scripts.js";
import type { LimitRule } from "../src/backends/types.js";
import { startRedis } from "../test/support/redis-server.js";

const ROUNDS = Number(process.env.FLOOR_ROUNDS ?? 60);
const BLOCK = Number(process.env.FLOOR_BLOCK ?? 1000);
const LIMIT_PER_MINUTE = 1e9; // every call admitted
const pin = (pid: number, cpu: number): void => {
  try {
    execFileSync("taskset", ["-pc", String(cpu), String(pid)], { stdio: "ignore" });
  } catch {
    // no taskset: unpinned
  }
};

const server = await startRedis();
const cpus = availableParallelism();
if (cpus > 1) {
  pin(server.pid, cpus - 1);
  pin(process.pid, 0);
}
const run = Date.now().toString(36);
const rule: LimitRule = { algorithm: "fixed", limit: LIMIT_PER_MINUTE, periodMs: 60_000, refill: LIMIT_PER_MINUTE };
const { RateLimiterRedis } = await import("rate-limiter-flexible" as string);

const cache = new Cache("floor").setup(server.url);
const limiter = cache.limiter({ algorithm: "fixed", limit: LIMIT_PER_MINUTE, period: "1m", prefix: `lim${run}` });
const backend = createRedisBackend(server.url, { namespace: "floor-backend" });
await backend.init();
const bare = new Redis(server.url);
const { port } = new URL(server.url);
const lane = new Lane({ where: () => ({ host: "127.0.0.1", port: Number(port) }), db: 0, connectTimeout: 2000, onRefused: (error) => console.error(error) });
while (!lane.usable()) await new Promise((resolve) => setTimeout(resolve, 10));
const [windowKey, banKey] = limitKeys("floor-bare:", `bare${run}`, [rule]);
await bare.script("LOAD", LIMIT.lua);
const peerClient = new Redis(server.url);
const peer = new RateLimiterRedis({ storeClient: peerClient, useRedisPackage: false, keyPrefix: `rlf${run}`, points: LIMIT_PER_MINUTE, duration: 60 });

interface Variant {
  name: string;
  call(): Promise<unknown>;
  blocks: number[];
}
const variants: Variant[] = [
  { name: "cashews `cache.limiter`", call: () => limiter.limit("id"), blocks: [] },
  { name: "cashews' redis backend `limit()` alone (no limiter, no core)", call: () => backend.limit(`be${run}`, { rules: [rule], cost: 1 }), blocks: [] },
  { name: "the limit lane's script call alone (the short form; no backend, no limiter)", call: () => lane.script(LIMIT, [windowKey!, banKey!], ["F", "1", String(LIMIT_PER_MINUTE), "60000"]), blocks: [] },
  {
    name: "bare ioredis EVALSHA of LIMIT, the general form",
    call: () => bare.evalsha(LIMIT.sha1, 2, windowKey!, banKey!, "1", "1", "0", "0", "1", "f", String(LIMIT_PER_MINUTE), "60000", "0"),
    blocks: [],
  },
  { name: "bare ioredis EVALSHA of LIMIT, the short form (the floor on ioredis)", call: () => bare.evalsha(LIMIT.sha1, 2, windowKey!, banKey!, "F", "1", String(LIMIT_PER_MINUTE), "60000"), blocks: [] },
  { name: "rate-limiter-flexible `consume`", call: () => peer.consume("id"), blocks: [] },
];

try {
  for (const v of variants) for (let i = 0; i < 3000; i++) await v.call();
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < BLOCK; i++) await v.call();
      v.blocks.push(Number(process.hrtime.bigint() - t0) / BLOCK / 1e3);
    }
  }
  const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const peerBlocks = variants[variants.length - 1]!.blocks;
  console.log(`Sequential limit calls on one id, ${ROUNDS} rounds × ${BLOCK} calls per variant, interleaved in one process${cpus > 1 ? ` (redis-server on CPU ${cpus - 1}, this process on CPU 0)` : ""}.\n`);
  console.log("| variant | µs per call (median block) | × rate-limiter-flexible (calls/s, median of per-round ratios) |");
  console.log("|---|--:|--:|");
  for (const v of variants) console.log(`| ${v.name} | ${median(v.blocks).toFixed(1)} | ${median(v.blocks.map((us, i) => peerBlocks[i]! / us)).toFixed(3)} |`);
} finally {
  await cache.close();
  await backend.close();
  bare.disconnect();
  await lane.close();
  peerClient.disconnect();
  await server.stop();
}
