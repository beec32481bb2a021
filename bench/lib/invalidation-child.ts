/**
 * One side of the invalidation-latency measurement (bench/invalidation.ts), in its own process
 * (forked with `--import tsx`). The writer answers `write` (cache.set, timed); the reader answers
 * `watch` (reads the key once, which must be served by its local copy, then polls `get` in a
 * `setImmediate` loop until the new value shows and reports when). Times are
 * `process.hrtime.bigint()`: CLOCK_MONOTONIC, one clock for every process of the machine.
 */
import { Cache } from "../../src/index.js";
import "../../src/upstash.js";
import { upstashEndpoint, redisConnection } from "../contenders/upstash.js";
import { withDb } from "./common.js";

export type InvalidationKind = "cashews" | "bentocache";
export interface InvalidationEnv {
  upstashUrl: string;
  upstashToken: string;
  redisUrl: string;
  db: number;
}
export type ToSide =
  | { type: "init"; kind: InvalidationKind; env: InvalidationEnv }
  | { type: "write"; key: string; value: number }
  | { type: "watch"; key: string; old: number; want: number; timeoutMs: number }
  | { type: "close" };
export type FromSide =
  | { type: "ready" }
  | { type: "written"; start: number; done: number }
  /** `firstNs`: the first read (before the write), which a local hit answers in well under 100 µs; `at`: when `want` was read. */
  | { type: "watching"; firstNs: number; first: unknown; regressed: boolean }
  /** `readStart`: when the `get` that returned `want` started (the first read after the copy was dropped: the read through). */
  | { type: "seen"; at: number; readStart: number; polls: number; timedOut: boolean }
  | { type: "error"; message: string };

const now = (): number => Number(process.hrtime.bigint());
const send = (message: FromSide): void => void process.send!(message);
const peer = (name: string): Promise<any> => import(name);

interface Side {
  get(key: string): Promise<unknown>;
  set(key: string, value: number): Promise<unknown>;
  close(): Promise<void>;
}
let side: Side | undefined;

async function open(kind: InvalidationKind, env: InvalidationEnv): Promise<Side> {
  if (kind === "cashews") {
    // As the cashews-local row, on its own namespace (own keys, own channel); default bus settings.
    const cache = new Cache("inv").setup(upstashEndpoint(env.upstashUrl), { token: env.upstashToken, namespace: "bench-inv", local: { ttl: "1h" } });
    return {
      get: (key) => cache.get(key),
      set: (key, value) => cache.set(key, value, { expire: "1h" }),
      close: () => cache.close(),
    };
  }
  const { BentoCache, bentostore } = await peer("bentocache");
  const { memoryDriver } = await peer("bentocache/drivers/memory");
  const { redisDriver, redisBusDriver } = await peer("bentocache/drivers/redis");
  const { Redis } = await import("ioredis");
  const client = new Redis(withDb(env.redisUrl, env.db));
  const bento = new BentoCache({
    default: "hybrid",
    stores: {
      hybrid: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 10_000 }))
        .useL2Layer(redisDriver({ connection: client }))
        .useBus(redisBusDriver({ connection: redisConnection(env.redisUrl, env.db) })),
    },
  });
  return {
    get: (key) => bento.get({ key }),
    set: (key, value) => bento.set({ key, value, ttl: "1h" }),
    async close() {
      await bento.disconnectAll();
      client.disconnect();
    },
  };
}

async function watch(key: string, old: number, want: number, timeoutMs: number): Promise<void> {
  const s = side!;
  const t0 = now();
  const first = await s.get(key);
  // `regressed`: the read before the write did not give the value this reader had already seen
  // (`old`): an older value came back. Counted by the parent; the poll goes on regardless.
  send({ type: "watching", firstNs: now() - t0, first, regressed: first !== old });
  const deadline = now() + timeoutMs * 1e6;
  let polls = 0;
  for (;;) {
    const readStart = now();
    const got = await s.get(key);
    polls++;
    const at = now();
    if (got === want) return send({ type: "seen", at, readStart, polls, timedOut: false });
    if (at > deadline) return send({ type: "seen", at, readStart, polls, timedOut: true });
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

process.on("message", (message: ToSide) => {
  const task = (async () => {
    if (message.type === "init") {
      side = await open(message.kind, message.env);
      send({ type: "ready" });
    } else if (message.type === "write") {
      const start = now();
      await side!.set(message.key, message.value);
      send({ type: "written", start, done: now() });
    } else if (message.type === "watch") {
      await watch(message.key, message.old, message.want, message.timeoutMs);
    } else {
      await side?.close();
      process.exit(0);
    }
  })();
  task.catch((error: unknown) => send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
});
