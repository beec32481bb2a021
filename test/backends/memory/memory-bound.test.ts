// Memory bound of mem://: 1 000 000 distinct keys through `mem://?size=10000` never hold more
// than 10 000 entries, and the heap after GC stays within 2× of the heap with 10 000 entries.
// Runs in a child process started with --expose-gc (test/support/memory-bound-child.ts), so the
// heap is measured after real full collections, away from vitest's own allocations.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const script = fileURLToPath(new URL("../../support/memory-bound-child.ts", import.meta.url));

interface Result {
  serialize: boolean;
  total: number;
  maxStored: number;
  maxCounted: number;
  checks: number;
  finalCount: number;
  lastPresent: boolean;
  firstAbsent: boolean;
  oldestKeptPresent: boolean;
  newestEvicted: boolean;
  reference: number;
  final: number;
  ms: number;
}

function runChild(mode: "live" | "serialize"): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", script, mode], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("result "));
      if (code === 0 && line) resolve(JSON.parse(line.slice(7)) as Result);
      else reject(new Error(`memory-bound child exited with ${code}:\n${out}`));
    });
  });
}

describe("mem://?size=10000 under 1 000 000 distinct keys", () => {
  for (const mode of ["live", "serialize"] as const) {
    it.concurrent(`${mode === "live" ? "live values" : "serialize=1"}: never more than 10 000 entries, heap within 2× of 10 000 entries`, async ({ expect }) => {
      const r = await runChild(mode);
      const summary = JSON.stringify(r);
      expect(r.total, summary).toBe(1_000_000);
      expect(r.maxStored, summary).toBe(10_000); // checked after every write
      expect(r.checks, summary).toBe(100); // getKeysCount every 10 000 writes
      expect(r.maxCounted, summary).toBe(10_000);
      expect(r.finalCount, summary).toBe(10_000);
      // LRU: exactly the last 10 000 keys are kept.
      expect([r.lastPresent, r.oldestKeptPresent, r.firstAbsent, r.newestEvicted], summary).toEqual([true, true, true, true]);
      expect(r.reference, summary).toBeGreaterThan(0);
      expect(r.final, summary).toBeLessThanOrEqual(2 * r.reference);
    }, 120_000);
  }
});
