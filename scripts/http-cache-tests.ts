/**
 * Runs the public HTTP caching conformance suite `http-cache-tests` through `cacheResponse` (see
 * test/support/http-cache-suite.ts) and prints a markdown table: our row(s) and the published rows
 * of other caches, then every required test that fails for us, with its message.
 *
 *   npm run http-cache-tests                                  # mem://
 *   npm run http-cache-tests -- --redis redis://127.0.0.1:6379 # mem:// and redis://
 *   npm run http-cache-tests -- --update [--redis URL]        # rewrite the expected list from the
 *                                                             # mem:// run (redis must agree)
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import {
  EXPECTED_FILE,
  PUBLISHED,
  SUITE_VERSION,
  compare,
  countedTests,
  expectedFrom,
  formatExpected,
  readExpected,
  runConformance,
  score,
  publishedResults,
  type ConformanceRun,
  type Score,
} from "../test/support/http-cache-suite.js";

function parseArgs(argv: string[]): { redis?: string; update: boolean } {
  const out: { redis?: string; update: boolean } = { update: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--update") out.update = true;
    else if (arg === "--redis") out.redis = argv[++i] ?? "";
    else if (arg.startsWith("--redis=")) out.redis = arg.slice("--redis=".length);
    else throw new Error(`unknown argument ${arg} (use --redis URL, --update)`);
  }
  if (out.redis === "") throw new Error("--redis needs a URL");
  return out;
}

const row = (name: string, s: Score): string =>
  `| ${name} | ${s.required}/${s.requiredTotal} | ${s.optimal}/${s.optimalTotal} |`;

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const runs: { name: string; run: ConformanceRun }[] = [];
  const mem = await runConformance({ cacheUrl: "mem://" });
  runs.push({ name: "cashews cacheResponse (mem://)", run: mem });
  if (args.redis) {
    const redis = await runConformance({ cacheUrl: args.redis, setupOptions: { namespace: `hct-${randomUUID().slice(0, 8)}` } });
    runs.push({ name: "cashews cacheResponse (redis://)", run: redis });
  }

  const tests = await countedTests();
  console.log(`## http-cache-tests ${SUITE_VERSION}\n`);
  console.log("Counted: tests/index.mjs without browser_only tests and kind \"check\"; a pass is a result of exactly `true`.\n");
  console.log("| implementation | required | optimal |");
  console.log("| --- | --- | --- |");
  for (const { name, run } of runs) console.log(row(`**${name}**`, run));
  for (const name of PUBLISHED) console.log(row(name, score(publishedResults(name), tests)));
  console.log();
  for (const { name, run } of runs) console.log(`${name}: ${(run.ms / 1000).toFixed(1)} s`);
  for (const { name, run } of runs) {
    if (run.errors.length > 0) console.log(`\n**${name}: the cache reported ${run.errors.length} error(s)**, e.g. ${String(JSON.stringify(run.errors[0]))}`);
    if (run.upstreamErrors.length > 0) console.log(`\n${name}: ${run.upstreamErrors.length} request(s) answered 502 (the origin closed the connection; uncounted tests)`);
  }

  for (const { name, run } of runs) {
    const failing = run.outcomes.filter((o) => o.kind === "required" && !o.pass);
    console.log(`\n### Required tests failing on ${name} (${failing.length})\n`);
    for (const o of failing) console.log(`- \`${o.id}\`: ${o.message}`);
  }

  let status = 0;
  if (args.update) {
    const expected = expectedFrom(mem.outcomes);
    for (const { name, run } of runs.slice(1)) {
      const diff = compare(run.outcomes, expected);
      const differing = [...diff.regressed, ...diff.improved].map((o) => o.id);
      if (differing.length > 0) {
        console.error(`\n${name} disagrees with mem:// on: ${differing.join(", ")} (expected list not written)`);
        return 1;
      }
    }
    writeFileSync(EXPECTED_FILE, formatExpected(expected));
    console.log(`\nWrote ${EXPECTED_FILE}`);
  } else {
    let expected: ReturnType<typeof readExpected> | undefined;
    try {
      expected = readExpected();
    } catch {
      console.log("\n(no expected list yet: run with --update)");
    }
    if (expected) {
      for (const { name, run } of runs) {
        const diff = compare(run.outcomes, expected);
        const changed = [...diff.regressed, ...diff.improved, ...diff.unknown];
        if (changed.length > 0 || diff.stale.length > 0) status = 1;
        console.log(`\n${name} vs expected list: ${diff.regressed.length} regressed, ${diff.improved.length} newly passing, ${diff.unknown.length} unlisted, ${diff.stale.length} stale`);
        for (const o of diff.regressed) console.log(`  regressed: ${o.id}: ${o.message}`);
        for (const o of diff.improved) console.log(`  newly passing: ${o.id} (run with --update)`);
      }
    }
  }
  return status;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
