/**
 * The metric catalog of the observability integrations (`cashews/otel`, `cashews/prometheus`):
 * one place for every metric's names (OpenTelemetry style and Prometheus style), unit,
 * description, labels and histogram buckets, so both integrations expose THE SAME metrics. The
 * values come from the {@link Probe} records (src/core/probe.ts): which record feeds which metric
 * is said on each entry. Not reachable from `cashews` or `cashews/core`.
 * @internal
 * @module
 */
import type { Probe } from "./probe.js";

/**
 * One label of the catalog: its OpenTelemetry attribute name and its Prometheus label name.
 * @internal
 */
export interface LabelSpec {
  /** The attribute name on OpenTelemetry metrics (and spans). */
  readonly otel: string;
  /** The label name on Prometheus metrics. */
  readonly prometheus: string;
}

/**
 * The labels metrics carry (keys of {@link LABELS}). Values:
 * - `backend`: the route's label, as events have it (`"redis"`, `"mem"`, `"mem@user:"`).
 * - `strategy`: the decorated call's strategy (`"cache"`, `"early"`, `"locked"`…), or
 *   {@link NO_STRATEGY} for direct commands (`cache.get`, `cache.set`) outside a decorated call.
 * - `system`: {@link dbSystem} of the route's scheme (`"redis"`, `"cashews.memory"`…).
 * - `command`: the {@link Command} that ran (`"get"`, `"set"`, `"set_lock"`, `"get_many"`…).
 * - `outcome`: `"ok"` or `"error"` (a command); `kind`: `"lock"` | `"single-flight"` | `"in-flight"` (a wait);
 * - `limiter`: the limiter's key prefix (`limiter()`, hono's `rateLimit`), else the strategy's name; `decision`: `"allowed"` or `"refused"`.
 * @internal
 */
export const LABELS = {
  backend: { otel: "cashews.backend", prometheus: "backend" },
  strategy: { otel: "cashews.strategy", prometheus: "strategy" },
  system: { otel: "db.system.name", prometheus: "system" },
  command: { otel: "db.operation.name", prometheus: "command" },
  outcome: { otel: "cashews.outcome", prometheus: "outcome" },
  kind: { otel: "cashews.wait.kind", prometheus: "kind" },
  limiter: { otel: "cashews.limiter", prometheus: "limiter" },
  decision: { otel: "cashews.decision", prometheus: "decision" },
} as const satisfies Record<string, LabelSpec>;

/** A label of the catalog. @internal */
export type Label = keyof typeof LABELS;

/** The `strategy` label of a command outside every decorated call. @internal */
export const NO_STRATEGY = "none";

/**
 * One metric: a counter (monotonic, by 1 per record) or a histogram (of seconds).
 * @internal
 */
export interface MetricSpec {
  readonly kind: "counter" | "histogram";
  /** OpenTelemetry instrument name (semantic-conventions style: dotted, unit not in the name). */
  readonly otel: string;
  /** Prometheus metric name (`_total` for counters, the unit as suffix for histograms). */
  readonly prometheus: string;
  /** UCUM unit for OpenTelemetry (`"s"`, or an annotation such as `"{hit}"`). */
  readonly unit: string;
  readonly description: string;
  /** The labels, in this order (the Prometheus label names; see {@link LABELS}). */
  readonly labels: readonly Label[];
  /** Histogram bucket upper bounds (seconds). */
  readonly buckets?: readonly number[];
}

/** Buckets of the duration histograms (seconds): 100 µs to 10 s. @internal */
export const DURATION_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The metrics. Each says which probe record feeds it.
 * @internal
 */
export const METRICS = {
  /** `Probe.outcome` with `hit: true`: a decorated call or a `get` served from cache. */
  hits: {
    kind: "counter",
    otel: "cashews.hits",
    prometheus: "cashews_hits_total",
    unit: "{hit}",
    description: "Reads served from cache (decorated calls, and get outside them)",
    labels: ["backend", "strategy"],
  },
  /** `Probe.outcome` with `hit: false`. */
  misses: {
    kind: "counter",
    otel: "cashews.misses",
    prometheus: "cashews_misses_total",
    unit: "{miss}",
    description: "Reads not served from cache (decorated calls, and get outside them)",
    labels: ["backend", "strategy"],
  },
  /** `Probe.set`: a value written. */
  sets: {
    kind: "counter",
    otel: "cashews.sets",
    prometheus: "cashews_sets_total",
    unit: "{set}",
    description: "Values written to a backend",
    labels: ["backend", "strategy"],
  },
  /** `Probe.error`: a failure reported in safe mode (a backend error, a reply about the data, a value that cannot be encoded). */
  errors: {
    kind: "counter",
    otel: "cashews.errors",
    prometheus: "cashews_errors_total",
    unit: "{error}",
    description: "Cache errors reported in safe mode (backend failures and refused values)",
    labels: ["backend", "strategy"],
  },
  /** `Probe.command`: one backend command, its duration in seconds. */
  commandDuration: {
    kind: "histogram",
    otel: "cashews.command.duration",
    prometheus: "cashews_command_duration_seconds",
    unit: "s",
    description: "Duration of backend commands",
    labels: ["backend", "system", "command", "outcome"],
    buckets: DURATION_BUCKETS,
  },
  /** `Probe.wait`: a caller that waited for another's computation (stampede protection), how long. */
  stampedeWait: {
    kind: "histogram",
    otel: "cashews.stampede.wait.duration",
    prometheus: "cashews_stampede_wait_seconds",
    unit: "s",
    description: "Waits for another caller's computation or lock (stampede protection)",
    labels: ["backend", "strategy", "kind"],
    buckets: DURATION_BUCKETS,
  },
  /** `Probe.limit`: one rate-limit decision. */
  rateLimit: {
    kind: "counter",
    otel: "cashews.rate_limit.decisions",
    prometheus: "cashews_rate_limit_decisions_total",
    unit: "{decision}",
    description: "Rate-limit decisions",
    labels: ["backend", "limiter", "decision"],
  },
  /** `Probe.localHit`: a read answered by a local copy in front of a remote store (local tier, Redis clientSide). */
  localHits: {
    kind: "counter",
    otel: "cashews.local.hits",
    prometheus: "cashews_local_hits_total",
    unit: "{hit}",
    description: "Reads answered by a local tier (or Redis clientSide copy) without a round trip",
    labels: ["backend"],
  },
} as const satisfies Record<string, MetricSpec>;

/** A metric of the catalog. @internal */
export type MetricName = keyof typeof METRICS;

/**
 * The `db.system.name` of a scheme: `"redis"` for Redis and Upstash (the Redis protocol),
 * `"cashews.memory"` for `mem://`, `"cloudflare.workers_kv"`, `"cloudflare.cache"`,
 * `"deno.kv"`, else `"cashews.<scheme>"` (a backend registered by the user).
 * @internal
 */
export function dbSystem(scheme: string): string {
  if (scheme.startsWith("redis") || scheme.startsWith("upstash")) return "redis";
  return SYSTEMS[scheme] ?? `cashews.${scheme}`;
}

const SYSTEMS: Readonly<Record<string, string>> = {
  mem: "cashews.memory",
  "cloudflare-kv": "cloudflare.workers_kv",
  "cloudflare-cache": "cloudflare.cache",
  "deno-kv": "deno.kv",
};

/**
 * The label names of `style` for label values: `{ backend: "redis" }` → `{ "cashews.backend": "redis" }`
 * (otel) or `{ backend: "redis" }` (prometheus).
 * @internal
 */
export function labelsOf(style: "otel" | "prometheus", values: Partial<Record<Label, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [label, value] of Object.entries(values) as [Label, string][]) out[LABELS[label][style]] = value;
  return out;
}

/**
 * Where {@link metricsProbe} records: `add` a counter's 1, `observe` a histogram's seconds; the
 * label values are keyed by catalog label (map them with {@link labelsOf}).
 * @internal
 */
export interface MetricSink {
  add(metric: MetricName, labels: Partial<Record<Label, string>>): void;
  observe(metric: MetricName, seconds: number, labels: Partial<Record<Label, string>>): void;
}

/**
 * The probe hooks that feed the catalog's metrics into `sink`: the one mapping from probe records
 * to metric values, so that every integration records the same metrics with the same labels.
 * @internal
 */
export function metricsProbe(sink: MetricSink): Required<Omit<Probe, "call">> {
  const strategy = (s: string | undefined): string => s ?? NO_STRATEGY;
  return {
    outcome: (r) => sink.add(r.hit ? "hits" : "misses", { backend: r.backend, strategy: strategy(r.strategy) }),
    set: (r) => sink.add("sets", { backend: r.backend, strategy: strategy(r.strategy) }),
    error: (r) => sink.add("errors", { backend: r.backend, strategy: strategy(r.strategy) }),
    command: (r) =>
      sink.observe("commandDuration", r.seconds, { backend: r.backend, system: dbSystem(r.scheme), command: r.command, outcome: r.error === undefined ? "ok" : "error" }),
    wait: (r) => sink.observe("stampedeWait", r.seconds, { backend: r.backend, strategy: strategy(r.strategy), kind: r.kind }),
    limit: (r) => sink.add("rateLimit", { backend: r.backend, limiter: r.limiter, decision: r.allowed ? "allowed" : "refused" }),
    localHit: (r) => sink.add("localHits", { backend: r.backend }),
  };
}
