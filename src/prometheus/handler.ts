/**
 * `metricsHandler()`: a fetch-style handler (a Hono handler) that serves a registry's metrics.
 * @module
 */
import { register, type Registry, type RegistryContentType } from "prom-client";

/**
 * Options of {@link metricsHandler}.
 * @example
 * import { Registry } from "prom-client";
 * const options: MetricsHandlerOptions = { registry: new Registry() };
 */
export interface MetricsHandlerOptions {
  /** The registry served (default: prom-client's global `register`). */
  registry?: Registry<RegistryContentType>;
}

/**
 * A handler answering a scrape: `registry.metrics()` with `registry.contentType` (the Prometheus
 * text format, or OpenMetrics if the registry was set to it) and `Cache-Control: no-store`. It
 * reads nothing of its argument, so it is a Hono handler (`app.get("/metrics", metricsHandler())`)
 * as well as a fetch handler (`Deno.serve`, `Bun.serve`); it needs no Hono installed.
 *
 * @example
 * import { Hono } from "hono";
 * import { Registry } from "prom-client";
 * import { cache } from "cashews";
 * import { instrument, metricsHandler } from "cashews/prometheus";
 *
 * const registry = new Registry();
 * instrument(cache, { registry });
 * const app = new Hono();
 * app.get("/metrics", metricsHandler({ registry }));
 */
export function metricsHandler(options: MetricsHandlerOptions = {}): (context?: unknown) => Promise<Response> {
  const registry = options.registry ?? register;
  return async () => new Response(await registry.metrics(), { headers: { "Content-Type": registry.contentType, "Cache-Control": "no-store" } });
}
