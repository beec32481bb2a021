/**
 * `instrument(cache, options)`: the catalog's metrics (src/core/catalog.ts) on a prom-client
 * registry, fed by the cache's probe (src/core/probe.ts).
 * @module
 */
import { Counter, Histogram, register, type Registry, type RegistryContentType } from "prom-client";
import { CacheConfigError } from "../errors.js";
import { LABELS, METRICS, labelsOf, metricsProbe, type Label, type MetricName, type MetricSpec } from "../core/catalog.js";
import { attachProbe, probeOf, type Probe } from "../core/probe.js";
import { stateOf } from "../core/state.js";
import type { CoreCache } from "../presets/core-cache.js";

/** A prom-client registry, whatever its content type (Prometheus text or OpenMetrics). @internal */
export type AnyRegistry = Registry<RegistryContentType>;

/**
 * Options of {@link instrument}.
 * @example
 * import { Registry } from "prom-client";
 * const options: PrometheusOptions = { registry: new Registry(), prefix: "shop_", labels: { cache: "users" } };
 */
export interface PrometheusOptions {
  /** The registry the metrics are registered on (default: prom-client's global `register`; Prometheus text or OpenMetrics). */
  registry?: Registry<RegistryContentType>;
  /**
   * Prepended to every metric name (`"shop_"` → `shop_cashews_hits_total`). Default: none. The
   * example Grafana dashboard (examples/grafana) expects no prefix.
   */
  prefix?: string;
  /**
   * Constant labels on every series this cache reports (`{ cache: "users" }`), to tell caches
   * apart beyond the `backend` label. Caches sharing a registry must use the same label names.
   */
  labels?: Readonly<Record<string, string>>;
}

/** The metric objects of one registry and prefix, shared by every cache instrumented on it. */
type Instruments = { [N in MetricName]: (typeof METRICS)[N]["kind"] extends "counter" ? Counter : Histogram };

/** One number per registry, so that each registry has its own probe on a cache (the probe's id). */
const registryIds = new WeakMap<AnyRegistry, number>();
let nextRegistryId = 0;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Reports what `cache` does as Prometheus metrics on a prom-client registry: hits and misses,
 * writes and safe-mode errors (by `backend` and `strategy`), backend command durations (by
 * `backend`, `system`, `command`, `outcome`), stampede waits (by `backend`, `strategy`, `kind`),
 * rate-limit decisions (by `backend`, `limiter`, `decision`) and local-tier hits (by `backend`).
 * The names, help texts, labels and buckets are those `cashews/otel` uses too:
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `cashews_hits_total`, `cashews_misses_total`, `cashews_sets_total`, `cashews_errors_total` | counter | backend, strategy |
 * | `cashews_command_duration_seconds` | histogram | backend, system, command, outcome |
 * | `cashews_stampede_wait_seconds` | histogram | backend, strategy, kind |
 * | `cashews_rate_limit_decisions_total` | counter | backend, limiter, decision |
 * | `cashews_local_hits_total` | counter | backend |
 *
 * `strategy` is `"none"` for commands outside every decorated call (`cache.get`, `cache.set`);
 * `limiter` is the limiter's key prefix for `cache.limiter` and the Hono middleware (`"limiter"`,
 * `"hono_rl"` by default), else the strategy (`"rateLimit"`, `"slidingRateLimit"`).
 *
 * Several caches may report to one registry: they share the metric objects (one series per label
 * set; tell caches apart by `backend`, a route's label, or by `labels`). A metric of the same name
 * already on the registry is reused when it has the same type and label names, else
 * `CacheConfigError`. One cache may report to several registries (and to `cashews/otel` at the same
 * time), once per registry: instrumenting it twice on one registry throws `CacheConfigError`, as
 * does a first argument that is not a cache (a `Cache` or `CoreCache` of this copy of cashews).
 *
 * Returns the function that stops the reports (idempotent). It does not unregister the metrics:
 * they stay on the registry with the values counted so far (other caches may share them); remove
 * them with `registry.removeSingleMetric(name)` or `registry.clear()`.
 *
 * @example
 * import { Registry } from "prom-client";
 * import { Cache } from "cashews";
 * import { instrument } from "cashews/prometheus";
 *
 * const cache = new Cache().setup("redis://localhost:6379");
 * const registry = new Registry();
 * const stop = instrument(cache, { registry });
 * // ... later
 * console.log(await registry.metrics());
 * stop();
 */
export function instrument(cache: CoreCache, options: PrometheusOptions = {}): () => void {
  stateOf(cache, "instrument");
  const registry = options.registry ?? register;
  const prefix = options.prefix ?? "";
  const constant = { ...options.labels };
  check(prefix, constant);
  let registryId = registryIds.get(registry);
  if (registryId === undefined) registryIds.set(registry, (registryId = nextRegistryId++));
  const id = `prometheus#${registryId}`;
  if (probeOf(cache)?.probes.some((p) => p.id === id)) {
    throw new CacheConfigError("instrument: this cache is already instrumented on this registry; call the function the first instrument() returned to stop it first");
  }
  const metrics = instruments(registry, prefix, Object.keys(constant));
  return attachProbe(cache, id, probe(metrics, constant));
}

/** Refuses a prefix that makes no metric name, and constant labels that are no label names or clash with the catalog's. */
function check(prefix: string, constant: Record<string, string>): void {
  if (prefix !== "" && !NAME.test(prefix)) throw new CacheConfigError(`instrument: prefix ${JSON.stringify(prefix)} is not a valid start of a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
  const reserved = new Set<string>([...Object.values(LABELS).map((l) => l.prometheus), "le"]);
  for (const [name, value] of Object.entries(constant)) {
    if (!LABEL.test(name) || name.startsWith("__")) throw new CacheConfigError(`instrument: labels: ${JSON.stringify(name)} is not a valid Prometheus label name`);
    if (reserved.has(name)) throw new CacheConfigError(`instrument: labels: ${JSON.stringify(name)} is a label cashews sets itself; choose another name`);
    if (typeof value !== "string") throw new CacheConfigError(`instrument: labels: the value of ${JSON.stringify(name)} must be a string`);
  }
}

/**
 * The catalog's metrics on `registry`: those already there (registered by another cache) or new
 * ones. All are checked before any is registered, so a refusal leaves the registry as it was.
 */
function instruments(registry: AnyRegistry, prefix: string, extra: readonly string[]): Instruments {
  const specs = (Object.entries(METRICS) as [MetricName, MetricSpec][]).map(([key, spec]) => {
    const name = prefix + spec.prometheus;
    const labelNames = [...spec.labels.map((l) => LABELS[l].prometheus), ...extra];
    const existing = registry.getSingleMetric(name);
    if (existing !== undefined) {
      const names = (existing as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
      if (!(existing instanceof (spec.kind === "counter" ? Counter : Histogram)) || [...names].sort().join() !== [...labelNames].sort().join()) {
        throw new CacheConfigError(
          `instrument: the registry already has a metric ${name} that is not the ${spec.kind} cashews reports, with labels ${labelNames.join(", ")} (another cache instrumented with other \`labels\`, or another library's metric): use the same labels, another prefix or another registry`,
        );
      }
    }
    return { key, spec, name, labelNames, existing };
  });
  const out: Partial<Record<MetricName, Counter | Histogram>> = {};
  for (const { key, spec, name, labelNames, existing } of specs) {
    out[key] =
      (existing as Counter | Histogram | undefined) ??
      (spec.kind === "counter"
        ? new Counter({ name, help: spec.description, labelNames, registers: [registry] })
        : new Histogram({ name, help: spec.description, labelNames, buckets: [...(spec.buckets ?? [])], registers: [registry] }));
  }
  return out as Instruments;
}

/**
 * The probe that feeds `metrics`, every series with the `constant` labels: the catalog's one
 * mapping from probe records to metric values (the same as cashews/otel's), on prom-client.
 */
function probe(metrics: Instruments, constant: Record<string, string>): Probe {
  const labels = (values: Partial<Record<Label, string>>): Record<string, string> => ({ ...constant, ...labelsOf("prometheus", values) });
  return metricsProbe({
    add: (metric, values) => (metrics[metric] as Counter).inc(labels(values)),
    observe: (metric, seconds, values) => (metrics[metric] as Histogram).observe(labels(values), seconds),
  });
}
