/**
 * What every contender of the peer suite shares: the keys, the value shape, the memoised function
 * (it counts its calls: the "loads"), the timing loops and the parent↔child messages.
 */
import { execFileSync } from "node:child_process";

export const KEYS = 1000;
/** In-flight width: calls started together and awaited with Promise.all. */
export const WIDTH = 100;
/** `item:0` … `item:999`: the key every contender stores value(i) under (before its own prefix). */
export const keys: readonly string[] = Array.from({ length: KEYS }, (_, i) => `item:${i}`);

export interface Item {
  id: number;
  name: string;
  tags: string[];
  price: number;
}
export const value = (i: number): Item => ({ id: i, name: `item ${i}`, tags: ["a", "b"], price: i * 1.5 });

/** The loads of this process (one contender per process). */
export const counter = { loads: 0 };

/** The function every contender memoises: it counts every call, so a miss can't hide. */
export async function load(i: number): Promise<Item> {
  counter.loads++;
  return value(i);
}

export type Call = (i: number) => Promise<unknown>;

/** One contender, set up in its child process. */
export interface Instance {
  /** A cached call for argument i (a hit once warmed). */
  call: Call;
  /** The call used for the in-flight measurement, when it differs (raw ioredis with auto-pipelining). */
  callFlight?: Call;
  /** Fills the cache; default: `call(i)` once per key (so 1000 loads). */
  warm?: () => Promise<void>;
  close(): Promise<void>;
}

export interface Env {
  redisUrl?: string;
  /** Redis database of this contender (each contender of a tier gets its own). */
  db?: number;
  upstashUrl?: string;
  upstashToken?: string;
}

export type Factory = (env: Env) => Promise<Instance>;

/** `redis://host:port` + `/db`. */
export const withDb = (url: string, db = 0): string => `${url.replace(/\/\d*$/, "")}/${db}`;

/**
 * A measurement is split into CHUNKS equal chunks, timed one by one; it reports the median chunk
 * (ns per call), so a burst of outside load (a shared machine) spoils one chunk, not the sample.
 */
export const CHUNKS = 10;

/**
 * ns per call of `ops` sequential awaited calls (keys cycle through the 1000). With `tick`, one
 * awaited `tick()` comes before the first chunk and ends each chunk, inside its timing (the edge
 * tier's contenders without I/O: see bench/edge-worker.ts).
 */
export async function sequential(call: Call, ops: number, start = 0, tick?: () => Promise<unknown>): Promise<number> {
  const size = Math.max(1, Math.floor(ops / CHUNKS));
  const chunks: number[] = [];
  if (tick) await tick();
  for (let c = 0; c < CHUNKS; c++) {
    const from = start + c * size;
    const t0 = performance.now();
    for (let n = from; n < from + size; n++) await call(n % KEYS);
    if (tick) await tick();
    chunks.push(((performance.now() - t0) * 1e6) / size);
  }
  return median(chunks);
}

/** ns per call of `ops` calls made WIDTH at a time (each batch awaited with Promise.all); `tick` as in {@link sequential}. */
export async function inFlight(call: Call, ops: number, start = 0, tick?: () => Promise<unknown>): Promise<number> {
  const batches = Math.max(1, Math.floor(ops / WIDTH / CHUNKS));
  const batch: Promise<unknown>[] = new Array(WIDTH);
  const chunks: number[] = [];
  if (tick) await tick();
  for (let c = 0; c < CHUNKS; c++) {
    const from = start + c * batches * WIDTH;
    const t0 = performance.now();
    for (let n = from; n < from + batches * WIDTH; n += WIDTH) {
      for (let j = 0; j < WIDTH; j++) batch[j] = call((n + j) % KEYS);
      await Promise.all(batch);
    }
    if (tick) await tick();
    chunks.push(((performance.now() - t0) * 1e6) / (batches * WIDTH));
  }
  return median(chunks);
}

export const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

// ------------------------------------------------------------------ parent → child → parent

export type ToChild =
  | { type: "init"; tier: string; id: string; env: Env; targetMs: number }
  | { type: "measure" }
  | { type: "burst" }
  | { type: "close" };

export type FromChild =
  | { type: "ready"; warmLoads: number; opsSeq: number; opsFlight: number }
  | { type: "measured"; seq: number; flight: number; loads: number }
  | { type: "burst-done"; loads: number }
  | { type: "error"; message: string };

/** Asks a bench child to close (`message`) and waits for it to exit; killed after 10 s. */
export async function closeChild(proc: import("node:child_process").ChildProcess, message: unknown): Promise<void> {
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.send(message as import("node:child_process").Serializable);
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Which cashews a results file measured: the commit, and whether src/ had uncommitted changes. */
export function gitState(): string {
  const root = new URL("../..", import.meta.url);
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: root, encoding: "utf8" }).trim();
    return `cashews from src/ at ${head}${dirty ? ` plus uncommitted changes to ${dirty.split("\n").length} file(s) under src/` : ""}`;
  } catch {
    return "cashews from src/";
  }
}
