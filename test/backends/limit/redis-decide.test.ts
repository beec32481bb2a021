// The LIMIT script (redis://, upstash://) computes the same integers as `decide` (src/backends/limits.ts):
// a seeded random sequence of calls on the shared redis-server; before each call the state is read
// raw (hashes, sorted set, the ban) together with the server's TIME, after it TIME again, and the
// answer must be decide's for some `now` between the two, and the state written must be what
// decide writes. Also: the script's SHA-1, and how the derived keys share a hash slot.
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createRedisBackend, type RedisBackend } from "../../../src/backends/redis/backend.js";
import { limitKeys } from "../../../src/backends/remote.js";
import { decide, type RuleData } from "../../../src/backends/limits.js";
import { LIMIT } from "../../../src/backends/scripts.js";
import { keySlot } from "../../../src/backends/redis/slots.js";
import type { LimitAnswer, LimitRequest, LimitRule } from "../../../src/backends/types.js";

const redisUrl = inject("redisUrl");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("LIMIT script", () => {
  it("carries the SHA-1 of its source", () => {
    expect(LIMIT.sha1).toBe(createHash("sha1").update(LIMIT.lua).digest("hex"));
  });

  it("derived keys share one hash slot, whatever the key", () => {
    const rules: LimitRule[] = [
      { algorithm: "fixed", limit: 1, periodMs: 1000, refill: 1 },
      { algorithm: "sliding", limit: 1, periodMs: 1000, refill: 1 },
      { algorithm: "tokenBucket", limit: 1, periodMs: 1000, refill: 1 },
    ];
    for (const prefix of ["", "ns:", "a{b:"]) {
      for (const key of ["", "user-1", "}x", "{}", "{}}", "{tag}rest", "a{b", "x}{y}", "ü ✓"]) {
        const keys = limitKeys(prefix, key, rules);
        expect(new Set(keys.map(keySlot)).size, `${prefix}|${key}`).toBe(1);
        expect(new Set(keys).size).toBe(4);
        for (const k of keys) expect(k.startsWith(prefix)).toBe(true);
      }
    }
    // A key that already holds a hash tag keeps its name (the same derived keys as mem://).
    expect(limitKeys("ns:", "{u1}", rules)).toEqual(["ns:{u1}:f1000", "ns:{u1}:s1000", "ns:{u1}:t1000", "ns:{u1}:ban"]);
    expect(limitKeys("ns:", "u1", rules)).toEqual(["ns:{u1}:f1000", "ns:{u1}:s1000", "ns:{u1}:t1000", "ns:{u1}:ban"]);
    expect(limitKeys("ns:", "", rules)[0]).toBe("ns:{~}:f1000");
  });
});

describe.skipIf(!redisUrl)("LIMIT script = decide", () => {
  let raw: Redis;
  let backend: RedisBackend;
  const prefix = "limit-decide:";
  beforeAll(async () => {
    raw = new Redis(redisUrl);
    backend = createRedisBackend(redisUrl, { namespace: "limit-decide" });
    await backend.init();
    await backend.clear();
  });
  afterAll(async () => {
    await backend.clear();
    await backend.close();
    raw.disconnect();
  });

  const time = async (): Promise<number> => {
    const [s, us] = (await raw.time()) as [number | string, number | string];
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  };

  /** The stored state of each rule (RuleData, undefined: none) and the ban's end (0: none). */
  async function read(key: string, rules: readonly LimitRule[]): Promise<{ data: (RuleData | undefined)[]; banUntil: number }> {
    const keys = limitKeys(prefix, key, rules);
    const data: (RuleData | undefined)[] = [];
    for (const [i, rule] of rules.entries()) {
      const k = keys[i]!;
      if ((await raw.exists(k)) === 0) {
        data.push(undefined);
      } else if (rule.algorithm === "sliding") {
        const flat = await raw.zrange(k, "0", "-1", "WITHSCORES");
        const entries: number[] = [];
        // One member per unit, scored by its time.
        for (let j = 0; j < flat.length; j += 2) entries.push(Number(flat[j + 1]), 1);
        // Empty: the key expired between EXISTS and the read (periods of a few ms).
        data.push(entries.length === 0 ? undefined : entries);
      } else if (rule.algorithm === "fixed") {
        // The count and its expiry: the window's end is the server's time plus the PTTL (to the ms).
        const [count, pttl, s, us] = (await raw.eval("local t = redis.call('TIME') return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), t[1], t[2]}", 1, k)) as [string | null, number, string, string];
        data.push(count === null || pttl < 0 ? undefined : [Number(count), Number(s) * 1000 + Math.floor(Number(us) / 1000) + pttl]);
      } else {
        const h = await raw.hgetall(k);
        if (Object.keys(h).length === 0) data.push(undefined); // expired between the two reads
        else data.push([Number(h.l), Number(h.a)]);
      }
    }
    const until = await raw.hget(keys[rules.length]!, "u");
    return { data, banUntil: until === null ? 0 : Number(until) };
  }

  /** Sliding data as sorted unit times (an entry of cost k is k units): the order among equal times is no part of the state. */
  const pairs = (d: RuleData | undefined): string[] | undefined => {
    if (d === undefined) return undefined;
    const out: string[] = [];
    for (let i = 0; i < d.length; i += 2) for (let k = 0; k < d[i + 1]!; k++) out.push(String(d[i]));
    return out.sort();
  };

  /**
   * How far redis-server's cached clock may lag TIME, in ms. A fixed window's end is its key's
   * expiry, which redis-server judges against that clock (it lags when commands queue up): a fixed
   * window's times may differ from decide's by that much.
   */
  const LAG = 10;
  const near = (a: number, b: number, fixed: boolean): boolean => a === b || (fixed && Math.abs(a - b) <= LAG);
  /** The script's answer is decide's (a fixed window's times within LAG). */
  const sameAnswer = (want: LimitAnswer, got: LimitAnswer, rules: readonly LimitRule[]): boolean =>
    want.success === got.success &&
    want.bannedMs === got.bannedMs &&
    want.states.every((w, i) => {
      const g = got.states[i]!;
      const fixed = rules[i]!.algorithm === "fixed";
      return w.remaining === g.remaining && near(w.resetMs, g.resetMs, fixed) && near(w.retryMs, g.retryMs, fixed);
    });
  /** A fixed window's stored state is decide's: the count, and its end within LAG. */
  const fixedState = (a: RuleData | undefined, b: RuleData | undefined): boolean =>
    a === undefined || b === undefined ? a === b : a[0] === b[0] && Math.abs(a[1]! - b[1]!) <= LAG;
  /** A seeded random sequence (the same calls on every run). */
  const seeded = (start: number) => {
    let seed = start;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    return { random, pick: <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]! };
  };

  /**
   * Makes one call alone on `key` and checks it against decide: its answer is decide's for some
   * `now` between the server's TIME before and after it, and the state it left is what decide writes.
   */
  async function callAndCheck(label: string, key: string, request: LimitRequest): Promise<LimitAnswer> {
    const { rules } = request;
    const t0 = await time();
    const before = request.reset ? { data: rules.map(() => undefined), banUntil: 0 } : await read(key, rules);
    const answer = await backend.limit(key, request);
    const t1 = await time();
    const after = await read(key, rules);
    const readBy = await time();
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
    // The same lag keeps a fixed window's key alive up to LAG ms past the end read from TIME +
    // PTTL: the script then counts in the window that decide (at the same `now`) sees over. So
    // each fixed window's end is also tried up to LAG ms later.
    const shifted = (shift: number): (RuleData | undefined)[] =>
      before.data.map((d, i) => (d === undefined || rules[i]!.algorithm !== "fixed" ? d : [d[0]!, d[1]! + shift]));
    let found = false;
    for (let shift = 0; shift <= LAG && !found; shift++) for (let now = t0; now <= t1 && !found; now++) {
      const expected = decide(request, { bannedMs: before.banUntil > now ? before.banUntil - now : 0, data: shifted(shift) }, now);
      if (!sameAnswer(expected.answer, answer, rules)) continue;
      const writes = expected.writes;
      // The state after: what decide wrote (exactly), else what was there (unless it expired meanwhile).
      const stateOk = rules.every((rule, i) => {
        const write = writes?.rules[i];
        const got = after.data[i];
        if (write === undefined && got === undefined) return true;
        // Written, and expired before it was read back (periods of a few ms under load).
        if (got === undefined && write?.data !== undefined && readBy >= now + write.ttlMs - 1) return true;
        const want = write === undefined ? before.data[i] : write.data;
        if (rule.algorithm === "fixed") return fixedState(got, want);
        return rule.algorithm === "sliding" ? same(pairs(got), pairs(want)) : same(got, want);
      });
      // The ban as written, or expired before it was read back (bans of 15 ms under load).
      const banOk = writes?.banMs === undefined || after.banUntil === now + writes.banMs || (after.banUntil === 0 && readBy >= now + writes.banMs - 1);
      found = stateOk && banOk;
    }
    expect(found, `${label}: ${JSON.stringify({ request, before, answer, t0, t1 })}`).toBe(true);
    return answer;
  }

  it("answers and writes what decide does, over a random sequence of calls", async () => {
    const { random, pick } = seeded(0x5eed);
    const pool: LimitRule[] = [
      { algorithm: "fixed", limit: 3, periodMs: 1_000, refill: 3 },
      { algorithm: "fixed", limit: 5, periodMs: 60_000, refill: 5 },
      { algorithm: "sliding", limit: 4, periodMs: 30, refill: 4 },
      { algorithm: "sliding", limit: 6, periodMs: 60_000, refill: 6 },
      { algorithm: "tokenBucket", limit: 4, periodMs: 10, refill: 1 },
      { algorithm: "tokenBucket", limit: 3, periodMs: 60_000, refill: 2 },
      { algorithm: "tokenBucket", limit: 7, periodMs: 25, refill: 3 },
      { algorithm: "tokenBucket", limit: 5, periodMs: 1_000, refill: 3 },
    ];
    for (let step = 0; step < 400; step++) {
      const key = pick(["a", "b", "{c}"]);
      const rules = pool.filter(() => random() < 0.4);
      if (rules.length === 0) rules.push(pick(pool));
      const request: LimitRequest = {
        rules,
        cost: pick([0, 1, 1, 1, 2, 3, 5]),
        ...(random() < 0.1 ? { banMs: pick([15, 40]) } : {}),
        ...(random() < 0.04 ? { reset: true } : {}),
      };
      await callAndCheck(`step ${step}`, key, request);
      if (random() < 0.3) await sleep(Math.floor(random() * 12));
    }
  }, 60_000);

  it("a lone fixed window's short form answers and writes what decide does, a ban in force included", async () => {
    // A call with one fixed window, no ban to set and no reset, sent alone, goes as the script's
    // short form (ARGV "F", cost, limit, period): answered at the top of the script, or, with a
    // ban in force (set here by calls with a ban), passed on to the general path.
    const { random, pick } = seeded(0xf1fed);
    const fixed: LimitRule[] = [
      { algorithm: "fixed", limit: 3, periodMs: 1_000, refill: 3 },
      { algorithm: "fixed", limit: 4, periodMs: 60_000, refill: 4 },
    ];
    let short = 0;
    let banned = 0;
    for (let step = 0; step < 150; step++) {
      const key = pick(["f1", "{f2}"]);
      const rule = pick(fixed);
      const withBan = random() < 0.2;
      const request: LimitRequest = { rules: [rule], cost: pick([1, 1, 2, 3]), ...(withBan ? { banMs: pick([30, 80]) } : {}) };
      const answer = await callAndCheck(`step ${step}`, key, request);
      if (!withBan) {
        short++;
        if (answer.bannedMs > 0) banned++;
      }
      if (random() < 0.3) await sleep(Math.floor(random() * 12));
    }
    // Both ways of the short form were taken.
    expect(short).toBeGreaterThan(50);
    expect(banned).toBeGreaterThan(3);
  }, 60_000);

  it("sends a lone fixed window's call as the short form, and any other call as the general one", async () => {
    const monitor = await raw.monitor();
    const sent: string[][] = [];
    // MONITOR sees the whole server (other test files run beside this one): this test's keys only.
    monitor.on("monitor", (_time: string, args: string[]) => {
      if (/^evalsha$/i.test(args[0]!) && args[3]?.startsWith("limit-decide:{wire}")) sent.push(args.slice(2));
    });
    try {
      const fixed: LimitRule = { algorithm: "fixed", limit: 5, periodMs: 60_000, refill: 5 };
      await backend.limit("wire", { rules: [fixed], cost: 2 });
      await backend.limit("wire", { rules: [fixed], cost: 1, banMs: 100 });
      await backend.limit("wire", { rules: [fixed, { ...fixed, periodMs: 1_000 }], cost: 1 });
      await sleep(50);
    } finally {
      monitor.disconnect();
    }
    const keys = limitKeys("limit-decide:", "wire", [{ algorithm: "fixed", limit: 5, periodMs: 60_000, refill: 5 }]);
    expect(sent).toEqual([
      ["2", ...keys, "F", "2", "5", "60000"],
      ["2", ...keys, "1", "1", "100", "0", "1", "f", "5", "60000", "5"],
      ["3", keys[0]!, keys[0]!.replace(":f60000", ":f1000"), keys[1]!, "1", "1", "0", "0", "2", "f", "5", "60000", "5", "f", "5", "1000", "5"],
    ]);
  });

  it("a tick's calls, run as one script, answer and write what decide does, call after call at one now", async () => {
    // The calls of a tick share a script, so they share the script's clock: replayed through
    // decide in issue order at one `now`, each on the state the previous left, they must give the
    // same answers and leave the same state. (The first may have been written alone, at once, as
    // a solo call: its own script, at its own `now`, no later than the others'.) Runs of calls on
    // one sliding key take the script's memo (the set read once): this is where it is checked.
    // Fixed windows are 60 s long here, so redis-server's lagging clock never meets a window's end.
    const { random, pick } = seeded(0xba7c4);
    const slidingPool: LimitRule[] = [
      { algorithm: "sliding", limit: 5, periodMs: 30, refill: 5 },
      { algorithm: "sliding", limit: 8, periodMs: 60_000, refill: 8 },
      { algorithm: "sliding", limit: 3, periodMs: 1_000, refill: 3 },
    ];
    const otherPool: LimitRule[] = [
      { algorithm: "fixed", limit: 6, periodMs: 60_000, refill: 6 },
      { algorithm: "tokenBucket", limit: 4, periodMs: 60_000, refill: 2 },
    ];
    type Entry = { data: RuleData | undefined; ttlMs: number; at: number };
    for (let step = 0; step < 150; step++) {
      const batch: { id: string; request: LimitRequest }[] = [];
      const size = 1 + Math.floor(random() * 14);
      for (let c = 0; c < size; c++) {
        const id = pick(["p", "q", "{r}"]);
        const rules: LimitRule[] = random() < 0.75 ? [pick(slidingPool)] : [pick(slidingPool), pick(otherPool)].filter(() => random() < 0.7);
        if (rules.length === 0) rules.push(pick(otherPool));
        batch.push({
          id,
          request: {
            rules,
            cost: pick([0, 1, 1, 1, 2, 3]),
            ...(random() < 0.06 ? { banMs: pick([20, 50]) } : {}),
            ...(random() < 0.03 ? { reset: true } : {}),
          },
        });
      }
      // The state before, per derived key (and per id, the ban's end).
      const state = new Map<string, Entry>();
      const bans = new Map<string, number>();
      const t0 = await time();
      const ids = [...new Set(batch.map((b) => b.id))];
      const rulesOf = (id: string): LimitRule[] => {
        const seen = new Map<string, LimitRule>();
        for (const b of batch) if (b.id === id) for (const r of b.request.rules) seen.set(`${r.algorithm}${r.periodMs}`, r);
        return [...seen.values()];
      };
      for (const id of ids) {
        const rules = rulesOf(id);
        const before = await read(id, rules);
        const keys = limitKeys(prefix, id, rules);
        // Its expiry is not known: a state the calls leave as it was may have expired by the read-back.
        rules.forEach((_, i) => state.set(keys[i]!, { data: before.data[i], ttlMs: Number.NEGATIVE_INFINITY, at: t0 }));
        bans.set(id, before.banUntil);
      }
      const answers = await Promise.all(batch.map((b) => backend.limit(b.id, b.request)));
      const t1 = await time();
      const after = new Map<string, RuleData | undefined>();
      for (const id of ids) {
        const rules = rulesOf(id);
        const read1 = await read(id, rules);
        const keys = limitKeys(prefix, id, rules);
        rules.forEach((_, i) => after.set(keys[i]!, read1.data[i]));
      }
      const readBy = await time();
      let found = false;
      let why = "";
      let best = -1;
      for (let first = t0; first <= t1 && !found; first++) for (let rest = first; rest <= t1 && !found; rest++) {
        const model = new Map(state);
        const banned = new Map(bans);
        let ok = true;
        const miss = (depth: number, reason: string): void => {
          ok = false;
          if (depth > best) (best = depth), (why = reason);
        };
        for (const [c, { id, request }] of batch.entries()) {
          const now = c === 0 ? first : rest;
          const keys = limitKeys(prefix, id, request.rules);
          if (request.reset) {
            for (const k of keys.slice(0, -1)) model.set(k, { data: undefined, ttlMs: Number.POSITIVE_INFINITY, at: now });
            banned.set(id, 0);
          }
          const until = banned.get(id) ?? 0;
          const expected = decide(request, { bannedMs: until > now ? until - now : 0, data: keys.slice(0, -1).map((k) => model.get(k)?.data) }, now);
          if (!sameAnswer(expected.answer, answers[c]!, request.rules)) {
            miss(c, `call ${c} at ${now} (t0 ${t0}, t1 ${t1}): want ${JSON.stringify(expected.answer)}, got ${JSON.stringify(answers[c])}`);
            break;
          }
          expected.writes?.rules.forEach((w, i) => {
            if (w !== undefined) model.set(keys[i]!, { data: w.data, ttlMs: w.ttlMs, at: now });
          });
          if (expected.writes?.banMs !== undefined) banned.set(id, now + expected.writes.banMs);
        }
        if (!ok) continue;
        // The state after: what the replay wrote, unless it expired before it was read back.
        for (const [k, got] of after) {
          const want = model.get(k)!;
          const expired = got === undefined && want.data !== undefined && readBy >= want.at + want.ttlMs - 1;
          const same = k.includes(":s") ? JSON.stringify(pairs(got)) === JSON.stringify(pairs(want.data)) : k.includes(":f") ? fixedState(got, want.data) : JSON.stringify(got) === JSON.stringify(want.data);
          if (!same && !expired) {
            miss(batch.length, `state of ${k} at ${first}/${rest}: want ${JSON.stringify(want.data)}, got ${JSON.stringify(got)}`);
            break;
          }
        }
        found = ok;
      }
      expect(found, `step ${step} (${batch.length} calls): ${why}; ${JSON.stringify({ batch, state: [...state], bans: [...bans], answers })}`).toBe(true);
      if (random() < 0.3) await sleep(Math.floor(random() * 40));
    }
  }, 60_000);
});
