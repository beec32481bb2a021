// Stampede benchmark for `cache({ ttl, lock: true })` on Redis: a cold key, 4 processes × 250
// concurrent callers, a function that takes FN_MS (200 ms). Prints how many times the function
// ran (must be 1), the Redis commands the waiters sent, and caller latency against the function's
// own duration. Run: `node --import tsx bench/stampede.ts` (REDIS_URL to use a running server,
// else a throw-away redis-server is started). Two rows: the default (in-process single-flight,
// so one lock attempt per process) and `protected: false` (every caller polls Redis itself).
import { Redis } from "ioredis";
import { parseCommandStats, runChildren } from "../test/support/child-run.js";
import { startRedis, type RedisServer } from "../test/support/redis-server.js";

const PROCESSES = Number(process.env.PROCESSES ?? 4);
const CALLERS = Number(process.env.CALLERS ?? 250);
const FN_MS = Number(process.env.FN_MS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

const owned: RedisServer | undefined = process.env.REDIS_URL ? undefined : await startRedis();
const url = process.env.REDIS_URL ?? owned!.url;
const admin = new Redis(url);

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);

interface Row {
  executions: number;
  waiterCommands: number;
  waiters: number;
  waitingProcesses: number;
  server: number;
  p50: number;
  p99: number;
  max: number;
}

async function round(protect: boolean, n: number): Promise<Row> {
  const key = `bench:stampede:${Date.now()}:${n}`;
  const results = await runChildren(
    PROCESSES,
    () => ({ REDIS_URL: url, NAMESPACE: "bench", KEY: key, MODE: "stampede", N: String(CALLERS), FN_MS: String(FN_MS), PROTECTED: protect ? "1" : "0" }),
    async () => void (await admin.config("RESETSTAT")),
  );
  const stats = parseCommandStats(await admin.info("commandstats"));
  const executions = Number(await admin.get(`${key}:executions`));
  const values = results.flatMap((r) => r.values as unknown[]);
  const first = JSON.stringify(values[0]);
  if (values.length !== PROCESSES * CALLERS || values.some((v) => JSON.stringify(v) !== first)) throw new Error("not every caller got the winner's value");
  const latencies = results.flatMap((r) => r.latencies as number[]).sort((a, b) => a - b);
  const commands = (r: Record<string, unknown>): number => sum(Object.values(r.commands as Record<string, number>));
  // Waiters: every caller but the one that computed (in the winner's process, the other callers
  // joined its in-process flight, so its commands are the winner's).
  const waitingProcesses = results.filter((r) => r.executedHere !== 1);
  const winner = results.find((r) => r.executedHere === 1);
  // Without protection every caller locks on its own: the winner's own commands are its SET NX,
  // re-read GET, value SET and unlock (EVALSHA, plus EVAL while the script is not cached); the
  // first read is one MGET shared by every caller of its process.
  const unlock = (winner?.commands as Record<string, number> | undefined) ?? {};
  const waiterCommands = protect
    ? sum(waitingProcesses.map(commands))
    : sum(results.map(commands)) - 3 - (unlock.evalsha ?? 0) - (unlock.eval ?? 0);
  const waiters = protect ? waitingProcesses.length * CALLERS : PROCESSES * CALLERS - 1;
  const server = sum(Object.entries(stats).filter(([name]) => name !== "info" && name !== "config|resetstat").map(([, calls]) => calls));
  await admin.del(key, `${key}:executions`);
  return {
    executions,
    waiterCommands,
    waiters,
    waitingProcesses: waitingProcesses.length,
    server,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies[latencies.length - 1]!,
  };
}

console.log(`cache({ ttl: "1m", lock: true }) stampede on a cold key: ${PROCESSES} processes × ${CALLERS} callers, function ${FN_MS} ms, Redis at ${url.replace(/\/\/.*@/, "//")}`);
console.log(`(${ROUNDS} rounds each; node ${process.version})\n`);
try {
  for (const protect of [true, false]) {
    console.log(protect ? "protected: true (default: one lock attempt per process)" : "protected: false (every caller waits on Redis itself)");
    for (let n = 0; n < ROUNDS; n++) {
      const r = await round(protect, n);
      const perWaiter = r.waiterCommands / r.waiters;
      const perProcess = protect ? `, ${(r.waiterCommands / r.waitingProcesses).toFixed(1)} per waiting process` : "";
      console.log(
        `  round ${n + 1}: executions=${r.executions}  waiter redis commands=${r.waiterCommands} (${perWaiter.toFixed(3)} per waiter${perProcess})  ` +
          `server commands=${r.server}  latency p50=${r.p50.toFixed(0)} ms p99=${r.p99.toFixed(0)} ms max=${r.max.toFixed(0)} ms  ` +
          `p99/fn=${(r.p99 / FN_MS).toFixed(2)}×`,
      );
      if (r.executions !== 1) process.exitCode = 1;
    }
  }
} finally {
  admin.disconnect();
  await owned?.stop();
}
