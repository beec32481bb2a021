// OpenTelemetry SDK test rig: a tracer provider with the in-memory span exporter and a meter
// provider read on demand (cumulative), as an application's SDK would set them up.
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";

/** A metric reader collected by hand. */
class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface Rig {
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
  exporter: InMemorySpanExporter;
  /** Finished spans so far. */
  spans(): ReadableSpan[];
  /** The data points of metric `name` (none yet: []). */
  points(name: string): DataPoint<number | Histogram>[];
  /** The counter `name`'s value at the points whose attributes include `attributes` (summed; 0 if none). */
  count(name: string, attributes?: Record<string, unknown>): Promise<number>;
  /** The histogram `name`'s count at the points whose attributes include `attributes`. */
  histogramCount(name: string, attributes?: Record<string, unknown>): Promise<number>;
  /** Collects the metrics now. */
  collect(): Promise<void>;
  shutdown(): Promise<void>;
}

export function createRig(): Rig {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  let last: DataPoint<number | Histogram>[] = [];
  const byName = new Map<string, DataPoint<number | Histogram>[]>();
  const includes = (point: DataPoint<unknown>, attributes: Record<string, unknown> = {}): boolean =>
    Object.entries(attributes).every(([k, v]) => point.attributes[k] === v);
  const rig: Rig = {
    tracerProvider,
    meterProvider,
    exporter,
    spans: () => exporter.getFinishedSpans(),
    points: (name) => byName.get(name) ?? last.slice(0, 0),
    async collect() {
      const { resourceMetrics } = await reader.collect();
      byName.clear();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric.dataPoints as DataPoint<number | Histogram>[]);
      }
      last = [...byName.values()].flat();
    },
    async count(name, attributes) {
      await rig.collect();
      return rig.points(name).filter((p) => includes(p, attributes)).reduce((sum, p) => sum + (p.value as number), 0);
    },
    async histogramCount(name, attributes) {
      await rig.collect();
      return rig.points(name).filter((p) => includes(p, attributes)).reduce((sum, p) => sum + (p.value as Histogram).count, 0);
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
  return rig;
}
