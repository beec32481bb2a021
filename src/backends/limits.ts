/**
 * The limiter's algorithms on plain data, as {@link Backend.limit} defines them: what `mem://` and
 * Deno KV run, and what the Redis/Upstash script computes in Lua (same integers).
 * @module
 */
import type { LimitAnswer, LimitRequest, LimitRule, LimitRuleState } from "./types.js";

/**
 * One rule's stored state. fixed: `[count, windowEnd]`; sliding: `[t0, cost0, t1, cost1, …]`
 * (ascending times); tokenBucket: `[level, at]` (level in 1/periodMs tokens).
 */
export type RuleData = number[];

/** The derived key of one rule's state (the ban's is `key + ":ban"`). @internal */
export function ruleKey(key: string, rule: LimitRule): string {
  return `${key}:${rule.algorithm === "fixed" ? "f" : rule.algorithm === "sliding" ? "s" : "t"}${rule.periodMs}`;
}

/** A rule's state at `now`: its capacity, and how to consume from it. */
interface Evaluated {
  capacity: number;
  resetMs: number;
  /** ms until `cost` would be admitted (0: now). */
  retry(cost: number): number;
  /** The data after consuming `cost`, and how long it must be kept (undefined data: delete it). */
  consume(cost: number): { data: RuleData | undefined; ttlMs: number; state: LimitRuleState };
}

/** Applies `rule` to `data` (undefined: none) at `now` (ms on the store's clock). @internal */
export function evaluate(rule: LimitRule, data: RuleData | undefined, now: number): Evaluated {
  const { limit, periodMs: period } = rule;
  if (rule.algorithm === "fixed") {
    const live = data !== undefined && data[1]! > now;
    const count = live ? data[0]! : 0;
    const end = live ? data[1]! : now + period;
    const capacity = Math.max(0, limit - count);
    return {
      capacity,
      resetMs: end - now,
      retry: (cost) => (capacity >= cost ? 0 : end - now),
      consume: (cost) => ({ data: [count + cost, end], ttlMs: end - now, state: { remaining: Math.max(0, capacity - cost), resetMs: end - now, retryMs: 0 } }),
    };
  }
  if (rule.algorithm === "sliding") {
    const log: number[] = [];
    let used = 0;
    if (data !== undefined) {
      for (let i = 0; i + 1 < data.length; i += 2) {
        if (data[i]! + period > now) {
          log.push(data[i]!, data[i + 1]!);
          used += data[i + 1]!;
        }
      }
    }
    const capacity = Math.max(0, limit - used);
    const resetOf = (entries: number[]): number => (entries.length === 0 ? 0 : entries[0]! + period - now);
    return {
      capacity,
      resetMs: resetOf(log),
      retry(cost) {
        const need = used + cost - limit;
        if (need <= 0) return 0;
        let freed = 0;
        for (let i = 0; i < log.length; i += 2) {
          freed += log[i + 1]!;
          if (freed >= need) return log[i]! + period - now;
        }
        return period;
      },
      consume(cost) {
        // Kept in time order even when the clock stepped back.
        let at = log.length;
        while (at > 0 && log[at - 2]! > now) at -= 2;
        log.splice(at, 0, now, cost);
        return { data: log, ttlMs: log[log.length - 2]! + period - now, state: { remaining: Math.max(0, capacity - cost), resetMs: resetOf(log), retryMs: 0 } };
      },
    };
  }
  const full = limit * period;
  const refill = rule.refill;
  const level = data === undefined ? full : Math.min(full, data[0]! + Math.max(0, now - data[1]!) * refill);
  const capacity = Math.floor(level / period);
  const toFull = (l: number): number => (l >= full ? 0 : Math.ceil((full - l) / refill));
  return {
    capacity,
    resetMs: toFull(level),
    retry: (cost) => (level >= cost * period ? 0 : Math.ceil((cost * period - level) / refill)),
    consume(cost) {
      const after = level - cost * period;
      const ttlMs = toFull(after);
      return { data: ttlMs === 0 ? undefined : [after, now], ttlMs, state: { remaining: Math.floor(after / period), resetMs: ttlMs, retryMs: 0 } };
    },
  };
}

/** A store the shared algorithm runs on: read every rule's data and the ban, then write the changes. @internal */
export interface LimitStore {
  /** ms left on the ban (0: none). */
  bannedMs: number;
  /** The data of each rule, in order. */
  data: (RuleData | undefined)[];
}

/** What to write after {@link decide}: per rule the new data (undefined: delete) and its ttl; the ban to set. @internal */
export interface LimitWrites {
  rules: ({ data: RuleData | undefined; ttlMs: number } | undefined)[];
  banMs: number | undefined;
}

/**
 * The whole decision of one {@link Backend.limit} call on read state (reset already applied by
 * the caller, which then reads nothing): the answer, and the writes that make it so (none when
 * nothing changes). @internal
 */
export function decide(request: LimitRequest, read: LimitStore, now: number): { answer: LimitAnswer; writes: LimitWrites | undefined } {
  const { rules, cost } = request;
  const evaluated = rules.map((rule, i) => evaluate(rule, read.data[i], now));
  const states = (k: number): LimitRuleState[] => evaluated.map((e) => ({ remaining: e.capacity, resetMs: e.resetMs, retryMs: e.retry(k) }));
  /** Refused under a ban of `ms`: nothing is left, and no retry comes before the ban ends. */
  const banned = (ms: number, k: number): LimitAnswer => ({
    success: false,
    states: states(k).map((s) => ({ ...s, remaining: 0, retryMs: Math.max(s.retryMs, ms) })),
    bannedMs: ms,
  });
  if (read.bannedMs > 0) return { answer: banned(read.bannedMs, Math.max(cost, 1)), writes: undefined };
  const admitted = evaluated.every((e) => e.capacity >= cost);
  if (!admitted && cost > 0 && request.banMs !== undefined && request.banMs > 0) {
    return { answer: banned(request.banMs, cost), writes: { rules: rules.map(() => undefined), banMs: request.banMs } };
  }
  if (!admitted || cost === 0) return { answer: { success: admitted, states: states(cost), bannedMs: 0 }, writes: undefined };
  const consumed = evaluated.map((e) => e.consume(cost));
  return {
    answer: { success: true, states: consumed.map((c) => c.state), bannedMs: 0 },
    writes: { rules: consumed.map(({ data, ttlMs }) => ({ data, ttlMs })), banMs: undefined },
  };
}
