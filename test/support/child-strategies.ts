/**
 * A child process for the cross-process `early` / `rateLimit` / `slidingRateLimit` tests
 * (test/strategies/processes.test.ts): `node --import tsx test/support/child-strategies.ts` with
 *
 * - `REDIS_URL`, `KEY`, `NAMESPACE`, `ROUNDS` (default 1);
 * - `MODE=early`: `N` concurrent callers of `early({ ttl: "10s", earlyTtl: EARLY_MS, key: KEY })`
 *   per round; the function INCRs `<KEY>:executions` (bookkeeping client), sleeps `FN_MS` and
 *   returns `{ gen: <that count>, pid }`; after the burst the child waits `SETTLE_MS` (so that a
 *   background refresh it started finishes) before reporting;
 * - `MODE=rateLimit|slidingRateLimit`: `CALLS` concurrent calls per round of the strategy with
 *   `{ limit: LIMIT, period: PERIOD_MS, key: KEY }`; counts allowed and refused (RateLimitError).
 *
 * Protocol, per round: prints `ready <round>`, waits for a line on stdin (the barrier), runs,
 * prints `result <round> <json>`; exits after the last round. `commands` in a result are the
 * Redis commands this process's cache sent during the round's burst (counted on the wire).
 */
import { countingClient, rawClient } from "./counting-client.js";
import { Cache, RateLimitError } from "../../src/index.js";

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`child-strategies: ${name} is required`);
  return value;
};
const url = env("REDIS_URL");
const key = env("KEY");
const mode = env("MODE");
const rounds = Number(env("ROUNDS", "1"));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const { client, commands } = await countingClient(url);
const cache = new Cache("child").setup(url, { namespace: env("NAMESPACE"), timeout: 5000, client });
const bookkeeping = rawClient(url); // a Cluster for a redis+cluster:// URL
await Promise.all([cache.init(), bookkeeping.connect()]);
const snapshot = (): Record<string, number> => ({ ...commands });
const resetCommands = (): void => {
  for (const name of Object.keys(commands)) delete commands[name];
};

let executedHere = 0;
const fnMs = Number(env("FN_MS", "0"));
const body = async (): Promise<{ gen: number; pid: number }> => {
  executedHere++;
  const gen = await bookkeeping.incr(`${key}:executions`);
  await sleep(fnMs);
  return { gen, pid: process.pid };
};
const limitOptions = () => ({ limit: Number(env("LIMIT")), period: Number(env("PERIOD_MS")), key });
const call: () => Promise<unknown> =
  mode === "early"
    ? cache.early({ ttl: "10s", earlyTtl: Number(env("EARLY_MS")), key })(body)
    : mode === "rateLimit"
      ? cache.rateLimit(limitOptions())(async () => process.pid)
      : mode === "slidingRateLimit"
        ? cache.slidingRateLimit(limitOptions())(async () => process.pid)
        : (() => {
            throw new Error(`child-strategies: unknown MODE ${mode}`);
          })();

for (let round = 1; round <= rounds; round++) {
  process.stdout.write(`ready ${round}\n`);
  await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
  resetCommands();
  const executedBefore = executedHere;
  let result: Record<string, unknown>;
  if (mode === "early") {
    const n = Number(env("N", "50"));
    const latencies: number[] = [];
    const values = await Promise.all(
      Array.from({ length: n }, async () => {
        const started = performance.now();
        const value = await call();
        latencies.push(performance.now() - started);
        return value;
      }),
    );
    const burstCommands = snapshot();
    await sleep(Number(env("SETTLE_MS", "0")));
    result = { pid: process.pid, values, latencies, commands: burstCommands, withRefresh: snapshot(), executedHere: executedHere - executedBefore };
  } else {
    const n = Number(env("CALLS", "20"));
    let allowed = 0;
    let refused = 0;
    const other: string[] = [];
    await Promise.all(
      Array.from({ length: n }, async () => {
        try {
          await call();
          allowed++;
        } catch (error) {
          if (error instanceof RateLimitError) refused++;
          else other.push(String(error));
        }
      }),
    );
    result = { pid: process.pid, allowed, refused, other, commands: snapshot() };
  }
  process.stdout.write(`result ${round} ${JSON.stringify(result)}\n`);
}
process.stdin.pause();
await cache.close();
client.disconnect();
bookkeeping.disconnect();
