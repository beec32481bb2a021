/**
 * `npm run soak`: mixed load (hits, misses, writes, tags, locks, rate limits, invalidation) on
 * `mem://`, `redis://` (with `clientSide`) and `upstash://` from two processes, every read checked
 * against a model; reports heap over time, event-loop delay, p50/p99 per operation and every wrong
 * answer (bench/README.md, "Soak"). Exit code 1 on a wrong answer, an error or heap growth beyond
 * the rule; 2 on bad flags.
 *
 *   npm run soak                                   # 2 minutes, all backends
 *   npm run soak -- --duration 10m                 # longer
 *   npm run soak -- --backends mem,redis --duration 30s --json
 *   npm run soak -- --redis-url redis://127.0.0.1:6379 --bound 2s --sample 5s
 */
import { parseDuration } from "../src/durations.js";
import { formatSoakReport, runSoak, SOAK_BACKENDS, type SoakBackendName, type SoakOptions } from "./lib/soak-run.js";

const USAGE = `usage: npm run soak -- [--duration 2m] [--backends ${SOAK_BACKENDS.join(",")}] [--sample 5s] [--bound 2s] [--redis-url redis://…] [--mem-pause 0] [--json] [--sabotage]`;

function parseArgs(argv: readonly string[]): SoakOptions & { json: boolean } {
  const options: SoakOptions & { json: boolean } = { durationMs: parseDuration("2m"), json: false, log: (line) => console.error(line) };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--duration") options.durationMs = parseDuration(value());
    else if (flag === "--sample") options.sampleMs = parseDuration(value());
    else if (flag === "--bound") options.boundMs = parseDuration(value());
    else if (flag === "--redis-url") options.redisUrl = value();
    else if (flag === "--json") options.json = true;
    else if (flag === "--sabotage") options.sabotage = true;
    else if (flag === "--mem-pause") options.memPauseMs = parseDuration(value());
    else if (flag === "--backends") {
      const names = value().split(",").map((s) => s.trim()).filter(Boolean);
      const bad = names.filter((n) => !(SOAK_BACKENDS as readonly string[]).includes(n));
      if (bad.length || names.length === 0) throw new Error(`unknown backend(s) ${bad.join(", ") || "(none)"}; known: ${SOAK_BACKENDS.join(", ")}`);
      options.backends = names as SoakBackendName[];
    } else if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown flag ${flag}`);
  }
  if (options.durationMs <= 0) throw new Error("--duration must be > 0");
  return options;
}

let args: ReturnType<typeof parseArgs>;
try {
  args = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
const report = await runSoak(args).catch((error: unknown) => {
  console.error(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
if (args.json) console.log(JSON.stringify(report, null, 2));
else console.log(formatSoakReport(report));
process.exitCode = report.ok ? 0 : 1;
