// cashews/otel on Node with the OpenTelemetry SDK's in-memory exporters, on mem:// and a real
// redis-server: spans per decorated call and per backend command, context propagation into the
// wrapped function (AsyncLocalStorageContextManager), the catalog's metrics, uninstrument.
import { context, metrics, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { Cache, CacheConfigError } from "../../src/index.js";
import { CoreCache } from "../../src/core.js";
import "../../src/redis.js";
import { instrument } from "../../src/otel.js";
import { METRICS } from "../../src/core/catalog.js";
import { createRig, type Rig } from "./support.js";
import pkg from "../../package.json" with { type: "json" };

const redisUrl = inject("redisUrl");
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  contextManager.disable();
  context.disable();
});

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

let rig: Rig;
/** A fresh rig and a cache set up at `url`, instrumented with the rig's tracer and meter. */
function instrumented(url: string, options: Record<string, unknown> = {}): { cache: Cache; uninstrument: () => void } {
  rig = createRig();
  const cache = new Cache(`otel-${Math.random()}`).setup(url, options as never);
  const uninstrument = instrument(cache, { tracer: rig.tracerProvider.getTracer("test"), meter: rig.meterProvider.getMeter("test") });
  cleanup.push(() => rig.shutdown(), () => cache.close(), uninstrument);
  return { cache, uninstrument };
}

const callSpans = (): ReadableSpan[] => rig.spans().filter((s) => s.name.startsWith("cashews "));
const commandSpans = (): ReadableSpan[] => rig.spans().filter((s) => s.kind === SpanKind.CLIENT);
const childrenOf = (span: ReadableSpan): ReadableSpan[] => rig.spans().filter((s) => s.parentSpanContext?.spanId === span.spanContext().spanId);
const M = METRICS;

describe("cashews/otel on mem://", () => {
  it("a span per decorated call: strategy, template, backend, hit or miss; command spans are its CLIENT children", async () => {
    const { cache } = instrumented("mem://");
    const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async function getUser(id: string) {
      return { id };
    });
    await getUser("1");
    await getUser("1");
    const [miss, hit] = callSpans();
    expect(callSpans()).toHaveLength(2);
    expect(miss!.name).toMatch(/^cashews cache getUser/);
    expect(miss!.kind).toBe(SpanKind.INTERNAL);
    expect(miss!.attributes).toMatchObject({ "cashews.strategy": "cache", "cashews.key_template": "user:{id}", "cashews.backend": "mem", "cashews.outcome": "miss", "cashews.hit": false });
    expect(hit!.attributes).toMatchObject({ "cashews.strategy": "cache", "cashews.outcome": "hit", "cashews.hit": true, "cashews.backend": "mem" });
    expect(miss!.status.code).not.toBe(SpanStatusCode.ERROR);
    // The miss wrote its result: a "set" command span, child of the call's span.
    const set = childrenOf(miss!).find((s) => s.attributes["db.operation.name"] === "set")!;
    expect(set).toBeDefined();
    expect(set.kind).toBe(SpanKind.CLIENT);
    expect(set.name).toBe("set mem");
    expect(set.attributes).toMatchObject({ "db.system.name": "cashews.memory", "cashews.backend": "mem" });
    // A memory hit is a synchronous read of the live value: no command span under it.
    expect(childrenOf(hit!)).toEqual([]);

    const labels = { "cashews.backend": "mem", "cashews.strategy": "cache" };
    expect(await rig.count(M.hits.otel, labels)).toBe(1);
    expect(await rig.count(M.misses.otel, labels)).toBe(1);
    expect(await rig.count(M.sets.otel, labels)).toBe(1);
    expect(await rig.histogramCount(M.commandDuration.otel, { "db.operation.name": "set", "db.system.name": "cashews.memory", "cashews.outcome": "ok" })).toBe(1);
  });

  it("propagates the call's span as the active context into the wrapped function, across awaits", async () => {
    const { cache } = instrumented("mem://");
    const inner = rig.tracerProvider.getTracer("app");
    const seen: (string | undefined)[] = [];
    const load = cache.cache({ ttl: "1m", key: "ctx:{id}" })(async function load(id: string) {
      seen.push(trace.getActiveSpan()?.spanContext().spanId);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(trace.getActiveSpan()?.spanContext().spanId);
      inner.startSpan("db query").end();
      return id;
    });
    // Under a parent span of the application, the call's span is its child.
    const root = inner.startSpan("request");
    await context.with(trace.setSpan(context.active(), root), () => load("1"));
    root.end();
    const [call] = callSpans();
    expect(seen).toEqual([call!.spanContext().spanId, call!.spanContext().spanId]);
    expect(call!.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    const query = rig.spans().find((s) => s.name === "db query")!;
    expect(query.parentSpanContext?.spanId).toBe(call!.spanContext().spanId);
  });

  it("records a failing call's exception and a backend error in safe mode", async () => {
    const { cache } = instrumented("mem://");
    const boom = cache.cache({ ttl: "1m", key: "boom" })(async function boom() {
      throw new TypeError("no luck");
    });
    await expect(boom()).rejects.toThrow("no luck");
    const [call] = callSpans();
    expect(call!.status.code).toBe(SpanStatusCode.ERROR);
    expect(call!.status.message).toBe("no luck");
    expect(call!.attributes["error.type"]).toBe("TypeError");
    expect(call!.events.some((e) => e.name === "exception")).toBe(true);

    await cache.set("text", "not a number");
    const bump = cache.cache({ ttl: "1m", key: "bump" })(async () => cache.incr("text"));
    await bump();
    const incr = commandSpans().find((s) => s.attributes["db.operation.name"] === "incr")!;
    expect(incr.status.code).toBe(SpanStatusCode.ERROR);
    expect(await rig.count(M.errors.otel, { "cashews.backend": "mem", "cashews.strategy": "cache" })).toBe(1);
    expect(await rig.histogramCount(M.commandDuration.otel, { "db.operation.name": "incr", "cashews.outcome": "error" })).toBe(1);
    // A direct set outside a decorated call: strategy "none".
    expect(await rig.count(M.sets.otel, { "cashews.strategy": "none" })).toBe(1);
  });

  it("counts stampede waits (in-process join, locked) and rate-limit decisions", async () => {
    const { cache } = instrumented("mem://");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = cache.cache({ ttl: "1m", key: "slow" })(async () => (await gate, 1));
    const both = Promise.all([slow(), slow()]);
    release();
    await both;
    expect(await rig.histogramCount(M.stampedeWait.otel, { "cashews.wait.kind": "in-flight", "cashews.strategy": "cache", "cashews.backend": "mem" })).toBe(1);

    let open!: () => void;
    const held = new Promise<void>((r) => (open = r));
    const job = cache.locked({ ttl: "10s", key: "job" })(async (n: number) => (n === 1 ? await held : undefined, n));
    const first = job(1);
    await new Promise((r) => setTimeout(r, 20));
    const second = job(2);
    await new Promise((r) => setTimeout(r, 30));
    open();
    await Promise.all([first, second]);
    expect(await rig.histogramCount(M.stampedeWait.otel, { "cashews.wait.kind": "lock", "cashews.strategy": "locked" })).toBe(1);

    const api = cache.limiter({ algorithm: "fixed", limit: 2, period: "1m", prefix: "api" });
    for (let i = 0; i < 5; i++) await api.limit("u");
    expect(await rig.count(M.rateLimit.otel, { "cashews.decision": "allowed", "cashews.backend": "mem", "cashews.limiter": "api" })).toBe(2);
    expect(await rig.count(M.rateLimit.otel, { "cashews.decision": "refused" })).toBe(3);
  });

  it("uninstrument stops spans and metrics; the cache can be instrumented again", async () => {
    const { cache, uninstrument } = instrumented("mem://");
    const fn = cache.cache({ ttl: "1m", key: "u" })(async () => 1);
    await fn();
    uninstrument();
    uninstrument();
    const spans = rig.spans().length;
    const hits = await rig.count(M.hits.otel);
    await fn();
    await cache.get("u");
    expect(rig.spans()).toHaveLength(spans);
    expect(await rig.count(M.hits.otel)).toBe(hits);
    const again = instrument(cache, { tracer: rig.tracerProvider.getTracer("test"), meter: false });
    await fn();
    again();
    expect(callSpans()).toHaveLength(2);
  });

  it("refuses a second instrumentation, and what is not a cache, with CacheConfigError", () => {
    const { cache } = instrumented("mem://");
    expect(() => instrument(cache)).toThrow(CacheConfigError);
    expect(() => instrument(cache)).toThrow(/already instrumented/);
    expect(() => instrument({} as CoreCache)).toThrow(CacheConfigError);
    expect(() => instrument({} as CoreCache)).toThrow(/instrument: the first argument must be a cache/);
  });

  it("defaults to the global providers, with the instrumentation scope cashews@version; tracer/meter false turn either off", async () => {
    rig = createRig();
    trace.setGlobalTracerProvider(rig.tracerProvider);
    metrics.setGlobalMeterProvider(rig.meterProvider);
    cleanup.push(() => rig.shutdown(), () => trace.disable(), () => metrics.disable());
    const cache = new CoreCache("defaults").setup("mem://");
    const off = instrument(cache);
    const fn = cache.cache({ ttl: "1m", key: "d" })(async () => 1);
    await fn();
    off();
    expect(callSpans()[0]!.instrumentationScope).toMatchObject({ name: "cashews", version: pkg.version });
    expect(await rig.count(M.misses.otel)).toBe(1);

    const noSpans = instrument(cache, { tracer: false });
    await fn();
    noSpans();
    expect(callSpans()).toHaveLength(1);
    expect(await rig.count(M.hits.otel)).toBe(1);
    const noMetrics = instrument(cache, { meter: false });
    await fn();
    noMetrics();
    expect(callSpans()).toHaveLength(2);
    expect(await rig.count(M.hits.otel)).toBe(1);
    await cache.close();
  });
});

describe.skipIf(!redisUrl)("cashews/otel on redis://", () => {
  it("command spans with db.system.name redis; hits, misses and sets by backend; local-tier hits", async () => {
    const { cache } = instrumented(redisUrl, { local: { ttl: "1m" } });
    const key = `otel:${process.pid}:${Date.now()}`;
    cleanup.push(() => cache.delete(key));
    const fn = cache.cache({ ttl: "1m", key })(async function fromDb() {
      return "v";
    });
    expect(await fn()).toBe("v");
    expect(await fn()).toBe("v");
    const [miss] = callSpans();
    expect(miss!.attributes).toMatchObject({ "cashews.backend": "redis", "cashews.outcome": "miss", "cashews.key_template": key });
    const commands = childrenOf(miss!);
    expect(commands.map((s) => s.attributes["db.operation.name"])).toEqual(expect.arrayContaining(["get", "set"]));
    for (const span of commands) {
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.attributes["db.system.name"]).toBe("redis");
    }
    expect(commands.find((s) => s.attributes["db.operation.name"] === "get")!.name).toBe("get redis");
    const labels = { "cashews.backend": "redis", "cashews.strategy": "cache" };
    expect(await rig.count(M.misses.otel, labels)).toBe(1);
    expect(await rig.count(M.hits.otel, labels)).toBe(1);
    expect(await rig.count(M.sets.otel, labels)).toBe(1);
    expect(await rig.histogramCount(M.commandDuration.otel, { "db.system.name": "redis", "db.operation.name": "get" })).toBeGreaterThanOrEqual(1);
    // The clientSide copy (redis's local tier on one node) answers once tracking confirmed the key.
    for (let i = 0; i < 100 && (await rig.count(M.localHits.otel)) === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      await fn();
    }
    expect(await rig.count(M.localHits.otel, { "cashews.backend": "redis" })).toBeGreaterThanOrEqual(1);
  });

  it("a distributed lock wait (cache lock: true) is a single-flight stampede wait", async () => {
    rig = createRig();
    const meter = rig.meterProvider.getMeter("test");
    const a = new Cache("otel-lock-a").setup(redisUrl);
    const b = new Cache("otel-lock-b").setup(redisUrl);
    const offA = instrument(a, { meter, tracer: false });
    const offB = instrument(b, { meter, tracer: false });
    cleanup.push(() => rig.shutdown(), () => a.close(), () => b.close(), offA, offB);
    const key = `otel-sf:${process.pid}:${Date.now()}`;
    cleanup.push(() => a.delete(key));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const onA = a.cache({ ttl: "1m", key, lock: true })(async () => (calls++, await gate, "A"));
    const onB = b.cache({ ttl: "1m", key, lock: true })(async () => (calls++, "B"));
    const first = onA();
    await new Promise((r) => setTimeout(r, 50));
    const second = onB();
    await new Promise((r) => setTimeout(r, 50));
    release();
    expect(await Promise.all([first, second])).toEqual(["A", "A"]);
    expect(calls).toBe(1);
    expect(await rig.histogramCount(M.stampedeWait.otel, { "cashews.wait.kind": "single-flight", "cashews.strategy": "cache", "cashews.backend": "redis" })).toBe(1);
  });
});
