// The soak's checkers (bench/lib/soak-check.ts) flag what they must: recorded wrong answers (a
// stale own read, a key surviving deleteTags, a stale shared read past the bound, overlapping lock
// sections, an over-admitting or under-admitting fixed window) are fed in and must come out as
// wrong answers; the correct recordings next to them must not.
import { describe, expect, it } from "vitest";
import { checkFixedWindow, checkLocks, FixedWindowChecker, KeyModel, LockChecker, sameValue, SharedVersions, type LimitDecision } from "../../bench/lib/soak-check.js";
import { heapGrowth, Histogram } from "../../bench/lib/soak-stats.js";

const value = (seq: number, owner = "p0.a0") => ({ seq, owner, at: new Date(1_700_000_000_000 + seq) });

describe("KeyModel: exact reads of keys one actor owns", () => {
  it("accepts the value last written, and a miss for a key never written or deleted", () => {
    const model = new KeyModel("mem:p0");
    model.wrote("k1", value(1));
    model.wrote("k1", value(2));
    expect(model.check("get", "k1", value(2))).toBeUndefined();
    expect(model.check("get", "k2", undefined)).toBeUndefined();
    model.deleted("k1");
    expect(model.check("get", "k1", undefined)).toBeUndefined();
  });

  it("flags a stale read (an older write), a lost write (a miss) and a resurrected key", () => {
    const model = new KeyModel("redis:p0");
    model.wrote("k1", value(1));
    model.wrote("k1", value(2));
    expect(model.check("get", "k1", value(1))).toMatchObject({ check: "get", where: "redis:p0", detail: "k1: expected #2/p0.a0, got #1/p0.a0" });
    expect(model.check("get", "k1", undefined)?.detail).toBe("k1: expected #2/p0.a0, got (miss)");
    model.deleted("k1");
    expect(model.check("get", "k1", value(2))?.detail).toBe("k1: expected (miss), got #2/p0.a0");
  });

  it("compares owner and the Date too, and counters as numbers", () => {
    expect(sameValue(value(1), value(1, "p1.a0"))).toBe(false);
    expect(sameValue(value(1), { ...value(1), at: new Date(0) })).toBe(false);
    expect(sameValue(value(1), { ...value(1), at: value(1).at.toISOString() })).toBe(false);
    expect(sameValue(3, 3)).toBe(true);
    expect(sameValue(3, "3")).toBe(false);
    expect(sameValue(undefined, null)).toBe(false);
  });

  it("deleteTags: the keys whose last write carried the tag become misses, a key rewritten without it stays", () => {
    const model = new KeyModel("upstash:p1");
    model.wrote("a", value(1), ["t1"]);
    model.wrote("b", value(2), ["t1", "t2"]);
    model.wrote("c", value(3), ["t1"]);
    model.wrote("c", value(4)); // rewritten without tags: no longer carries t1
    model.wrote("d", value(5), ["t2"]);
    expect(model.deletedTag("t1").sort()).toEqual(["a", "b"]);
    expect(model.check("get", "a", value(1))?.detail).toBe("a: expected (miss), got #1/p0.a0");
    expect(model.check("get", "c", value(4))).toBeUndefined();
    expect(model.check("get", "d", value(5))).toBeUndefined();
  });
});

describe("SharedVersions: bounded staleness of another writer's key", () => {
  it("accepts an older version within the bound and flags it after the bound", () => {
    const shared = new SharedVersions("redis:p1", 2000);
    shared.wrote("s", 1, 1000);
    shared.wrote("s", 2, 5000);
    expect(shared.read("s", 0, 2500)).toBeUndefined(); // v1 is not yet required (written 1.5 s ago)
    expect(shared.read("s", 1, 3500)).toBeUndefined();
    const stale = shared.read("s", 0, 3500);
    expect(stale).toMatchObject({ check: "stale-read", where: "redis:p1" });
    expect(stale?.detail).toBe("s: read v0 starting 2500 ms after v1 was written (bound 2000 ms)");
    expect(shared.read("s", 1, 6900)).toBeUndefined(); // v2 within its bound
    expect(shared.read("s", 1, 7100)?.detail).toBe("s: read v1 starting 2100 ms after v2 was written (bound 2000 ms)");
    expect(shared.read("s", 3, 7100)).toBeUndefined(); // newer than required is fine
    expect(shared.checked).toBe(5);
  });

  it("keeps the requirement once it applies (pruned writes are not forgotten)", () => {
    const shared = new SharedVersions("upstash:p0", 100);
    for (let v = 1; v <= 50; v++) shared.wrote("s", v, v);
    expect(shared.read("s", 50, 1000)).toBeUndefined();
    expect(shared.read("s", 49, 1001)?.check).toBe("stale-read");
    expect(shared.read("other", 0, 1000)).toBeUndefined(); // never written: nothing required
  });
});

describe("checkLocks: mutual exclusion", () => {
  it("accepts back-to-back sections and flags overlapping ones of the same key", () => {
    const ok = checkLocks("redis", [
      { key: "L", holder: "p0.l0", acquired: 0, released: 10 },
      { key: "L", holder: "p1.l0", acquired: 10, released: 20 },
      { key: "M", holder: "p1.l1", acquired: 5, released: 15 }, // another lock: no conflict
    ], 30_000);
    expect(ok).toEqual({ wrong: [], wrongCount: 0, checked: 3, skipped: 0 });
    const bad = checkLocks("redis", [
      { key: "L", holder: "p0.l0", acquired: 0, released: 100 },
      { key: "L", holder: "p1.l1", acquired: 99.5, released: 120 },
      { key: "L", holder: "p1.l0", acquired: 50, released: 60 }, // inside the first one
    ], 30_000);
    expect(bad.wrong.map((w) => w.check)).toEqual(["lock-overlap", "lock-overlap"]);
    expect(bad.wrongCount).toBe(2);
    expect(bad.wrong[0]!.detail).toBe("L: p1.l0 acquired 50.00 ms before p0.l0 released it");
    expect(bad.wrong[1]!.detail).toBe("L: p1.l1 acquired 0.50 ms before p0.l0 released it");
  });

  it("leaves out a section longer than the lock's ttl (the lock may have expired)", () => {
    const result = checkLocks("mem:p0", [
      { key: "L", holder: "p0.l0", acquired: 0, released: 40_000 },
      { key: "L", holder: "p0.l1", acquired: 35_000, released: 35_010 },
    ], 30_000);
    expect(result).toEqual({ wrong: [], wrongCount: 0, checked: 1, skipped: 1 });
  });

  it("incrementally: settled sections are still compared with the ones that come later", () => {
    const locks = new LockChecker("redis", 30_000);
    locks.add([{ key: "L", holder: "p0.l0", acquired: 0, released: 100 }]);
    locks.settle(50); // p0.l0 is checked and kept as the key's last section
    locks.add([{ key: "L", holder: "p1.l0", acquired: 60, released: 70 }]);
    locks.settle(1000);
    expect(locks.finish()).toMatchObject({ wrongCount: 1, checked: 2, wrong: [{ detail: "L: p1.l0 acquired 40.00 ms before p0.l0 released it" }] });
  });
});

describe("checkFixedWindow: a limiter shared by two processes", () => {
  const options = { limit: 3, periodMs: 1000, maxLatencyMs: 500 };
  /** Calls of one window ending at `end`; `admitted` of them first, then refused ones. */
  const window = (end: number, calls: [caller: string, success: boolean, remaining: number][]): LimitDecision[] =>
    calls.map(([caller, success, remaining], i) => ({ caller, start: end - 900 + i, end: end - 890 + i, success, remaining, reset: end + (i % 3) * 7 }));

  it("accepts windows that admit exactly the limit, each with its own remaining, then refuse", () => {
    const decisions = [
      ...window(10_000, [["p0", true, 2], ["p1", true, 1], ["p0", true, 0], ["p1", false, 0]]),
      ...window(11_000, [["p1", true, 2], ["p0", true, 1], ["p0", true, 0], ["p0", false, 0], ["p1", false, 0]]),
    ];
    expect(checkFixedWindow("redis", decisions, options)).toEqual({ wrong: [], wrongCount: 0, windows: 2, undecided: 0, admitted: 6, refused: 3, late: 0 });
  });

  it("flags an over-admission (both processes told they got the last unit)", () => {
    const decisions = window(10_000, [["p0", true, 2], ["p1", true, 1], ["p0", true, 0], ["p1", true, 0]]);
    const { wrong } = checkFixedWindow("redis", decisions, options);
    expect(wrong.map((w) => w.check)).toEqual(["over-admission", "same-remaining"]);
    expect(wrong[0]!.detail).toContain("4 admitted, limit 3 (p0: 2, p1: 2)");
    expect(wrong[1]!.detail).toMatch(/(p0 and p1|p1 and p0) were both admitted with remaining 0/);
  });

  it("flags a refusal in a window that admitted fewer than the limit", () => {
    const decisions = window(10_000, [["p0", true, 2], ["p1", false, 0]]);
    const { wrong } = checkFixedWindow("upstash", decisions, options);
    expect(wrong).toEqual([{ check: "under-admission", where: "upstash", detail: expect.stringContaining("p1 refused while the window admitted only 1 of 3") }]);
    // When some call failed (its outcome unknown), that rule cannot be applied.
    expect(checkFixedWindow("upstash", decisions, { ...options, exhaustive: false }).wrong).toEqual([]);
  });

  it("leaves out a window with a call too slow to place (and the refusals of its neighbours)", () => {
    const slow = window(10_000, [["p0", true, 2], ["p1", true, 1], ["p0", true, 0], ["p1", true, 0]]);
    slow[3]!.end = slow[3]!.start + 600;
    const next = window(11_000, [["p0", true, 2], ["p1", false, 0]]);
    const result = checkFixedWindow("redis", [...slow, ...next], options);
    expect(result).toMatchObject({ wrong: [], windows: 1, undecided: 1 });
    expect(() => checkFixedWindow("redis", slow, { ...options, maxLatencyMs: 600 })).toThrow(RangeError);
  });

  it("incrementally (settled as logs arrive) finds what the whole recording finds", () => {
    const decisions = [
      ...window(10_000, [["p0", true, 2], ["p1", true, 1], ["p0", true, 0], ["p1", false, 0]]),
      ...window(11_000, [["p1", true, 2], ["p0", true, 1], ["p1", true, 1], ["p0", true, 0]]), // same remaining twice
      ...window(12_000, [["p0", true, 2], ["p1", false, 0]]), // under-admission
      ...window(13_000, [["p0", true, 2], ["p1", true, 1], ["p0", true, 0]]),
    ];
    const whole = checkFixedWindow("redis", decisions, options);
    expect(whole.wrong.map((w) => w.check).sort()).toEqual(["over-admission", "same-remaining", "under-admission"]);
    const checker = new FixedWindowChecker("redis", options);
    // Logs in arrival order (by end), each batch settled with the watermark "every later reset >= the next call's start".
    const byEnd = [...decisions].sort((a, b) => a.end - b.end);
    for (let i = 0; i < byEnd.length; i += 3) {
      checker.add(byEnd.slice(i, i + 3));
      const next = byEnd.slice(i + 3);
      checker.settle(next.length ? Math.min(...next.map((d) => d.start)) : Number.POSITIVE_INFINITY);
    }
    const incremental = checker.finish();
    expect({ ...incremental, wrong: incremental.wrong.map((w) => w.detail).sort() }).toEqual({ ...whole, wrong: whole.wrong.map((w) => w.detail).sort() });
    expect(incremental).toMatchObject({ wrongCount: 3, windows: 4, late: 0 });
  });

  it("a decision arriving after its window was settled is counted late, not judged", () => {
    const checker = new FixedWindowChecker("redis", options);
    checker.add(window(10_000, [["p0", true, 2], ["p1", true, 1], ["p0", true, 0]]));
    checker.add(window(11_000, [["p0", true, 2]]));
    checker.add(window(12_000, [["p0", true, 2]]));
    checker.settle(20_000); // judges the 10 000 window (the 11 000 one stays as the next's neighbour)
    checker.add(window(10_000, [["p1", true, 0]])); // would make 4 admitted in the judged window
    expect(checker.finish(false)).toMatchObject({ wrongCount: 0, late: 1, windows: 3 });
  });
});

describe("soak numbers", () => {
  it("Histogram: quantiles within a bucket (~4 %), mergeable", () => {
    const h = new Histogram();
    for (let i = 1; i <= 100; i++) h.record(i / 10); // 0.1 … 10 ms
    expect(h.quantile(0.5)).toBeGreaterThanOrEqual(5);
    expect(h.quantile(0.5)).toBeLessThan(5 * 1.05);
    expect(h.quantile(0.99)).toBeGreaterThanOrEqual(9.9);
    expect(h.quantile(0.99)).toBeLessThan(9.9 * 1.05);
    const other = new Histogram(h.counts);
    other.merge(h);
    expect(other.total).toBe(200);
    expect(new Histogram().quantile(0.5)).toBeNaN();
  });

  it("heapGrowth: flat passes, steady growth fails, too few samples is undecided", () => {
    const MB = 1024 * 1024;
    const flat = Array.from({ length: 12 }, (_, i) => ({ t: i * 5000, heapUsed: (20 + (i % 2)) * MB }));
    expect(heapGrowth(flat).ok).toBe(true);
    const leak = Array.from({ length: 12 }, (_, i) => ({ t: i * 5000, heapUsed: (20 + i * 4) * MB }));
    expect(heapGrowth(leak)).toMatchObject({ first: 24 * MB, last: 56 * MB, ok: false });
    expect(heapGrowth(flat.slice(0, 5)).ok).toBeUndefined();
    // A sample taken after the load stopped (lower: the load's garbage is gone) is not judged.
    expect(heapGrowth([...leak, { t: 60_000, heapUsed: 10 * MB, idle: true }]).last).toBe(56 * MB);
  });
});
