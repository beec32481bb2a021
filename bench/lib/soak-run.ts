/**
 * The soak's orchestrator (bench/soak.ts runs it; test/soak/soak.test.ts runs a short one): starts
 * what the backends need (a redis-server on a free port unless one is given, the Upstash-compatible
 * REST server of test/support/upstash-server.ts in this process), forks two workers
 * (bench/lib/soak-worker.ts), starts them together, relays the shared writers' announcements
 * between them, collects heap samples, checks lock sections and limiter decisions as they arrive
 * ({@link LockChecker}, {@link FixedWindowChecker}: cross-process invariants) and builds the report.
 *
 * @module
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { FixedWindowChecker, LockChecker, type WrongAnswer } from "./soak-check.js";
import { HEAP_RULE, Histogram, heapGrowth, mb, ms, table, type HeapGrowth, type HeapSample } from "./soak-stats.js";
import type { FromWorker, SoakBackend, SoakWorkerConfig, ToWorker, WorkerReport } from "./soak-worker.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WORKER = fileURLToPath(new URL("./soak-worker.ts", import.meta.url));

/** The backends a soak can run. */
export const SOAK_BACKENDS = ["mem", "redis", "upstash"] as const;
/** One of {@link SOAK_BACKENDS}. */
export type SoakBackendName = (typeof SOAK_BACKENDS)[number];

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** How long the load runs, in ms. */
  durationMs: number;
  /** Which backends (all run at once in both processes). Default: all three. */
  backends?: readonly SoakBackendName[];
  /** Heap sample interval (ms); default 5 s, or a sixth of the duration when shorter. */
  sampleMs?: number;
  /** An external redis-server (`redis://host:port`) instead of spawning one. */
  redisUrl?: string;
  /** Staleness bound of shared keys (ms): a read starting later than this after a write must see it. Default 2000. */
  boundMs?: number;
  /**
   * mem:// owner actors wait this long (ms) between operations. Default 0: they only yield to the
   * event loop and run as fast as the CPU lets them (the network backends pace themselves by I/O);
   * a short run inside a test suite passes 1 to leave CPU to the tests beside it.
   */
  memPauseMs?: number;
  /** Every owner actor deletes some of its keys behind its model's back, so wrong answers must be reported (tests the checks end to end). */
  sabotage?: boolean;
  /** Progress lines (e.g. `console.error`); default: none. */
  log?: (line: string) => void;
}

/** Per backend and operation, both processes merged. */
export interface SoakOpReport {
  count: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** What {@link runSoak} found and measured. */
export interface SoakReport {
  durationMs: number;
  backends: SoakBackendName[];
  boundMs: number;
  limiter: { limit: number; periodMs: number };
  processes: {
    proc: number;
    heap: HeapSample[];
    growth: HeapGrowth;
    loopDelay: WorkerReport["loopDelay"];
    gcExposed: boolean;
  }[];
  /** Per backend, per operation. */
  ops: Record<string, Record<string, SoakOpReport>>;
  /** Per backend: the cross-process checks' coverage. */
  coverage: Record<string, { wrong: number; sharedReadsChecked: number; lockSections: number; limiterWindows: number; limiterUndecided: number; admitted: number; refused: number }>;
  wrong: { count: number; first: WrongAnswer[] };
  errors: { count: number; first: string[] };
  /** Whether every process's heap stayed within {@link HEAP_RULE} (undefined: too few samples). */
  heapOk: boolean | undefined;
  /** No wrong answer, no error, no heap growth beyond the rule. */
  ok: boolean;
}

const LIMITER = { limit: 40, periodMs: 1000 };
const LOCK_TTL_MS = 30_000;
const HEAP_ROWS = 13;

class Worker {
  readonly proc: number;
  readonly child: ChildProcess;
  readonly heap: HeapSample[] = [];
  report: WorkerReport | undefined;
  /** From the worker's last log: what it logs from then on is at or after these (see FromWorker). */
  watermarks: { limits: number; locks: number } | undefined;
  #waiters = new Map<string, (message: FromWorker) => void>();
  #failed: ((error: Error) => void)[] = [];

  constructor(proc: number, onMessage: (from: Worker, message: FromWorker) => void) {
    this.proc = proc;
    this.child = fork(WORKER, [], { cwd: ROOT, execArgv: ["--import", "tsx", "--expose-gc"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (message: FromWorker) => {
      if (message.type === "error") return this.#fail(new Error(`soak worker p${proc}: ${message.message}`));
      onMessage(this, message);
      const waiter = this.#waiters.get(message.type);
      if (waiter) {
        this.#waiters.delete(message.type);
        waiter(message);
      }
    });
    this.child.on("exit", (code, signal) => {
      if (!this.#closing) this.#fail(new Error(`soak worker p${proc} exited (${signal ?? code}) before it was done`));
    });
  }

  #closing = false;

  #fail(error: Error): void {
    for (const reject of this.#failed.splice(0)) reject(error);
  }

  send(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }

  next(type: FromWorker["type"], timeoutMs: number): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`soak worker p${this.proc}: no ${type} within ${timeoutMs} ms`)), timeoutMs);
      const done = (message: FromWorker): void => {
        clearTimeout(timer);
        resolve(message);
      };
      this.#waiters.set(type, done);
      this.#failed.push((error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  async close(clear: boolean): Promise<void> {
    this.#closing = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.send({ type: "close", clear });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Runs the soak: mixed load on each backend from two processes for `durationMs`, every read
 * checked against a model. Resolves the report (never throws for wrong answers: read `ok`);
 * rejects when a worker crashes or a server cannot start.
 *
 * @example
 * const report = await runSoak({ durationMs: 120_000 });
 * console.log(formatSoakReport(report));
 * process.exitCode = report.ok ? 0 : 1;
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const names = [...(options.backends ?? SOAK_BACKENDS)];
  const log = options.log ?? (() => {});
  const boundMs = options.boundMs ?? 2000;
  const sampleMs = options.sampleMs ?? Math.max(250, Math.min(5000, Math.floor(options.durationMs / 6)));
  const run = `soak-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const stops: (() => Promise<void>)[] = [];
  const workers: Worker[] = [];
  try {
    let redisUrl = options.redisUrl;
    if (!redisUrl && (names.includes("redis") || names.includes("upstash"))) {
      const { startRedis } = await import("../../test/support/redis-server.js");
      const server = await startRedis();
      stops.push(() => server.stop());
      redisUrl = server.url;
      log(`redis-server ${redisUrl}`);
    }
    const backends: SoakBackend[] = [];
    for (const name of names) {
      if (name === "mem") backends.push({ name, url: "mem://", options: { size: 10_000 }, shared: false });
      else if (name === "redis") backends.push({ name, url: redisUrl!, options: { clientSide: true, namespace: `${run}-redis`, timeout: "10s" }, shared: true });
      else {
        const { startUpstashServer } = await import("../../test/support/upstash-server.js");
        const server = await startUpstashServer({ redisUrl: redisUrl! });
        stops.push(() => server.stop());
        log(`upstash REST server ${server.url}`);
        backends.push({ name, url: server.url.replace(/^http:/, "upstash+http:"), options: { token: server.token, namespace: `${run}-upstash`, timeout: "10s" }, shared: true });
      }
    }
    // Limiter decisions and lock sections of a shared store are checked across both processes; on
    // mem://, per process. Checked as the logs arrive, up to the watermarks the workers send.
    const scopes = new Map<string, Scope>();
    for (const backend of backends) {
      for (const procs of backend.shared ? [[0, 1]] : [[0], [1]]) {
        const key = backend.shared ? backend.name : `${backend.name}:p${procs[0]}`;
        scopes.set(key, {
          backend: backend.name,
          procs,
          limiter: new FixedWindowChecker(key, { ...LIMITER, maxLatencyMs: LIMITER.periodMs / 2 }),
          locks: new LockChecker(key, LOCK_TTL_MS),
        });
      }
    }
    const onMessage = (from: Worker, message: FromWorker): void => {
      if (message.type === "wrote") workers[1 - from.proc]?.send(message);
      else if (message.type === "log") {
        if (message.heap) from.heap.push(message.heap);
        from.watermarks = message.watermarks;
        for (const [name, list] of Object.entries(message.limits)) scopeOf(scopes, name, from.proc).limiter.add(list);
        for (const [name, list] of Object.entries(message.locks)) scopeOf(scopes, name, from.proc).locks.add(list);
        for (const s of scopes.values()) {
          if (!s.procs.includes(from.proc)) continue;
          const marks = s.procs.map((proc) => workers[proc]?.watermarks);
          if (marks.some((m) => m === undefined)) continue;
          s.limiter.settle(Math.min(...marks.map((m) => m!.limits)));
          s.locks.settle(Math.min(...marks.map((m) => m!.locks)));
        }
      } else if (message.type === "done") from.report = message.report;
    };
    workers.push(new Worker(0, onMessage), new Worker(1, onMessage));
    const ready = workers.map((w) => w.next("ready", 60_000));
    workers.forEach((w) => {
      const config: SoakWorkerConfig = { proc: w.proc, run, backends, durationMs: options.durationMs, sampleMs, boundMs, limiter: LIMITER, lockTtlMs: LOCK_TTL_MS, memPauseMs: options.memPauseMs ?? 0, sabotage: options.sabotage ?? false };
      w.send({ type: "start", config });
    });
    await Promise.all(ready);
    log(`two workers ready (pids ${workers.map((w) => w.child.pid).join(", ")}); load for ${options.durationMs} ms on ${names.join(", ")}`);
    const done = workers.map((w) => w.next("done", options.durationMs + 120_000));
    for (const w of workers) w.send({ type: "go" });
    await Promise.all(done);
    await Promise.all(workers.map((w, i) => w.close(i === 0)));
    return buildReport(options.durationMs, names, boundMs, workers, scopes);
  } finally {
    await Promise.allSettled(workers.map((w) => w.close(false)));
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

/** The limiter and lock checkers of one store: a shared one (both processes) or one process's `mem://`. */
interface Scope {
  backend: string;
  procs: number[];
  limiter: FixedWindowChecker;
  locks: LockChecker;
}

function scopeOf(scopes: Map<string, Scope>, name: string, proc: number): Scope {
  return scopes.get(name) ?? scopes.get(`${name}:p${proc}`)!;
}

function buildReport(
  durationMs: number,
  names: SoakBackendName[],
  boundMs: number,
  workers: Worker[],
  scopes: Map<string, Scope>,
): SoakReport {
  const wrong: WrongAnswer[] = [];
  let wrongCount = 0;
  const errorsFirst: string[] = [];
  let errorCount = 0;
  const ops: SoakReport["ops"] = {};
  const coverage: SoakReport["coverage"] = {};
  for (const name of names) {
    const merged = new Map<string, { count: number; errors: number; histogram: Histogram }>();
    let sharedReadsChecked = 0;
    let backendWrong = 0;
    for (const w of workers) {
      const b = w.report!.backends[name]!;
      backendWrong += b.wrong;
      wrong.push(...b.wrongFirst.slice(0, 3));
      errorsFirst.push(...b.errorFirst.map((e) => `${name}:p${w.proc}: ${e}`));
      sharedReadsChecked += b.sharedChecked;
      for (const [op, data] of Object.entries(b.ops)) {
        let m = merged.get(op);
        if (!m) merged.set(op, (m = { count: 0, errors: 0, histogram: new Histogram() }));
        m.count += data.count;
        m.errors += data.errors;
        errorCount += data.errors;
        m.histogram.merge({ counts: data.histogram });
      }
    }
    ops[name] = Object.fromEntries(
      [...merged].sort(([a], [b]) => a.localeCompare(b)).map(([op, m]) => [op, { count: m.count, errors: m.errors, perSecond: m.count / (durationMs / 1000), p50: m.histogram.quantile(0.5), p99: m.histogram.quantile(0.99) }]),
    );
    const limiterErrors = (ops[name]!["limit"]?.errors ?? 0) > 0;
    const cov = { wrong: 0, sharedReadsChecked, lockSections: 0, limiterWindows: 0, limiterUndecided: 0, admitted: 0, refused: 0 };
    for (const s of scopes.values()) {
      if (s.backend !== name) continue;
      const locks = s.locks.finish();
      cov.lockSections += locks.checked;
      cov.wrong += locks.wrongCount;
      wrong.push(...locks.wrong.slice(0, 3));
      const limiter = s.limiter.finish(!limiterErrors);
      cov.limiterWindows += limiter.windows;
      cov.limiterUndecided += limiter.undecided + limiter.late;
      cov.admitted += limiter.admitted;
      cov.refused += limiter.refused;
      cov.wrong += limiter.wrongCount;
      wrong.push(...limiter.wrong.slice(0, 3));
    }
    cov.wrong += backendWrong;
    wrongCount += cov.wrong;
    coverage[name] = cov;
  }
  const processes = workers.map((w) => ({ proc: w.proc, heap: w.heap, growth: heapGrowth(w.heap), loopDelay: w.report!.loopDelay, gcExposed: w.report!.gcExposed }));
  const verdicts = processes.map((p) => p.growth.ok);
  const heapOk = verdicts.includes(false) ? false : verdicts.includes(undefined) ? undefined : true;
  return {
    durationMs,
    backends: names,
    boundMs,
    limiter: LIMITER,
    processes,
    ops,
    coverage,
    wrong: { count: wrongCount, first: wrong.slice(0, 20) },
    errors: { count: errorCount, first: errorsFirst.slice(0, 10) },
    heapOk,
    ok: wrongCount === 0 && errorCount === 0 && heapOk !== false,
  };
}

/**
 * The report as text: heap over time per process and its growth, event-loop delay, p50/p99 and
 * ops/s per backend and operation, the cross-process checks' coverage, errors and wrong answers.
 *
 * @example
 * console.log(formatSoakReport(await runSoak({ durationMs: 60_000 })));
 */
export function formatSoakReport(report: SoakReport): string {
  const out: string[] = [];
  out.push(`soak: ${(report.durationMs / 1000).toFixed(0)} s on ${report.backends.join(", ")}, two processes (all backends at once in each)`);
  out.push("");
  out.push(`heap used (MB, after gc${report.processes.every((p) => p.gcExposed) ? "" : " — NOT exposed, raw"}) over time:`);
  // The samples under load by index (at most HEAP_ROWS rows, evenly spread; the growth rule uses
  // them all), then the one taken after the load stopped.
  const loaded = report.processes.map((p) => p.heap.filter((h) => !h.idle));
  const count = Math.max(0, ...loaded.map((l) => l.length));
  const rows = count <= HEAP_ROWS ? [...Array(count).keys()] : [...new Set(Array.from({ length: HEAP_ROWS }, (_, k) => Math.round((k * (count - 1)) / (HEAP_ROWS - 1))))];
  const at = (i: number): string => ((loaded.find((l) => l[i])?.[i]?.t ?? Number.NaN) / 1000).toFixed(1);
  const idle = report.processes.map((p) => p.heap.find((h) => h.idle));
  out.push(
    table(
      ["t (s)", ...report.processes.map((p) => `p${p.proc}`)],
      [
        ...rows.map((i) => [at(i), ...loaded.map((l) => (l[i] ? mb(l[i]!.heapUsed) : "-"))]),
        ...(idle.some(Boolean) ? [["after load", ...idle.map((h) => (h ? mb(h.heapUsed) : "-"))]] : []),
      ],
    ),
  );
  out.push("");
  out.push(`heap growth, median of the first third → the last third (rule: last ≤ first × ${HEAP_RULE.factor} + ${mb(HEAP_RULE.slackBytes)} MB):`);
  for (const p of report.processes) {
    const g = p.growth;
    out.push(`  p${p.proc}: ${mb(g.first)} → ${mb(g.last)} MB (${g.last >= g.first ? "+" : ""}${mb(g.last - g.first)} MB; allowed ${mb(g.allowed)}): ${g.ok === undefined ? "too few samples" : g.ok ? "ok" : "GROWTH"}`);
  }
  out.push("");
  out.push("event-loop delay beyond the 10 ms sampling interval (ms):");
  out.push(table(["process", "p50", "p99", "max"], report.processes.map((p) => [`p${p.proc}`, ms(p.loopDelay.p50), ms(p.loopDelay.p99), ms(p.loopDelay.max)])));
  out.push("");
  out.push("operations (both processes; latency in ms, ~4 % buckets):");
  const opRows: string[][] = [];
  for (const name of report.backends) {
    for (const [op, o] of Object.entries(report.ops[name] ?? {})) {
      opRows.push([`${name} ${op}`, String(o.count), o.perSecond.toFixed(0), ms(o.p50), ms(o.p99), String(o.errors)]);
    }
  }
  out.push(table(["backend op", "count", "ops/s", "p50", "p99", "errors"], opRows));
  out.push("");
  out.push(`cross-process checks (shared-key bound ${report.boundMs} ms; limiter fixed ${report.limiter.limit} per ${report.limiter.periodMs} ms):`);
  out.push(
    table(
      ["backend", "wrong answers", "shared reads checked", "lock sections", "limiter windows", "undecided", "admitted", "refused"],
      report.backends.map((name) => {
        const c = report.coverage[name]!;
        return [name, String(c.wrong), String(c.sharedReadsChecked), String(c.lockSections), String(c.limiterWindows), String(c.limiterUndecided), String(c.admitted), String(c.refused)];
      }),
    ),
  );
  out.push("");
  out.push(`errors: ${report.errors.count}${report.errors.first.map((e) => `\n  ${e}`).join("")}`);
  out.push(`wrong answers: ${report.wrong.count}${report.wrong.first.map((w) => `\n  [${w.check}] ${w.where}: ${w.detail}`).join("")}`);
  out.push(`verdict: ${report.ok ? "OK" : "FAIL"}`);
  return out.join("\n");
}
