// cashews/otel in workerd: test/otel/worker.ts (cashews, cashews/otel and the OpenTelemetry SDK's
// in-memory exporters) bundled with esbuild and run through miniflare with nodejs_compat.
import { build } from "esbuild";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WORKER_BUILD_OPTIONS, type WorkerBundle } from "../../runtimes/workers/build.js";
import { startWorker } from "../support/workerd.js";

/**
 * The worker as wrangler bundles it, but for the browser platform: the OpenTelemetry SDK picks its
 * platform files through package.json `browser` maps, which esbuild applies only there.
 * `node:async_hooks` is left to workerd (nodejs_compat).
 */
async function bundle(): Promise<WorkerBundle> {
  const result = await build({ ...WORKER_BUILD_OPTIONS, platform: "browser", external: ["node:async_hooks"], entryPoints: ["test/otel/worker.ts"] });
  return { code: result.outputFiles[0]!.text, metafile: result.metafile! };
}

interface Result {
  spans: { name: string; kind: number; id: string; parent?: string; status: number; attributes: Record<string, unknown> }[];
  metrics: Record<string, { attributes: Record<string, unknown>; value: number }[]>;
  active: (string | undefined)[];
}

describe("cashews/otel in workerd (nodejs_compat)", () => {
  let mf: Miniflare;
  let worker: WorkerBundle;
  beforeAll(async () => {
    worker = await bundle();
    mf = await startWorker(worker, ["nodejs_compat"]);
  }, 60_000);
  afterAll(async () => {
    await mf?.dispose();
  }, 30_000);

  it("bundles without the Redis backend or ioredis", () => {
    const inputs = Object.keys(worker.metafile.inputs);
    expect(inputs).toContain("src/otel.ts");
    expect(inputs.some((file) => file.includes("node_modules/@opentelemetry/sdk-trace-base/"))).toBe(true);
    expect(inputs.filter((file) => file.includes("node_modules/ioredis") || (file.startsWith("src/backends/redis/") && !/\/(spec|url)\.ts$/.test(file)))).toEqual([]);
  });

  it("records call and command spans, propagates the call's span, and records the metrics", async () => {
    const response = await mf.dispatchFetch("http://localhost/run");
    const text = await response.text();
    expect(response.status, text).toBe(200);
    const body = JSON.parse(text) as Result;
    const calls = body.spans.filter((s) => s.name.startsWith("cashews "));
    expect(calls.map((s) => [s.name, s.attributes["cashews.outcome"]])).toEqual([
      ["cashews cache getUser", "miss"],
      ["cashews cache getUser", "hit"],
      ["cashews cache fail", "miss"],
    ]);
    expect(calls[0]!.attributes).toMatchObject({ "cashews.key_template": "user:{id}", "cashews.backend": "mem", "cashews.hit": false });
    expect(calls[2]!.status).toBe(2); // SpanStatusCode.ERROR
    const set = body.spans.find((s) => s.parent === calls[0]!.id && s.attributes["db.operation.name"] === "set");
    expect(set).toMatchObject({ name: "set mem", kind: 2 /* CLIENT */, attributes: { "db.system.name": "cashews.memory" } });
    // The wrapped function saw its call's span as the active one, before and after an await.
    expect(body.active).toEqual([calls[0]!.id, calls[0]!.id]);
    const sum = (name: string, attributes: Record<string, unknown>): number =>
      (body.metrics[name] ?? []).filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)).reduce((n, p) => n + p.value, 0);
    const labels = { "cashews.backend": "mem", "cashews.strategy": "cache" };
    expect(sum("cashews.hits", labels)).toBe(1); // the call after uninstrument is not counted
    expect(sum("cashews.misses", labels)).toBe(2);
    expect(sum("cashews.sets", labels)).toBe(1);
    expect(sum("cashews.command.duration", { "db.operation.name": "set" })).toBe(1);
  });
});
