// The conformance suite with both observability integrations attached to every cache it sets up
// (cashews/otel on a real SDK tracer and meter, cashews/prometheus on a prom-client registry):
// instrumenting a cache must change none of its answers (every command, scans included, and every
// strategy), on mem:// and on redis:// with clientSide (commands through the probed view, local
// copies through `peek`). The suite builds its caches itself, so `setup` is wrapped here.
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { Registry } from "prom-client";
import { afterAll, inject } from "vitest";
import { Cache } from "../../src/index.js";
import { probeOf } from "../../src/core/probe.js";
import { instrument as otel } from "../../src/otel.js";
import { instrument as prometheus } from "../../src/prometheus/index.js";
import { conformanceSuite } from "../../src/testing/index.js";
import { networkConformanceSuite } from "../support/backends.js";

const redisUrl = inject("redisUrl");
const tracer = new BasicTracerProvider().getTracer("conformance");
const meterProvider = new MeterProvider();
const meter = meterProvider.getMeter("conformance");
const registry = new Registry();
let instrumented = 0;

const setup = Cache.prototype.setup;
Cache.prototype.setup = function (this: Cache, ...args: Parameters<Cache["setup"]>) {
  const result = setup.apply(this, args);
  if (probeOf(this) === undefined) {
    otel(this, { tracer, meter });
    prometheus(this, { registry });
    instrumented++;
  }
  return result;
} as Cache["setup"];

afterAll(async () => {
  Cache.prototype.setup = setup;
  // The suite did run instrumented, and the metrics saw its commands.
  if (instrumented === 0) throw new Error("no cache was instrumented");
  const commands = (await registry.getSingleMetricAsString("cashews_command_duration_seconds")).split("\n").filter((l) => l.includes("_count{"));
  if (commands.length === 0) throw new Error("no command was measured");
  await meterProvider.shutdown();
});

conformanceSuite({ name: "mem:// (instrumented)", url: () => "mem://" });
networkConformanceSuite({ name: "redis:// (clientSide, instrumented)", url: () => redisUrl, options: { namespace: "conf-instr", clientSide: true } });
