/**
 * Helpers both network backends use, the Redis one (ioredis) and the Upstash one (HTTP): command
 * arguments and option checks. Errors name the backend (`"redis"`, `"upstash"`) as the rest of its
 * messages do. No Node built-in: the Upstash backend runs on Workers.
 * @internal
 * @module
 */
import { parseDuration, type Duration } from "../durations.js";
import { CacheConfigError } from "../errors.js";
import { ruleKey } from "./limits.js";
import type { LimitAnswer, LimitRequest, LimitRule, LimitRuleState } from "./types.js";

/**
 * `options` with its duration options among `names` (ms or a duration string) in ms, as the
 * backend's constructor takes them; a bad duration is a {@link CacheConfigError} naming the option.
 */
export function durationsInMs<N extends string>(
  options: Partial<Record<N, Duration>>,
  names: readonly N[],
  backend: string,
): Record<string, unknown> {
  const converted: Record<string, unknown> = { ...options };
  for (const name of names) {
    const value = options[name];
    if (value === undefined) continue;
    try {
      converted[name] = parseDuration(value);
    } catch (error) {
      throw new CacheConfigError(`${backend}: option "${name}": ${(error as Error).message}`, { cause: error });
    }
  }
  return converted;
}

/** An expiry in ms as a `PX` argument (integer ≥ 1), or `undefined` for "no expiry". */
export function toPx(ms: number | undefined): number | undefined {
  if (ms === undefined || ms === null || !(ms > 0) || !Number.isFinite(ms)) return undefined;
  return Math.max(1, Math.ceil(ms));
}

/** A value as the string stored (the codec encodes values to strings; numbers are accepted as they are). */
export function toText(value: unknown, backend: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  throw new TypeError(`${backend}: values must be strings (encoded by the codec), got ${typeof value}`);
}

/** A duration option in ms: `fallback` when absent, `undefined` for `0` (no bound). */
export function optionalMs(value: unknown, name: string, fallback: number, backend: string): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new CacheConfigError(`${backend}: option "${name}" must be a duration >= 0 (ms), got ${String(value)}`);
  }
  return value === 0 ? undefined : value;
}

/** `SLIDING_INCR`'s arguments: now on this process's clock, the window, the limit, a unique member. */
export function slidingArgs(windowMs: number, limit: number): string[] {
  const now = Date.now();
  const window = Math.max(1, Math.ceil(windowMs));
  return [String(now), String(window), String(limit < 0 || !Number.isFinite(limit) ? -1 : Math.floor(limit)), `${now}-${crypto.randomUUID()}`];
}

/**
 * The TAG_POP script's reply (`[member, score, …]`) as members to check and unchecked ones
 * (score `0`: recorded by an earlier version, see the script).
 */
export function poppedTags(reply: unknown): { members: string[]; unchecked: string[] } {
  const members: string[] = [];
  const unchecked: string[] = [];
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) (String(reply[i + 1]) === "0" ? unchecked : members).push(String(reply[i]));
  return { members, unchecked };
}

/**
 * The keys `LIMIT` (backends/scripts) runs on for `Backend.limit(key, request)`: each rule's key
 * (`ruleKey`) and the ban key (`:ban`), derived from one base so that all of them are in one hash
 * slot on Redis Cluster. The base is the stored key `<namespace>:<key>` when it already holds a
 * non-empty hash tag (`{…}`, e.g. the user key `{user-1}`: then the derived keys are the same as on
 * `mem://`), else `<namespace>:{<key>}`: the user key wrapped in a hash tag (`{~<key>}` when that
 * tag would be empty: a key `""` or starting with `}`). The same layout on a single node and on
 * Upstash (a database moves between them), always under the namespace (so `clear` and
 * `deleteMatch` see the limiter's keys). A namespace holding `{}` leaves the slot to Redis.
 */
export function limitKeys(prefix: string, key: string, rules: readonly LimitRule[]): string[] {
  let base = prefix + key;
  if (hashTag(base) === undefined) base = key === "" || key.startsWith("}") ? `${prefix}{~${key}}` : `${prefix}{${key}}`;
  const keys: string[] = [];
  for (const rule of rules) keys.push(ruleKey(base, rule));
  keys.push(`${base}:ban`);
  return keys;
}

const resolved = Promise.resolve();

/**
 * Runs `fn` as a microtask: a `then` on a settled promise, which costs less than `queueMicrotask`
 * (Node wraps each of those in an async resource) on paths taken once per call.
 * @internal
 */
export function soon(fn: () => void): void {
  void resolved.then(fn);
}

/**
 * Calls `flush` at the end of the callers' tick: after microtask hops while `size()` keeps growing
 * (callers of one tick reach a backend a few awaits deep), at most `maxHops` of them.
 * @internal
 */
export function atTickEnd(size: () => number, flush: () => void, maxHops: number): void {
  let seen = 0;
  let hops = 0;
  const settle = (): void => {
    const now = size();
    if (now !== seen && hops < maxHops) {
      seen = now;
      hops++;
      soon(settle);
      return;
    }
    flush();
  };
  soon(settle);
}

/**
 * How many limit calls one `LIMIT` script runs at most, by default: a tick's calls go out as
 * several scripts, each sent as soon as it is full, so the server and this process work at the
 * same time (the server runs the first scripts while this tick makes the next calls, and their
 * callers go on while it runs the last), where one script of 100 calls would leave each idle in
 * turn (measured on redis://, 100 calls in flight: 32 per script ~1.7× the calls per second of 128).
 */
const MAX_LIMIT_CALLS = 32;
/** How many microtask hops a tick's limit calls wait for more (callers reach us a few awaits deep). */
const MAX_LIMIT_HOPS = 8;

/** The `LIMIT` script's keys and arguments for `calls` (see the script). */
function encode(calls: readonly PendingLimit[]): [keys: readonly string[], args: string[]] {
  if (calls.length === 1) return [calls[0]!.keys, argsOfOne(calls[0]!.request)];
  const keys: string[] = [];
  const args = [String(calls.length)];
  for (const { keys: own, request } of calls) {
    keys.push(...own);
    encodeCall(args, request);
  }
  return [keys, args];
}

/**
 * The `LIMIT` script's arguments for a script of one call: the short form of a lone fixed window
 * (no ban to set, no reset, a cost), else the general one.
 */
function argsOfOne(request: LimitRequest): string[] {
  const rule = request.rules[0]!;
  if (request.rules.length === 1 && rule.algorithm === "fixed" && request.cost > 0 && !request.reset && (request.banMs ?? 0) <= 0) {
    return ["F", String(request.cost), String(rule.limit), String(rule.periodMs)];
  }
  const args = ["1"];
  encodeCall(args, request);
  return args;
}

/** Appends the `LIMIT` script's arguments of one call to `args`. */
function encodeCall(args: string[], request: LimitRequest): void {
  args.push(String(request.cost), String(request.banMs !== undefined && request.banMs > 0 ? Math.ceil(request.banMs) : 0), request.reset ? "1" : "0", String(request.rules.length));
  for (const rule of request.rules) args.push(rule.algorithm === "fixed" ? "f" : rule.algorithm === "sliding" ? "s" : "t", String(rule.limit), String(rule.periodMs), String(rule.refill));
}

/** A limit call waiting for its tick's script. */
interface PendingLimit {
  keys: readonly string[];
  request: LimitRequest;
  resolve(answer: LimitAnswer): void;
  reject(error: unknown): void;
}

/**
 * The limit calls of a network backend (`Backend.limit`): those of one tick run as `LIMIT`
 * scripts (backends/scripts) of `maxCalls` calls at most, each sent as soon as it is full, in issue
 * order, each call exactly as if it ran alone: 100 concurrent calls are 4 commands instead of 100
 * at 32 per script, 7 at 16 (what a store that bills per command charges, and what the server and
 * the connection carry). A call alone in its tick is a script of one call, a few microtask hops later
 * (or at once: see `now`). A call that fails in the script (a key of another type) fails alone;
 * a failed command fails every call it carried.
 * @internal
 */
export class LimitBatcher {
  readonly #run: (keys: readonly string[], args: string[]) => Promise<unknown>;
  readonly #failure: (message: string) => Error;
  readonly #slotOf: () => ((key: string) => number) | undefined;
  readonly #now: ((keys: readonly string[], args: string[]) => Promise<unknown> | undefined) | undefined;
  readonly #max: number;
  #queue: PendingLimit[] = [];
  /** The tick's script is due at its end (`atTickEnd`): calls join the queue. */
  #scheduled = false;
  /** The calls queued in this tick, the full scripts already sent among them. */
  #tickCalls = 0;
  /** A call was sent alone at once in the current tick (reset by a microtask; see `limit`). */
  #soloTick = false;
  /** The last tick that sent a call alone saw more: batch from the first call until a batch holds only one. */
  #batchFirst = false;
  readonly #endSoloTick = (): void => {
    this.#soloTick = false;
  };

  /**
   * @param run sends one `LIMIT` script (EVALSHA, EVAL on NOSCRIPT) and resolves its raw reply.
   * @param failure the error of one call the script failed (its message is the server's).
   * @param slotOf on Redis Cluster, the hash slot of a key: a script carries the calls of one slot.
   * @param now sends one script at once when the connection is ready (undefined when it is not:
   *   the call then waits for its tick like the others). With it, the first call of a tick is
   *   written at once, as the solo GET is (redis/batching.ts): calls made one after another pay
   *   no tick-end wait and no queue; a tick that turns out to hold more makes the next ticks
   *   batch from their first call, until a batch holds one call again.
   * @param maxCalls the most calls in one script (fewer: more commands, more overlap).
   */
  constructor(
    run: (keys: readonly string[], args: string[]) => Promise<unknown>,
    failure: (message: string) => Error,
    slotOf: () => ((key: string) => number) | undefined = () => undefined,
    now?: (keys: readonly string[], args: string[]) => Promise<unknown> | undefined,
    maxCalls = MAX_LIMIT_CALLS,
  ) {
    this.#run = run;
    this.#failure = failure;
    this.#slotOf = slotOf;
    this.#now = now;
    this.#max = maxCalls;
  }

  /** Sends one call (its keys from `limitKeys`) at once, or queues it for this tick's script. */
  limit(keys: readonly string[], request: LimitRequest): Promise<LimitAnswer> {
    if (this.#now !== undefined && !this.#scheduled) {
      if (this.#soloTick) this.#batchFirst = true;
      else if (!this.#batchFirst) {
        const reply = this.#now(keys, argsOfOne(request));
        if (reply !== undefined) {
          this.#soloTick = true;
          soon(this.#endSoloTick);
          return reply.then((reply) => {
            const answer = this.#shaped(reply, 2 + 3 * request.rules.length) ?? this.#answer(reply as unknown[], request, 0);
            if (answer instanceof Error) throw answer;
            return answer;
          });
        }
      }
    }
    return new Promise((resolve, reject) => {
      const queued = this.#queue.push({ keys, request, resolve, reject });
      this.#tickCalls++;
      if (!this.#scheduled) {
        this.#scheduled = true;
        atTickEnd(this.#size, this.#flush, MAX_LIMIT_HOPS);
      } else if (queued === this.#max && this.#slotOf() === undefined) {
        // A full script goes at once: the server runs it while this tick makes the next calls
        // (on Cluster the tick's calls are grouped by slot at its end instead).
        const calls = this.#queue;
        this.#queue = [];
        this.#send(calls);
      }
    });
  }

  /** How many calls this tick made (not the queue's length, which a full script sent empties). */
  readonly #size = (): number => this.#tickCalls;

  /** Sends the calls of the tick (those not sent already in full scripts). */
  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#tickCalls === 1) this.#batchFirst = false;
    this.#tickCalls = 0;
    const calls = this.#queue;
    this.#queue = [];
    const slotOf = this.#slotOf();
    if (slotOf === undefined || calls.length === 1) {
      for (let i = 0; i < calls.length; i += this.#max) this.#send(calls.slice(i, i + this.#max));
      return;
    }
    const bySlot = new Map<number, PendingLimit[]>();
    for (const call of calls) {
      const slot = slotOf(call.keys[0]!);
      const group = bySlot.get(slot);
      if (group === undefined) bySlot.set(slot, [call]);
      else group.push(call);
    }
    for (const group of bySlot.values()) {
      for (let i = 0; i < group.length; i += this.#max) this.#send(group.slice(i, i + this.#max));
    }
  };

  /** One script for `calls`; settles each from its part of the reply. */
  #send(calls: PendingLimit[]): void {
    const [keys, args] = encode(calls);
    let reply: Promise<unknown>;
    try {
      reply = this.#run(keys, args);
    } catch (error) {
      for (const call of calls) call.reject(error);
      return;
    }
    reply.then(
      (reply) => {
        let expected = 0;
        for (const call of calls) expected += 2 + 3 * call.request.rules.length;
        const error = this.#shaped(reply, expected);
        if (error !== undefined) {
          for (const call of calls) call.reject(error);
          return;
        }
        let at = 0;
        for (const call of calls) {
          const answer = this.#answer(reply as unknown[], call.request, at);
          if (answer instanceof Error) call.reject(answer);
          else call.resolve(answer);
          at += 2 + 3 * call.request.rules.length;
        }
      },
      (error: unknown) => {
        for (const call of calls) call.reject(error);
      },
    );
  }

  /** The error of a script's reply that is not an array of `length` items (undefined: it is). */
  #shaped(reply: unknown, length: number): Error | undefined {
    return Array.isArray(reply) && reply.length === length ? undefined : this.#failure(`unexpected LIMIT reply: ${String(reply)}`);
  }

  /** The answer of the call whose part of the script's reply `items` starts at `at`, or the error it failed with. */
  #answer(items: readonly unknown[], request: LimitRequest, at: number): LimitAnswer | Error {
    const rules = request.rules.length;
    const head = items[at];
    if (typeof head === "string" && head !== "0" && head !== "1") return this.#failure(head);
    const states: LimitRuleState[] = [];
    for (let i = 0; i < rules; i++) {
      const base = at + 2 + 3 * i;
      states.push({ remaining: Number(items[base]), resetMs: Number(items[base + 1]), retryMs: Number(items[base + 2]) });
    }
    return { success: Number(head) === 1, states, bannedMs: Number(items[at + 1]) };
  }

  /** Fails the calls waiting for their tick (`close()`). */
  close(): void {
    const calls = this.#queue;
    this.#queue = [];
    const error = this.#failure("the backend was closed");
    for (const call of calls) call.reject(error);
  }
}

/**
 * The hash tag of `key` Redis Cluster hashes instead of the whole key: the text between the
 * first `{` and the next `}`, when not empty; `undefined` otherwise.
 * @example
 * hashTag("{user:1}:profile"); // "user:1"
 * hashTag("a{}b");             // undefined
 */
export function hashTag(key: string): string | undefined {
  const open = key.indexOf("{");
  if (open === -1) return undefined;
  const close = key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}
