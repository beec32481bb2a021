// A Worker that uses cashews + cashews/otel with the OpenTelemetry SDK's in-memory exporters, for
// test/otel/workers.test.ts (bundled with esbuild, run in workerd through miniflare). GET /run
// instruments a fresh mem:// cache, makes a miss, a hit and a failing call, and answers the spans
// and metrics the SDK recorded. With nodejs_compat, a context manager on AsyncLocalStorage makes
// the call's span active inside the wrapped function (context propagation).
import { AsyncLocalStorage } from "node:async_hooks";
import { context, ROOT_CONTEXT, trace, type Context, type ContextManager } from "@opentelemetry/api";
import { AggregationTemporality, MeterProvider, MetricReader, type Histogram } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Cache } from "../../src/index.js";
import { instrument } from "../../src/otel.js";

/** The OpenTelemetry context on workerd's AsyncLocalStorage (nodejs_compat). */
class AlsContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#als.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== "function") return target;
    const run = (...args: unknown[]): unknown => this.with(ctx, target as (...a: unknown[]) => unknown, undefined, ...args);
    return run as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}
context.setGlobalContextManager(new AlsContextManager());

class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export default {
  async fetch(): Promise<Response> {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const reader = new ManualReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const cache = new Cache("otel-worker").setup("mem://");
    const uninstrument = instrument(cache, { tracer: tracerProvider.getTracer("worker"), meter: meterProvider.getMeter("worker") });
    const active: (string | undefined)[] = [];
    const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async function getUser(id: string) {
      active.push(trace.getActiveSpan()?.spanContext().spanId);
      await Promise.resolve();
      active.push(trace.getActiveSpan()?.spanContext().spanId);
      return { id };
    });
    const fail = cache.cache({ ttl: "1m", key: "fail" })(async function fail() {
      throw new Error("nope");
    });
    await getUser("1");
    await getUser("1");
    await fail().catch(() => undefined);
    uninstrument();
    await getUser("1"); // not traced any more
    const { resourceMetrics } = await reader.collect();
    const metrics: Record<string, { attributes: Record<string, unknown>; value: number }[]> = {};
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        metrics[metric.descriptor.name] = metric.dataPoints.map((p) => ({
          attributes: p.attributes,
          value: typeof p.value === "number" ? p.value : (p.value as Histogram).count,
        }));
      }
    }
    const spans = exporter.getFinishedSpans().map((s) => ({
      name: s.name,
      kind: s.kind,
      id: s.spanContext().spanId,
      parent: s.parentSpanContext?.spanId,
      status: s.status.code,
      attributes: s.attributes,
    }));
    await cache.close();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
    return Response.json({ spans, metrics, active });
  },
};
