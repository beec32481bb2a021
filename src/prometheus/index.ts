/**
 * cashews/prometheus: a cache's metrics on a [prom-client](https://github.com/siimon/prom-client)
 * registry (prom-client is an optional peer dependency: install it to use this entry), and a
 * handler that serves them (Hono, or any fetch-style server). Node, Bun and Deno.
 *
 * - {@link instrument}: hits, misses, sets, errors by backend and strategy, backend command
 *   durations, stampede waits, rate-limit decisions and local-tier hits: the metrics of
 *   `cashews/otel`, with Prometheus names.
 * - {@link metricsHandler}: answers a scrape with the registry's text.
 *
 * An example Grafana dashboard over these metrics is in the repository: examples/grafana/cashews-dashboard.json.
 *
 * @example
 * import { Hono } from "hono";
 * import { cache } from "cashews";
 * import { instrument, metricsHandler } from "cashews/prometheus";
 *
 * cache.setup("redis://localhost:6379");
 * instrument(cache); // prom-client's global registry
 * const app = new Hono();
 * app.get("/metrics", metricsHandler());
 * @module
 */
export { instrument, type PrometheusOptions } from "./instrument.js";
export { metricsHandler, type MetricsHandlerOptions } from "./handler.js";
