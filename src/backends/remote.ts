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
  if (!hasHashTag(base)) base = key === "" || key.startsWith("}") ? `${prefix}{~${key}}` : `${prefix}{${key}}`;
  return [...rules.map((rule) => ruleKey(base, rule)), `${base}:ban`];
}

/** Whether Redis Cluster hashes `key` by a non-empty `{…}` inside it. */
function hasHashTag(key: string): boolean {
  const open = key.indexOf("{");
  if (open < 0) return false;
  const close = key.indexOf("}", open + 1);
  return close > open + 1;
}

/** `LIMIT`'s arguments: the cost, the ban, reset, then algorithm, limit, period and refill per rule. */
export function limitArgs(request: LimitRequest): string[] {
  const args = [String(request.cost), String(request.banMs !== undefined && request.banMs > 0 ? Math.ceil(request.banMs) : 0), request.reset ? "1" : "0"];
  for (const rule of request.rules) args.push(rule.algorithm === "fixed" ? "f" : rule.algorithm === "sliding" ? "s" : "t", String(rule.limit), String(rule.periodMs), String(rule.refill));
  return args;
}

/** `LIMIT`'s reply as a {@link LimitAnswer}. */
export function limitAnswer(reply: unknown, rules: number): LimitAnswer {
  if (!Array.isArray(reply) || reply.length !== 2 + 3 * rules) throw new Error(`unexpected LIMIT reply: ${String(reply)}`);
  const n = reply.map(Number);
  const states: LimitRuleState[] = [];
  for (let i = 0; i < rules; i++) states.push({ remaining: n[2 + 3 * i]!, resetMs: n[3 + 3 * i]!, retryMs: n[4 + 3 * i]! });
  return { success: n[0] === 1, states, bannedMs: n[1]! };
}
