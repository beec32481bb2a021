/**
 * The rate-limit tier (issue 18, item 4): cashews' limiter against @upstash/ratelimit on the same
 * Upstash-compatible REST server (test/support/upstash-server.ts, in this process, in front of a
 * real redis-server), and against rate-limiter-flexible on `redis://`. Every contender runs in its own
 * child process (bench/lib/ratelimit-child.ts); this process holds the REST server and a counting
 * TCP proxy (bench/lib/resp-proxy.ts) and reads their counters around each counted run.
 *
 * Per contender and algorithm (fixed window, sliding window, token bucket):
 * - calls per second, sequential and 100 in flight, on one id and spread over 10,000 ids, every call
 *   admitted (limit 1,000,000 per 60 s; a fresh key prefix per measurement);
 * - backend round trips per call: Upstash: HTTP requests counted by the REST server (and the Redis
 *   commands it ran); Redis: top-level commands (and reads of client data) counted by the proxy (not
 *   `INFO commandstats`, which also counts the commands a Lua script runs inside Redis);
 * - the admitted-count error: 1,000 concurrent calls against a limit of 100 on a fresh id (period
 *   1 h): admitted − 100 (target 0);
 * - an already-blocked id (limit 100 per hour, 150 calls made first): round trips per call and calls
 *   per second without and with the in-process cache of blocked ids (cashews `ephemeral: true`,
 *   @upstash/ratelimit `ephemeralCache`, rate-limiter-flexible `inMemoryBlockOnConsumed`).
 *
 * Run by the suite (`BENCH_TIER=ratelimit npm run bench`, `BENCH_OUT=bench/results/ratelimit.md`
 * writes it), or alone: `node --import tsx bench/ratelimit.ts` (own redis-server; BENCH_OUT too).
 * Env: BENCH_RL_ROUNDS (throughput rounds, default 5), BENCH_MS (ms per throughput measurement,
 * default 250), BENCH_RL_ADMIT (admitted-count trials per algorithm, default 5).
 */
import { execFileSync, fork, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { arch, cpus, loadavg, platform, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startUpstashServer, type UpstashServer } from "../test/support/upstash-server.js";
import { ALGORITHMS, type Algorithm, type ContenderId, type LimiterSpec } from "./contenders/ratelimit.js";
import { closeChild, gitState, median } from "./lib/common.js";
import type { FromRl, Ids, RlEnv, ToRl } from "./lib/ratelimit-child.js";
import { startCountingProxy, type CountingProxy } from "./lib/resp-proxy.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BENCH = join(ROOT, "bench");
const CHILD = join(BENCH, "lib", "ratelimit-child.ts");
const ROUNDS = Number(process.env.BENCH_RL_ROUNDS ?? 5);
const MS = Number(process.env.BENCH_MS ?? 250);
const ADMIT_TRIALS = Number(process.env.BENCH_RL_ADMIT ?? 5);
const WIDTH = 100;
const MANY = 10_000;
/** Throughput runs: never refused. */
const OPEN: Omit<LimiterSpec, "algorithm" | "prefix"> = { limit: 1_000_000, periodMs: 60_000, ephemeral: false };
const ADMIT_LIMIT = 100;
const ADMIT_CALLS = 1000;
/** The admitted-count test is also run split over this many processes (ADMIT_CALLS / PROCS each, started together). */
const PROCS = 4;
const BLOCK_LIMIT = 100;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

interface ContenderInfo {
  id: ContenderId;
  backend: "upstash" | "redis";
  cashews: boolean;
  label: string;
  algorithms: readonly Algorithm[];
}

function version(pkg: string): string {
  for (const dir of [join(BENCH, "node_modules"), join(ROOT, "node_modules")]) {
    const file = join(dir, pkg, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  }
  return "not installed";
}

const CONTENDERS: ContenderInfo[] = [
  { id: "cashews-upstash", backend: "upstash", cashews: true, label: "cashews `cache.limiter` on upstash+http://", algorithms: ALGORITHMS },
  {
    id: "upstash-ratelimit",
    backend: "upstash",
    cashews: false,
    label: `@upstash/ratelimit ${version("@upstash/ratelimit")} (@upstash/redis ${version("@upstash/redis")}, client defaults)`,
    algorithms: ALGORITHMS,
  },
  { id: "cashews-redis", backend: "redis", cashews: true, label: "cashews `cache.limiter` on redis://", algorithms: ALGORITHMS },
  {
    id: "rate-limiter-flexible",
    backend: "redis",
    cashews: false,
    label: `rate-limiter-flexible ${version("rate-limiter-flexible")} RateLimiterRedis (ioredis ${version("ioredis")})`,
    algorithms: ["fixed"],
  },
];

class RlChild {
  readonly proc: ChildProcess;
  #waiting: ((m: FromRl) => void) | undefined;
  #exited: Error | undefined;

  constructor(readonly name: string, pin?: (pid: number | undefined) => void) {
    this.proc = fork(CHILD, [], { cwd: ROOT, execArgv: ["--import", "tsx", "--expose-gc"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    pin?.(this.proc.pid);
    this.proc.on("message", (m: FromRl) => {
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.(m);
    });
    this.proc.on("exit", (code, signal) => {
      this.#exited = new Error(`${name}: child exited (code ${code}, signal ${signal})`);
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.({ type: "error", message: this.#exited.message });
    });
  }

  request(message: ToRl, timeoutMs = 120_000): Promise<FromRl> {
    if (this.#exited) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        reject(new Error(`${this.name}: no answer to ${message.type} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#waiting = (m) => {
        clearTimeout(timer);
        if (m.type === "error") reject(new Error(m.message));
        else resolve(m);
      };
      this.proc.send(message);
    });
  }

  async make(name: string, spec: LimiterSpec, via: "direct" | "count" = "direct"): Promise<void> {
    const m = await this.request({ type: "make", name, spec, via });
    if (m.type === "pending") throw new Pending(m.message);
  }

  async run(name: string, width: number, ids: Ids, size: { calls?: number; ms?: number }): Promise<Extract<FromRl, { type: "ran" }>> {
    return (await this.request({ type: "run", name, width, ids, ...size })) as Extract<FromRl, { type: "ran" }>;
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    await closeChild(this.proc, { type: "close" } satisfies ToRl);
  }
}

class Pending extends Error {}

/** Round trips of one counted run: requests (Upstash: HTTP requests; Redis: client writes) and commands (top-level). */
interface Count {
  requests: number;
  commands: number;
  calls: number;
}
interface Blocked {
  count: Count;
  admitted: number;
  ns: number;
  /** Calls admitted among the 150 made to block the id (must be the limit). */
  before: number;
}
interface Cell {
  pending?: string;
  failure?: string;
  /** ns per call over the rounds, per mode. */
  tp: Record<Mode, number[]>;
  tpAdmittedShare: number[];
  rtSeq?: Count;
  rtFlight?: Count;
  blocked?: { plain: Blocked; ephemeral: Blocked };
  /** admitted − limit per trial. */
  admitErrors: number[];
  /** The same, the calls split over PROCS processes. */
  admitErrorsProcs: number[];
  timeouts: number;
}
type Mode = "seqOne" | "seqMany" | "flightOne" | "flightMany";
const MODES: { mode: Mode; width: number; many: boolean; title: string }[] = [
  { mode: "seqOne", width: 1, many: false, title: "sequential, one id" },
  { mode: "seqMany", width: 1, many: true, title: `sequential, ${MANY.toLocaleString("en")} ids` },
  { mode: "flightOne", width: WIDTH, many: false, title: `${WIDTH} in flight, one id` },
  { mode: "flightMany", width: WIDTH, many: true, title: `${WIDTH} in flight, ${MANY.toLocaleString("en")} ids` },
];

const firstLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 200);

export interface RatelimitOptions {
  redisUrl: string;
  /** Pins a contender process (the suite's CPU placement). */
  pin?: (pid: number | undefined) => void;
  /** One line saying how processes were placed (for the header). */
  placement?: string;
  redisVersion?: string;
}

export async function measureRatelimit(options: RatelimitOptions): Promise<string> {
  const started = Date.now();
  const loadAtStart = loadavg()[0]!;
  const upstash: UpstashServer = await startUpstashServer({ redisUrl: options.redisUrl });
  const proxy: CountingProxy = await startCountingProxy(options.redisUrl);
  const env: RlEnv = { redisUrl: options.redisUrl, countUrl: proxy.url, upstashUrl: upstash.url, upstashToken: upstash.token };
  const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
  const infos = only ? CONTENDERS.filter((c) => only.includes(c.id)) : CONTENDERS;
  const cells = new Map<string, Cell>();
  const key = (c: ContenderId, a: Algorithm) => `${c}/${a}`;
  const children = new Map<ContenderId, RlChild>();
  const runId = Date.now().toString(36);
  let seq = 0;
  const prefix = (c: ContenderId, what: string, a: Algorithm) => `rl${runId}:${c}:${a}:${what}:${seq++}`;

  const counted = async <T>(backend: "upstash" | "redis", body: () => Promise<T>): Promise<[T, { requests: number; commands: number }]> => {
    upstash.resetCount();
    proxy.reset();
    const result = await body();
    return [result, backend === "upstash" ? { requests: upstash.requests, commands: upstash.commands } : { requests: proxy.writes, commands: proxy.commands }];
  };

  try {
    for (const info of infos) {
      const child = new RlChild(info.id, options.pin);
      await child.request({ type: "init", contender: info.id, env });
      children.set(info.id, child);
      for (const a of info.algorithms) cells.set(key(info.id, a), { tp: { seqOne: [], seqMany: [], flightOne: [], flightMany: [] }, tpAdmittedShare: [], admitErrors: [], admitErrorsProcs: [], timeouts: 0 });
    }
    const live = (info: ContenderInfo, a: Algorithm) => {
      const cell = cells.get(key(info.id, a))!;
      return !cell.pending && !cell.failure;
    };
    const guard = async (info: ContenderInfo, a: Algorithm, what: string, body: () => Promise<void>) => {
      const cell = cells.get(key(info.id, a))!;
      if (cell.pending || cell.failure) return;
      try {
        await body();
      } catch (error) {
        if (error instanceof Pending) cell.pending = error.message;
        else {
          cell.failure = `${what}: ${firstLine(error)}`;
          log(`  ratelimit ${info.id}/${a}: FAILED ${cell.failure}`);
        }
      }
    };

    // ---------------------------------------------------------------- round trips per call (admitted, blocked)
    log("ratelimit tier: round trips, blocked ids");
    for (const info of infos) {
      const child = children.get(info.id)!;
      for (const a of info.algorithms) {
        await guard(info, a, "round trips", async () => {
          const cell = cells.get(key(info.id, a))!;
          const name = `rt-${a}`;
          await child.make(name, { ...OPEN, algorithm: a, prefix: prefix(info.id, "rt", a) }, "count");
          await child.run(name, 1, { one: "warm-up" }, { calls: 3 }); // scripts loaded, connections open
          const many: Ids = { many: "u", count: MANY };
          const [s, sc] = await counted(info.backend, () => child.run(name, 1, many, { calls: 200 }));
          cell.rtSeq = { ...sc, calls: s.calls };
          const [f, fc] = await counted(info.backend, () => child.run(name, WIDTH, { many: "v", count: MANY }, { calls: 1000 }));
          cell.rtFlight = { ...fc, calls: f.calls };
          if (s.admitted !== s.calls || f.admitted !== f.calls) throw new Error(`refused calls under an open limit (${s.admitted}/${s.calls}, ${f.admitted}/${f.calls})`);
          const blocked = async (ephemeral: boolean): Promise<Blocked> => {
            const bname = `bl-${a}-${ephemeral}`;
            await child.make(bname, { algorithm: a, limit: BLOCK_LIMIT, periodMs: 3_600_000, ephemeral, prefix: prefix(info.id, "bl", a) }, "count");
            await child.run(bname, 1, { one: "warm-up" }, { calls: 1 });
            const first = await child.run(bname, 1, { one: "b" }, { calls: BLOCK_LIMIT + 50 });
            const [r, rc] = await counted(info.backend, () => child.run(bname, WIDTH, { one: "b" }, { calls: 1000 }));
            return { count: { ...rc, calls: r.calls }, admitted: r.admitted, ns: r.ns, before: first.admitted };
          };
          cell.blocked = { plain: await blocked(false), ephemeral: await blocked(true) };
        });
      }
    }

    // ---------------------------------------------------------------- admitted-count error
    log(`ratelimit tier: admitted-count error, ${ADMIT_CALLS} concurrent calls against ${ADMIT_LIMIT}, ${ADMIT_TRIALS} trials`);
    for (let t = 0; t < ADMIT_TRIALS; t++) {
      for (const info of infos) {
        const child = children.get(info.id)!;
        for (const a of info.algorithms) {
          await guard(info, a, "admitted count", async () => {
            const cell = cells.get(key(info.id, a))!;
            const name = `ad-${a}-${t}`;
            await child.make(name, { algorithm: a, limit: ADMIT_LIMIT, periodMs: 3_600_000, ephemeral: false, prefix: prefix(info.id, "ad", a) });
            await child.run(name, 1, { one: "warm-up" }, { calls: 1 });
            const r = await child.run(name, ADMIT_CALLS, { one: "x" }, { calls: ADMIT_CALLS });
            cell.admitErrors.push(r.admitted - ADMIT_LIMIT);
            cell.timeouts += r.timeouts;
          });
        }
      }
    }
    log(`ratelimit tier: admitted-count error, the same over ${PROCS} processes`);
    for (const info of infos) {
      if (info.algorithms.every((a) => !live(info, a))) continue;
      const helpers = Array.from({ length: PROCS }, (_, k) => new RlChild(`${info.id}#${k}`, options.pin));
      try {
        await Promise.all(helpers.map((h) => h.request({ type: "init", contender: info.id, env })));
        for (let t = 0; t < ADMIT_TRIALS; t++) {
          for (const a of info.algorithms) {
            await guard(info, a, `admitted count over ${PROCS} processes`, async () => {
              const cell = cells.get(key(info.id, a))!;
              const name = `adp-${a}-${t}`;
              const spec: LimiterSpec = { algorithm: a, limit: ADMIT_LIMIT, periodMs: 3_600_000, ephemeral: false, prefix: prefix(info.id, "adp", a) };
              for (const h of helpers) {
                await h.make(name, spec);
                await h.run(name, 1, { one: "warm-up" }, { calls: 1 });
              }
              const each = ADMIT_CALLS / PROCS;
              const runs = await Promise.all(helpers.map((h) => h.run(name, each, { one: "x" }, { calls: each })));
              cell.admitErrorsProcs.push(runs.reduce((sum, r) => sum + r.admitted, 0) - ADMIT_LIMIT);
              cell.timeouts += runs.reduce((sum, r) => sum + r.timeouts, 0);
            });
          }
        }
      } finally {
        for (const h of helpers) await h.close().catch(() => h.proc.kill("SIGKILL"));
      }
    }

    // ---------------------------------------------------------------- throughput
    const pairs = infos.flatMap((info) => info.algorithms.map((a) => ({ info, a })));
    for (let round = -1; round < ROUNDS; round++) {
      const order = pairs.map((_, k) => pairs[(k + Math.max(0, round)) % pairs.length]!);
      for (const { info, a } of order) {
        if (!live(info, a)) continue;
        const child = children.get(info.id)!;
        await guard(info, a, `throughput round ${round + 1}`, async () => {
          const cell = cells.get(key(info.id, a))!;
          for (const m of MODES) {
            const name = `tp-${a}-${round}-${m.mode}`;
            await child.make(name, { ...OPEN, algorithm: a, prefix: prefix(info.id, "tp", a) });
            await child.run(name, 1, { one: "warm-up" }, { calls: 1 });
            const r = await child.run(name, m.width, m.many ? { many: "u", count: MANY } : { one: "hot" }, { ms: round < 0 ? MS / 2 : MS });
            if (round < 0) continue; // warm-up round (JIT, connections), not recorded
            cell.tp[m.mode].push(r.ns);
            cell.tpAdmittedShare.push(r.admitted / r.calls);
            cell.timeouts += r.timeouts;
          }
        });
      }
      if (round >= 0) log(`  ratelimit: throughput round ${round + 1}/${ROUNDS} done`);
    }
  } finally {
    for (const child of children.values()) await child.close().catch(() => child.proc.kill("SIGKILL"));
    await proxy.stop();
    await upstash.stop();
  }

  return report(infos, (c, a) => cells.get(key(c, a)), {
    ...options,
    seconds: Math.round((Date.now() - started) / 1000),
    loadAtStart,
  });
}

// -------------------------------------------------------------------- report
const cps = (ns: number | undefined): string => (ns === undefined ? "–" : Math.round(1e9 / ns).toLocaleString("en"));
const per = (n: number, calls: number): string => {
  if (calls === 0) return "–";
  const x = n / calls;
  return n % calls === 0 ? String(x) : x < 0.1 ? x.toPrecision(2) : x.toFixed(2);
};
const ALGO_TITLE: Record<Algorithm, string> = { fixed: "fixed window", sliding: "sliding window", tokenBucket: "token bucket" };
const verdict = (ok: boolean): string => (ok ? "PASS" : "**MISS**");

function report(
  infos: ContenderInfo[],
  cellOf: (c: ContenderId, a: Algorithm) => Cell | undefined,
  meta: RatelimitOptions & { seconds: number; loadAtStart: number },
): string {
  const cpu = cpus();
  const lines: string[] = [
    "# cashews vs peers: rate limiting (issue 18, item 4)",
    "",
    `- Date: ${new Date().toISOString().slice(0, 10)}; Node ${process.version} on ${platform()} ${arch()}; ${cpu.length} × ${cpu[0]?.model.trim() ?? "?"}; ${Math.round(totalmem() / 2 ** 30)} GiB` +
      (meta.redisVersion ? `; redis-server ${meta.redisVersion} (local, same machine)` : "") +
      `; 1-min load average ${meta.loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`,
    `- ${gitState()}.`,
    ...(meta.placement ? [`- ${meta.placement}`] : []),
    `- Each contender in its own child process for the whole run (\`node --import tsx --expose-gc\`); the Upstash-compatible REST server (test/support/upstash-server.ts) and the counting proxy run in the parent process, in front of one redis-server. Wall time of this run: ${meta.seconds} s.`,
    "- Run: `BENCH_TIER=ratelimit BENCH_OUT=bench/results/ratelimit.md npm run bench` (or `node --import tsx bench/ratelimit.ts`); `BENCH_RL_ROUNDS`, `BENCH_MS`, `BENCH_RL_ADMIT`, `BENCH_ONLY`.",
    "",
    `## Calls per second (every call admitted: limit 1,000,000 per 60 s, a fresh key prefix per measurement)`,
    "",
    `Median over ${ROUNDS} interleaved rounds (order rotated per round, after one unrecorded warm-up round) of one ≈ ${MS} ms measurement each; "× peer" is cashews' calls per second over the peer's on the same backend and algorithm (> 1: cashews ahead), the median of the per-round ratios.`,
    "",
    `| backend | algorithm | contender | ${MODES.map((m) => m.title).join(" | ")} | × peer (the four columns) |`,
    `|---|---|---|${MODES.map(() => "--:").join("|")}|---|`,
  ];
  const peerOf = (info: ContenderInfo) => infos.find((i) => i.backend === info.backend && i.cashews !== info.cashews);
  for (const info of infos) {
    for (const a of ALGORITHMS) {
      const cell = cellOf(info.id, a);
      const head = `| ${info.backend === "upstash" ? "upstash://" : "redis://"} | ${ALGO_TITLE[a]} | ${info.label} |`;
      if (!cell) {
        lines.push(`${head} ${MODES.map(() => "–").join(" | ")} | no ${ALGO_TITLE[a]} in this library (its RateLimiterRedis is a fixed window) |`);
        continue;
      }
      if (cell.pending) {
        lines.push(`${head} ${MODES.map(() => "pending").join(" | ")} | pending (${cell.pending}) |`);
        continue;
      }
      const values = MODES.map((m) => (cell.tp[m.mode].length ? cps(median(cell.tp[m.mode])) : "–"));
      let note = cell.failure ? `**${cell.failure}**` : "";
      const peer = peerOf(info);
      const peerCell = peer ? cellOf(peer.id, a) : undefined;
      if (info.cashews && peerCell && !peerCell.pending && peerCell.tp.seqOne.length && cell.tp.seqOne.length) {
        const ratios = MODES.map((m) => {
          const xs = cell.tp[m.mode].flatMap((ns, r) => (peerCell.tp[m.mode][r] === undefined ? [] : [peerCell.tp[m.mode][r]! / ns]));
          return xs.length ? median(xs) : undefined;
        });
        note = `${ratios.map((r) => (r === undefined ? "–" : `${r.toFixed(2)}×`)).join(" / ")}; ahead: ${verdict(ratios.every((r) => r !== undefined && r > 1))}` + (note ? `; ${note}` : "");
      }
      if (cell.tpAdmittedShare.some((s) => s < 1)) note += `${note ? "; " : ""}**some calls refused (min admitted share ${Math.min(...cell.tpAdmittedShare).toFixed(3)})**`;
      lines.push(`${head} ${values.join(" | ")} | ${note} |`);
    }
  }

  lines.push(
    "",
    "## Backend round trips per call",
    "",
    "Upstash: HTTP requests counted by the REST server / Redis commands it ran (a pipeline's items one by one). Redis: client data reads at the proxy / top-level RESP commands, counted by a TCP proxy between the contender and redis-server (bench/lib/resp-proxy.ts; `INFO commandstats` and `total_commands_processed` also count the commands a Lua script runs inside Redis, so they are not used); the commands are exact, the reads a lower bound on the client's writes (writes made back to back, e.g. in one tick, can arrive as one read), so on redis:// the second number is the round-trip count to read. Counted after a warm-up call (scripts loaded, connections open). Admitted: 200 sequential calls, then 1,000 calls 100 in flight, over 10,000 fresh ids (open limit). Blocked: a limit of 100 per hour (token bucket: 100 refilled per hour, so no token comes back during the test), 150 sequential calls on one id first, then 1,000 calls 100 in flight on that id; \"ephemeral\" is the in-process cache of blocked ids (cashews `ephemeral: true`, @upstash/ratelimit `ephemeralCache: new Map()`, rate-limiter-flexible `inMemoryBlockOnConsumed: limit + 1`).",
    "",
    "| backend | algorithm | contender | admitted, sequential | admitted, 100 in flight | blocked id | blocked id, ephemeral | blocked calls/s (100 in flight): plain / ephemeral | notes |",
    "|---|---|---|--:|--:|--:|--:|--:|---|",
  );
  const fmtCount = (c: Count | undefined): string => (c === undefined ? "–" : `${per(c.requests, c.calls)} / ${per(c.commands, c.calls)}`);
  for (const info of infos) {
    for (const a of info.algorithms) {
      const cell = cellOf(info.id, a)!;
      const head = `| ${info.backend === "upstash" ? "upstash://" : "redis://"} | ${ALGO_TITLE[a]} | ${info.label} |`;
      if (cell.pending) {
        lines.push(`${head} pending | pending | pending | pending | pending | pending |`);
        continue;
      }
      const b = cell.blocked;
      const notes: string[] = [];
      if (b) {
        if (b.plain.admitted || b.ephemeral.admitted) notes.push(`**blocked id admitted ${b.plain.admitted} / ${b.ephemeral.admitted} calls**`);
        if (b.plain.before !== BLOCK_LIMIT || b.ephemeral.before !== BLOCK_LIMIT)
          notes.push(`**${b.plain.before} / ${b.ephemeral.before} of the first ${BLOCK_LIMIT + 50} sequential calls admitted (limit ${BLOCK_LIMIT})**`);
        if (info.cashews) notes.push(`ephemeral: no round trip on a blocked id ${verdict(b.ephemeral.count.requests === 0 && b.ephemeral.count.commands === 0)}`);
      }
      if (cell.failure) notes.push(`**${cell.failure}**`);
      lines.push(
        `${head} ${fmtCount(cell.rtSeq)} | ${fmtCount(cell.rtFlight)} | ${fmtCount(b?.plain.count)} | ${fmtCount(b?.ephemeral.count)} | ${b ? `${cps(b.plain.ns)} / ${cps(b.ephemeral.ns)}` : "–"} | ${notes.join("; ")} |`,
      );
    }
  }

  lines.push(
    "",
    `## Admitted-count error: ${ADMIT_CALLS.toLocaleString("en")} concurrent calls against a limit of ${ADMIT_LIMIT}`,
    "",
    `A fresh limiter (limit ${ADMIT_LIMIT}, period 1 h, token bucket: ${ADMIT_LIMIT} tokens refilled per hour) and a fresh id per trial; after one warm-up call on another id, ${ADMIT_CALLS.toLocaleString("en")} calls on the id started together from one process (\`Promise.all\`), and again split over ${PROCS} processes (${ADMIT_CALLS / PROCS} each, one \`Promise.all\` each, the ${PROCS} runs started by one message each at the same time); admitted − ${ADMIT_LIMIT}, ${ADMIT_TRIALS} trials each. Target 0.`,
    "",
    `| backend | algorithm | contender | admitted − limit per trial: one process | ${PROCS} processes | worst | target 0 | notes |`,
    "|---|---|---|---|---|--:|---|---|",
  );
  for (const info of infos) {
    for (const a of info.algorithms) {
      const cell = cellOf(info.id, a)!;
      const head = `| ${info.backend === "upstash" ? "upstash://" : "redis://"} | ${ALGO_TITLE[a]} | ${info.label} |`;
      if (cell.pending) {
        lines.push(`${head} pending | pending | – | pending | |`);
        continue;
      }
      const all = [...cell.admitErrors, ...cell.admitErrorsProcs];
      const worst = all.length ? all.reduce((w, e) => (Math.abs(e) > Math.abs(w) ? e : w), 0) : undefined;
      const signed = (xs: number[]) => xs.map((e) => (e > 0 ? `+${e}` : String(e))).join(", ") || "–";
      const notes: string[] = [];
      if (cell.timeouts)
        notes.push(
          `**${cell.timeouts} call(s) admitted without the store's answer** (${info.cashews ? "safe mode: a backend error or command timeout fails open, remaining NaN" : "its timeout: answer later than 5 s"}; over this table's and the throughput runs)`,
        );
      if (cell.failure) notes.push(`**${cell.failure}**`);
      lines.push(
        `${head} ${signed(cell.admitErrors)} | ${signed(cell.admitErrorsProcs)} | ${worst === undefined ? "–" : worst > 0 ? `+${worst}` : worst} | ${worst === undefined ? "–" : verdict(worst === 0)} | ${notes.join("; ")} |`,
      );
    }
  }

  lines.push(
    "",
    "Notes:",
    "- rate-limiter-flexible's `RateLimiterRedis` is a fixed window (one counter per key, `SET NX EX` + `INCRBY` in one Lua script; the window starts at the key's first call, not at a clock boundary); it has no sliding window or token bucket on Redis, so it is compared on the fixed window only. It keeps incrementing the counter past the limit (refused calls are counted too), which does not change the admitted count.",
    "- @upstash/ratelimit's fixed window is aligned to clock boundaries (`floor(now / window)`), its sliding window is an estimate (the previous window's count weighted by its remaining share), and its token bucket refills by the caller's clock passed to its script; cashews' windows start at the first call, its sliding window is an exact log of the admitted calls, its token bucket refills by the store's clock (src/backends/limits.ts).",
    "- @upstash/ratelimit runs with its client's defaults (`new Redis({ url, token })` of @upstash/redis: automatic deserialisation and auto-pipelining on, so calls started in the same tick share one HTTP request) and `analytics: false`; its default `timeout` of 5 s admits a call whose answer is later (counted in the notes when it happens). It needs no client option (it works with automatic deserialisation on); it calls `EVALSHA` and falls back to `EVAL` on `NOSCRIPT`. Its 2.2 scripts start with `#!lua flags=allow-key-locking`, an Upstash-only flag that redis-server 7 refuses (\"Unexpected flag in script shebang\"); the bench's client drops that flag from the shebang and maps the script's SHA1 to the sent script's, so `EVALSHA` hits after the first `EVAL`: the same requests and commands as on Upstash (bench/contenders/ratelimit.ts, `withoutKeyLocking`).",
    "- \"One id\": every call on the same id (one key, the state of one limiter growing with the calls admitted in the measurement: for cashews' exact sliding window, a log of up to the calls made in it). \"10,000 ids\": ids cycled, so each sees a call every 10,000.",
    "- cashews' limit calls made in the same tick share `LIMIT` scripts, at most 16 calls per script on redis:// and 32 on upstash:// (src/backends/remote.ts, `LimitBatcher`), each sent as soon as it is full: on redis:// the scripts go out together on the backend's limit lane, a second connection that carries only these scripts once it is open (src/backends/redis/lane.ts; hence fewer commands than calls in the tables above), on upstash:// each script in an HTTP request of its own, sent together; each call is decided as if alone, in the order of the calls. On Node, cashews' upstash:// requests go through `node:http` with a keep-alive agent, not `fetch` (src/backends/upstash/node-requester.ts); @upstash/ratelimit uses its client's `fetch`.",
    "- The machine is shared (other work may run during the benchmark): treat differences under ~10 % as noise.",
  );
  return lines.join("\n");
}


// Alone: its own redis-server (pinned like the suite's, unless BENCH_PIN=0).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { startRedis } = await import("../test/support/redis-server.js");
  const redis = await startRedis();
  const pinned = process.env.BENCH_PIN !== "0" && cpus().length >= 2 && spawnSync("taskset", ["-V"]).status === 0;
  const pin = (pid: number | undefined, cpu: string) => pid !== undefined && pinned && spawnSync("taskset", ["-a", "-pc", cpu, String(pid)], { stdio: "ignore" });
  pin(redis.pid, String(cpus().length - 1));
  try {
    const doc = await measureRatelimit({
      redisUrl: redis.url,
      pin: (pid) => pin(pid, "0"),
      placement: pinned ? `CPU placement: redis-server pinned to CPU ${cpus().length - 1}, every contender's process to CPU 0 (\`taskset\`); the REST server and proxy (this process) not pinned.` : "CPU placement: not pinned.",
      redisVersion: execFileSync(process.env.REDIS_SERVER_BIN ?? "redis-server", ["--version"], { encoding: "utf8" }).match(/v=(\S+)/)?.[1],
    });
    console.log(doc);
    if (process.env.BENCH_OUT) {
      writeFileSync(process.env.BENCH_OUT, `${doc}\n`);
      log(`written to ${process.env.BENCH_OUT}`);
    }
  } finally {
    await redis.stop();
  }
}
