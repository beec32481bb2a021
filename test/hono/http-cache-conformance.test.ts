// cacheResponse against the public HTTP caching conformance suite `http-cache-tests` (cache-tests.fyi):
// the suite's origin server, a caching reverse proxy (Hono + cacheResponse + a forwarding handler),
// the suite's runner against the proxy; on mem:// and redis://. Every counted test's outcome
// (pass / fail, not the failure message) must match the committed list
// `http-cache-conformance.expected.json`, so a regression fails the build and so does an
// improvement until the list is updated (`npm run http-cache-tests -- --update`).
// Entries marked "flaky" are not compared (FLAKY in the harness says why each is there).
// Harness and counting rule: test/support/http-cache-suite.ts. One run takes ~20 s (the suite
// has several 3 s pauses).
import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { compare, readExpected, runConformance, type Comparison } from "../support/http-cache-suite.js";

const redisUrl = inject("redisUrl");

function report(name: string, diff: Comparison): string {
  const lines: string[] = [];
  if (diff.regressed.length > 0) {
    lines.push(`${diff.regressed.length} test(s) expected to pass now fail on ${name}:`);
    for (const t of diff.regressed) lines.push(`  - ${t.id} (${t.kind}): ${t.message}`);
  }
  if (diff.improved.length > 0) {
    lines.push(
      `${diff.improved.length} test(s) expected to fail now pass on ${name}: ${diff.improved.map((t) => t.id).join(", ")}.`,
      "  Good news: record it with `npm run http-cache-tests -- --update` and commit the expected list.",
    );
  }
  if (diff.unknown.length > 0) {
    lines.push(`Tests missing from the expected list (run \`npm run http-cache-tests -- --update\`): ${diff.unknown.map((t) => t.id).join(", ")}`);
  }
  if (diff.stale.length > 0) {
    lines.push(`Expected-list entries that are no counted test (run the update): ${diff.stale.join(", ")}`);
  }
  return lines.join("\n");
}

const targets = [
  { name: "mem://", url: "mem://", setupOptions: undefined },
  { name: "redis://", url: redisUrl, setupOptions: { namespace: `hct-${randomUUID().slice(0, 8)}` } },
];

for (const target of targets) {
  describe.skipIf(!target.url)(`http-cache-tests through cacheResponse on ${target.name}`, () => {
    it("every test's outcome matches the expected list", { timeout: 120_000 }, async () => {
      const run = await runConformance({ cacheUrl: target.url, setupOptions: target.setupOptions });
      expect(run.errors, "the cache reported errors during the run").toEqual([]);
      const diff = compare(run.outcomes, readExpected());
      expect(report(target.name, diff)).toBe("");
    });
  });
}
