// The shared command timeout of the Redis backend: one timer bounds every pending operation.
import { afterEach, describe, expect, it, vi } from "vitest";
import { Deadlines, type Bounded } from "../../src/backends/deadlines.js";

const op = (): Bounded & { expired: Error[] } => {
  const expired: Error[] = [];
  return { at: 0, settled: false, next: undefined, expired, expire: (error) => void expired.push(error) };
};

afterEach(() => {
  vi.useRealTimers();
});

describe("Deadlines", () => {
  it("expires what has not settled in time, once, and nothing that settled", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const deadlines = new Deadlines(100, () => new Error("timed out after 100 ms"));
    const [a, b, c] = [op(), op(), op()];
    deadlines.add(a);
    vi.advanceTimersByTime(30);
    deadlines.add(b);
    vi.advanceTimersByTime(30);
    deadlines.add(c);
    expect(deadlines.settle(b)).toBe(true);
    vi.advanceTimersByTime(40); // a's deadline
    expect(a.expired.map((e) => e.message)).toEqual(["timed out after 100 ms"]);
    expect(b.expired).toEqual([]);
    expect(c.expired).toEqual([]);
    expect(deadlines.settle(a)).toBe(false); // too late: its outcome is ignored
    vi.advanceTimersByTime(59);
    expect(c.expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(c.expired).toHaveLength(1);
    expect(deadlines.settle(c)).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(a.expired).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("keeps one timer for any number of operations, and re-arms only for pending ones", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const deadlines = new Deadlines(50, () => new Error("late"));
    const ops = Array.from({ length: 1000 }, op);
    for (const o of ops) {
      deadlines.add(o);
      deadlines.settle(o);
    }
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(50);
    expect(vi.getTimerCount()).toBe(0); // nothing pending: not re-armed
    expect(ops.every((o) => o.expired.length === 0)).toBe(true);
    const late = op();
    deadlines.add(late);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(50);
    expect(late.expired).toHaveLength(1);
  });

  it("bound(): the promise's outcome in time, the timeout error after", async () => {
    const deadlines = new Deadlines(30, () => new Error("timed out after 30 ms"));
    await expect(deadlines.bound(Promise.resolve(1))).resolves.toBe(1);
    await expect(deadlines.bound(Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    const never = new Promise<never>(() => {});
    const started = performance.now();
    await expect(deadlines.bound(never)).rejects.toThrow("timed out after 30 ms");
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });
});
