// A short run of the soak (bench/soak.ts, `npm run soak`): two real processes of mixed load on
// mem://, redis:// with clientSide (the shared test redis-server) and upstash:// (the real
// @upstash/redis client against our REST server, started by the soak) for 12 s. Every read is
// checked against the model: no wrong answer, every operation kind exercised on every backend,
// both processes reported with heap samples. Latency, heap growth and loop delay are printed,
// never asserted (12 s is too short to judge growth). A second, 4 s run deletes keys behind the
// model's back and must report wrong answers on every backend (the checks fire end to end). mem://
// actors pause 1 ms between operations here, so the soak leaves CPU to the test files beside it.
import { describe, expect, inject, it } from "vitest";
import { formatSoakReport, runSoak, SOAK_BACKENDS, type SoakBackendName } from "../../bench/lib/soak-run.js";

// "" = no redis-server binary (global-setup has already failed the run when CI=true).
const redisUrl = inject("redisUrl");

const OPS = [
  "get-hit", "get-miss", "getMany", "set", "delete", "getOrSet-hit", "getOrSet-miss", "incr",
  "call-hit", "call-miss", "deleteTags", "shared-set", "shared-get", "lock", "lock-marker", "unlock",
  "limit-admitted", "limit-refused",
];

describe("soak (short run)", () => {
  it("mixed load from two processes: 0 wrong answers, every operation on every backend", { timeout: 180_000 }, async () => {
    if (!redisUrl && process.env.CI === "true") throw new Error("redis-server is missing on CI: the soak cannot skip redis:// and upstash://");
    const backends: SoakBackendName[] = redisUrl ? [...SOAK_BACKENDS] : ["mem"];
    const report = await runSoak({ durationMs: 12_000, sampleMs: 1000, memPauseMs: 1, backends, ...(redisUrl ? { redisUrl } : {}) });
    console.log(formatSoakReport(report));

    expect(report.wrong).toEqual({ count: 0, first: [] });
    // A failed command takes its keys out of the model (their state is unknown): a backend failing
    // every command after the first second would show no wrong answer. safe: false, so none may fail.
    expect(report.errors).toEqual({ count: 0, first: [] });
    expect(report.processes.map((p) => p.proc)).toEqual([0, 1]);
    for (const p of report.processes) {
      expect(p.gcExposed).toBe(true);
      expect(p.heap.length).toBeGreaterThanOrEqual(6);
      expect(p.heap.every((s) => s.heapUsed > 0)).toBe(true);
      expect(Number.isFinite(p.loopDelay.p99)).toBe(true);
    }
    for (const name of backends) {
      const ops = report.ops[name]!;
      for (const op of OPS) expect(ops[op]?.count ?? 0, `${name} ${op}`).toBeGreaterThan(0);
      const coverage = report.coverage[name]!;
      expect(coverage.sharedReadsChecked, `${name}: shared reads checked`).toBeGreaterThan(0);
      expect(coverage.lockSections, `${name}: lock sections`).toBeGreaterThan(0);
      expect(coverage.limiterWindows, `${name}: limiter windows decided`).toBeGreaterThan(0);
      expect(coverage.refused, `${name}: limiter refusals`).toBeGreaterThan(0);
    }
  });

  it("the same run reports wrong answers when keys are deleted behind the model's back (--sabotage)", { timeout: 120_000 }, async () => {
    const backends: SoakBackendName[] = redisUrl ? [...SOAK_BACKENDS] : ["mem"];
    const report = await runSoak({ durationMs: 4000, sampleMs: 1000, memPauseMs: 1, backends, sabotage: true, ...(redisUrl ? { redisUrl } : {}) });
    expect(report.ok).toBe(false);
    for (const name of backends) expect(report.coverage[name]!.wrong, name).toBeGreaterThan(0);
    expect(report.wrong.first.some((w) => w.detail.includes("got (miss)") || w.check === "delete")).toBe(true);
  });
});
