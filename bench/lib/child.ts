/**
 * One contender in its own process (forked by bench/suite.ts with `--import tsx --expose-gc`).
 * On `init` it sets the contender up, fills its cache, checks that every key is now a hit (with the
 * right value) and sizes its measurements to about `targetMs` each; then it answers `measure`
 * (one sequential and one in-flight measurement, with the loads seen meanwhile), `burst` (100
 * concurrent hits, for request counting) and `close`.
 */
import { isDeepStrictEqual } from "node:util";
import { CHUNKS, KEYS, WIDTH, counter, inFlight, sequential, value, type Call, type Factory, type FromChild, type Instance, type ToChild } from "./common.js";

const send = (message: FromChild): void => void process.send!(message);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

let instance: Instance | undefined;
let seqCall: Call;
let flightCall: Call;
let opsSeq = 0;
let opsFlight = 0;
let offset = 0;

async function factoriesOf(tier: string): Promise<Record<string, Factory>> {
  if (tier === "memory") return (await import("../contenders/memory.js")).factories;
  if (tier === "redis") return (await import("../contenders/redis.js")).factories;
  if (tier === "signed") return (await import("../contenders/redis.js")).signedFactories;
  if (tier === "clientside") return (await import("../contenders/redis.js")).clientSideFactories;
  if (tier === "upstash") return (await import("../contenders/upstash.js")).factories;
  throw new Error(`unknown tier ${tier}`);
}

/** Ops (a multiple of `step`, at least `min`) for about targetMs per measurement, from a first run of >= 30 ms. */
async function size(run: (call: Call, ops: number) => Promise<number>, call: Call, targetMs: number, min: number, step: number): Promise<number> {
  let ops = min;
  for (;;) {
    const ns = await run(call, ops);
    if ((ns * ops) / 1e6 >= 30 || ops >= 10_000_000) return Math.max(min, Math.round((targetMs * 1e6) / ns / step) * step);
    ops *= 4;
  }
}

async function init(message: Extract<ToChild, { type: "init" }>): Promise<void> {
  const factory = (await factoriesOf(message.tier))[message.id];
  if (!factory) throw new Error(`no contender ${message.id} in tier ${message.tier}`);
  instance = await factory(message.env);
  seqCall = instance.call;
  flightCall = instance.callFlight ?? instance.call;
  if (instance.warm) await instance.warm();
  else for (let i = 0; i < KEYS; i++) await instance.call(i);
  const warmLoads = counter.loads;
  // Every key must now be a hit that returns value(i), on both call paths.
  for (const call of new Set([seqCall, flightCall])) {
    for (let i = 0; i < KEYS; i++) {
      const got = await call(i);
      if (!isDeepStrictEqual(got, value(i))) throw new Error(`key ${i}: got ${JSON.stringify(got)}, want ${JSON.stringify(value(i))}`);
    }
  }
  if (counter.loads !== warmLoads) throw new Error(`${counter.loads - warmLoads} of the ${KEYS} keys were misses right after warm-up`);
  opsSeq = await size(sequential, seqCall, message.targetMs, 20 * CHUNKS, CHUNKS);
  opsFlight = await size(inFlight, flightCall, message.targetMs, WIDTH * CHUNKS, WIDTH * CHUNKS);
  await sequential(seqCall, opsSeq); // JIT warm-up at the measured size
  await inFlight(flightCall, opsFlight);
  if (counter.loads !== warmLoads) throw new Error(`${counter.loads - warmLoads} loads during the warm-up runs (misses)`);
  send({ type: "ready", warmLoads, opsSeq, opsFlight });
}

async function measure(): Promise<void> {
  const before = counter.loads;
  gc();
  const seq = await sequential(seqCall, opsSeq, offset);
  gc();
  const flight = await inFlight(flightCall, opsFlight, offset);
  offset = (offset + 137) % KEYS;
  send({ type: "measured", seq, flight, loads: counter.loads - before });
}

async function burst(): Promise<void> {
  const before = counter.loads;
  const calls: Promise<unknown>[] = [];
  for (let j = 0; j < WIDTH; j++) calls.push(flightCall((offset + j) % KEYS));
  await Promise.all(calls);
  offset = (offset + WIDTH) % KEYS;
  send({ type: "burst-done", loads: counter.loads - before });
}

process.on("message", (message: ToChild) => {
  const task =
    message.type === "init" ? init(message)
    : message.type === "measure" ? measure()
    : message.type === "burst" ? burst()
    : (async () => {
        await instance?.close();
        process.exit(0);
      })();
  task.catch((error: unknown) => {
    send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});
