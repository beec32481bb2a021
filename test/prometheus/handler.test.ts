// metricsHandler on a real Hono app (`app.request`, and served over HTTP by @hono/node-server), and
// as a plain fetch handler: the registry's text with its content type.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { Registry, register, type OpenMetricsContentType } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { Cache } from "../../src/index.js";
import { instrument, metricsHandler } from "../../src/prometheus/index.js";
import type { AnyRegistry } from "../../src/prometheus/instrument.js";

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A mem:// cache instrumented on `registry`, after one decorated miss and two hits. */
async function warmed(name: string, registry: AnyRegistry): Promise<Cache> {
  const cache = new Cache(name).setup("mem://");
  cleanup.push(() => cache.close());
  cleanup.push(instrument(cache, { registry }));
  const fn = cache.cache({ ttl: "1m", key: "k" })(async () => 1);
  await fn();
  await fn();
  await fn();
  return cache;
}

describe("metricsHandler", () => {
  it("serves the registry in the Prometheus text format through a Hono app", async () => {
    const registry = new Registry();
    await warmed("prom-hono", registry);
    const app = new Hono();
    app.get("/metrics", metricsHandler({ registry }));
    const res = await app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(res.headers.get("content-type")).toBe(registry.contentType);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    expect(text).toContain("# HELP cashews_hits_total Reads served from cache");
    expect(text).toContain("# TYPE cashews_hits_total counter");
    expect(text).toContain('cashews_hits_total{backend="mem",strategy="cache"} 2\n');
    expect(text).toContain('cashews_misses_total{backend="mem",strategy="cache"} 1\n');
    expect(text).toContain("# TYPE cashews_command_duration_seconds histogram");
    expect(text).toMatch(/^cashews_command_duration_seconds_bucket\{le="\+Inf",backend="mem",system="cashews\.memory",command="set",outcome="ok"\} 1$/m);
    expect(text).toBe(await registry.metrics());
  });

  it("follows the registry's content type (OpenMetrics), over HTTP with @hono/node-server", async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    await warmed("prom-openmetrics", registry);
    const app = new Hono();
    app.get("/metrics", metricsHandler({ registry }));
    const server = await new Promise<ReturnType<typeof serve>>((ready) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => ready(s));
    });
    cleanup.push(() => new Promise((done) => server.close(done)));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const res = await fetch(`http://127.0.0.1:${address.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/openmetrics-text; version=1.0.0; charset=utf-8");
    const text = await res.text();
    // OpenMetrics names a counter's family without `_total`, and its samples with it.
    expect(text).toContain("# TYPE cashews_hits counter");
    expect(text).toContain('cashews_hits_total{backend="mem",strategy="cache"} 2\n');
    expect(text.trimEnd().endsWith("# EOF")).toBe(true);
  });

  it("is a plain fetch handler too, and serves prom-client's global register by default", async () => {
    const registry = new Registry();
    await warmed("prom-fetch", registry);
    const handler = metricsHandler({ registry });
    const res = await handler(new Request("http://localhost/metrics"));
    expect(await res.text()).toContain('cashews_hits_total{backend="mem",strategy="cache"} 2\n');

    const cache = new Cache("prom-default").setup("mem://");
    cleanup.push(() => cache.close());
    cleanup.push(() => register.clear());
    cleanup.push(instrument(cache));
    await cache.get("absent");
    const global = await metricsHandler()();
    expect(global.headers.get("content-type")).toBe(register.contentType);
    expect(await global.text()).toContain('cashews_misses_total{backend="mem",strategy="none"} 1\n');
  });
});
