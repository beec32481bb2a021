/**
 * `cashews/otel`: OpenTelemetry tracing and metrics for a cache, through `@opentelemetry/api` (an
 * optional peer dependency, imported only by this entry). {@link instrument} adds:
 *
 * - a span per decorated call, `cashews <strategy> <function>` (kind INTERNAL), active while the
 *   wrapped function runs (so its own spans are children of it; needs a context manager, e.g.
 *   `AsyncLocalStorageContextManager` on Node, or the one your SDK registers), with
 *   `cashews.strategy`, `cashews.function`, `cashews.key_template`, `cashews.backend`,
 *   `cashews.outcome` (`"hit"` / `"miss"`) and `cashews.hit`; an exception is recorded, the status
 *   set to ERROR and `error.type` to the error's name;
 * - a span per backend command (kind CLIENT), `<command> <backend>` (`"get redis"`), a child of the
 *   call it ran for, with the database conventions `db.system.name` (`"redis"` for Redis and
 *   Upstash, `"cashews.memory"` for mem://, `"cloudflare.workers_kv"`, `"cloudflare.cache"`,
 *   `"deno.kv"`), `db.operation.name` (the cashews command: `"get"`, `"set"`, `"set_lock"`,
 *   `"get_many"`, as `cache.use` middleware see it) and `cashews.backend`. Reads of a local copy
 *   (mem://'s values, a local tier) are synchronous and make no command span;
 * - the metrics of the catalog: `cashews.hits`, `cashews.misses`, `cashews.sets`, `cashews.errors`
 *   (by `cashews.backend` and `cashews.strategy`; `"none"` outside a decorated call),
 *   `cashews.command.duration` (s; by backend, `db.system.name`, `db.operation.name`,
 *   `cashews.outcome` ok/error), `cashews.stampede.wait.duration` (s; by backend, strategy and
 *   `cashews.wait.kind`: lock, single-flight, in-flight), `cashews.rate_limit.decisions` (by
 *   backend, `cashews.limiter`, `cashews.decision` allowed/refused), `cashews.local.hits`.
 *
 * Keys are not recorded (they may hold personal data); key templates are.
 *
 * @example
 * import { cache } from "cashews";
 * import { instrument } from "cashews/otel";
 *
 * cache.setup("redis://localhost:6379");
 * const uninstrument = instrument(cache); // the global tracer and meter providers
 * const getUser = cache({ ttl: "10m", key: "user:{id}" })(async (id: string) => db.user(id));
 * // ... on shutdown:
 * uninstrument();
 * @module
 */
import { context, metrics, SpanKind, SpanStatusCode, trace, type Attributes, type Counter, type Histogram, type Meter, type Span, type Tracer } from "@opentelemetry/api";
import { dbSystem, labelsOf, METRICS, metricsProbe, type MetricName } from "./core/catalog.js";
import { attachProbe, type CallRecord, type CommandRecord, type Probe } from "./core/probe.js";
import { stateOf } from "./core/state.js";
import type { CoreCache } from "./presets/core-cache.js";

/** The instrumentation scope's version: the version of cashews (a test holds it to package.json's). */
const OTEL_SCOPE_VERSION = "0.1.0";

/**
 * Options of {@link instrument}.
 * @example
 * instrument(cache, { tracer: provider.getTracer("my-service"), meter: false });
 */
export interface InstrumentOptions {
  /**
   * The tracer of the spans; `false`: no spans. Default: `trace.getTracer("cashews", version)`,
   * from the global tracer provider (a no-op until an SDK registers one).
   */
  tracer?: Tracer | false;
  /**
   * The meter of the metrics; `false`: no metrics. Default: `metrics.getMeter("cashews", version)`,
   * from the global meter provider.
   */
  meter?: Meter | false;
}

/**
 * Instruments `cache` (a `Cache` or a `CoreCache`) with OpenTelemetry: spans and metrics, as the
 * module comment lists them. Returns the function that removes the instrumentation (idempotent;
 * calls under way finish unreported). Decorated functions wrapped before or after `instrument`
 * are traced alike.
 *
 * Throws `CacheConfigError` when `cache` is not a cache of this copy of cashews, or is
 * already instrumented by this function (remove the first instrumentation before instrumenting
 * again). `cashews/prometheus` may instrument the same cache too.
 * @example
 * import { trace } from "@opentelemetry/api";
 * import { CoreCache } from "cashews/core";
 * import { instrument } from "cashews/otel";
 *
 * const cache = new CoreCache("users").setup("mem://");
 * const uninstrument = instrument(cache, { tracer: trace.getTracer("users-service") });
 * const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => {
 *   trace.getActiveSpan(); // the span of this call: "cashews cache <function>"
 *   return { id };
 * });
 * await getUser("1"); // a miss: one call span, its command spans (get, set)
 * uninstrument();
 */
export function instrument(cache: CoreCache, options: InstrumentOptions = {}): () => void {
  stateOf(cache, "instrument");
  const tracer = options.tracer === false ? undefined : (options.tracer ?? trace.getTracer("cashews", OTEL_SCOPE_VERSION));
  const meter = options.meter === false ? undefined : (options.meter ?? metrics.getMeter("cashews", OTEL_SCOPE_VERSION));
  const probe: Probe = meter === undefined ? {} : metricsProbe(sinkOf(meter));
  if (tracer !== undefined) {
    const measured = probe.command;
    probe.call = (record, run) => traced(tracer, record, run);
    probe.command = (record) => {
      measured?.(record);
      commandSpan(tracer, record);
    };
  }
  return attachProbe(cache, "cashews/otel", probe);
}

/** The catalog's instruments on `meter`, as a metric sink. */
function sinkOf(meter: Meter): Parameters<typeof metricsProbe>[0] {
  const instruments = new Map<MetricName, Counter | Histogram>();
  for (const [name, spec] of Object.entries(METRICS) as [MetricName, (typeof METRICS)[MetricName]][]) {
    const { description, unit } = spec;
    instruments.set(
      name,
      spec.kind === "counter"
        ? meter.createCounter(spec.otel, { description, unit })
        : meter.createHistogram(spec.otel, { description, unit, advice: { explicitBucketBoundaries: [...spec.buckets] } }),
    );
  }
  return {
    add: (metric, labels) => (instruments.get(metric) as Counter).add(1, labelsOf("otel", labels)),
    observe: (metric, seconds, labels) => (instruments.get(metric) as Histogram).record(seconds, labelsOf("otel", labels)),
  };
}

/** One decorated call in its span, active while it runs. */
function traced(tracer: Tracer, record: CallRecord, run: () => Promise<unknown>): Promise<unknown> {
  const parent = context.active();
  const span = tracer.startSpan(spanName(record), { kind: SpanKind.INTERNAL, attributes: { "cashews.strategy": record.strategy } }, parent);
  let pending: Promise<unknown>;
  try {
    pending = context.with(trace.setSpan(parent, span), run);
  } catch (error) {
    finish(span, record, error);
    throw error;
  }
  return pending.then(
    (value) => (finish(span, record, undefined), value),
    (error: unknown) => {
      finish(span, record, error ?? new Error("rejected"));
      throw error;
    },
  );
}

function spanName(record: CallRecord): string {
  return `cashews ${record.strategy} ${record.function || "anonymous"}`;
}

/** Ends a call's span with what the call learnt (outcome, template, backend) and its error. */
function finish(span: Span, record: CallRecord, error: unknown): void {
  const attributes: Attributes = { "cashews.function": record.function };
  if (record.template !== undefined) attributes["cashews.key_template"] = record.template;
  if (record.backend !== undefined) attributes["cashews.backend"] = record.backend;
  if (record.outcome !== undefined) {
    attributes["cashews.outcome"] = record.outcome;
    attributes["cashews.hit"] = record.outcome === "hit";
  }
  span.setAttributes(attributes);
  span.updateName(spanName(record));
  if (error !== undefined) failed(span, error);
  span.end();
}

function failed(span: Span, error: unknown): void {
  const type = error instanceof Error ? error.name : typeof error;
  span.setAttribute("error.type", type);
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** A settled command as a CLIENT span, a child of the active context (the call it ran for). */
function commandSpan(tracer: Tracer, record: CommandRecord): void {
  const span = tracer.startSpan(
    `${record.command} ${record.backend}`,
    {
      kind: SpanKind.CLIENT,
      startTime: record.start,
      attributes: { "db.system.name": dbSystem(record.scheme), "db.operation.name": record.command, "cashews.backend": record.backend },
    },
    context.active(),
  );
  if (record.error !== undefined) failed(span, record.error);
  span.end(record.start + record.seconds * 1000);
}
