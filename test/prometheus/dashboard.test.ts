// The example Grafana dashboard (examples/grafana/cashews-dashboard.json) cannot drift from what
// cashews/prometheus exposes: every PromQL expression names only samples an instrumented registry
// exposes (`_bucket`, `_sum`, `_count` for histograms) and only labels those metrics carry; every
// metric of the catalog has a panel; every panel reads the dashboard's Prometheus datasource variable.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Registry } from "prom-client";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Cache } from "../../src/index.js";
import "../../src/redis.js";
import { instrument } from "../../src/prometheus/index.js";
import { LABELS, METRICS } from "../../src/core/catalog.js";

const redisUrl = inject("redisUrl");
const file = fileURLToPath(new URL("../../examples/grafana/cashews-dashboard.json", import.meta.url));
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Target {
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(file, "utf8")) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== "row");
/** Every PromQL expression: the panels' targets and the query variables. */
const expressions = [
  ...panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
  ...dashboard.templating.list
    .filter((v) => v.type === "query")
    .map((v) => ({ where: `variable ${v.name}`, expr: typeof v.query === "string" ? v.query : v.query.query })),
];

/** The metric names an expression uses (the package's own: `cashews_…`, after any prefix-free start). */
const metricsIn = (expr: string): string[] => [...new Set(expr.match(/\bcashews_[a-zA-Z0-9_]+/g) ?? [])];

/** Sample names a registry exposes, by what its `# TYPE` lines declare, with the labels of each. */
async function exposed(registry: Registry): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const metric of registry.getMetricsAsArray()) {
    const labels = new Set((metric as unknown as { labelNames: string[] }).labelNames);
    if (String(metric.type) === "histogram") {
      out.set(`${metric.name}_bucket`, new Set([...labels, "le"]));
      for (const suffix of ["_sum", "_count"]) out.set(metric.name + suffix, labels);
    } else {
      out.set(metric.name, labels);
    }
  }
  // The declarations match the text a scrape gets.
  const text = await registry.metrics();
  for (const metric of registry.getMetricsAsArray()) expect(text).toContain(`# TYPE ${metric.name} ${String(metric.type)}`);
  return out;
}

/** Label names an expression uses: matchers, `by (…)` / `without (…)` groupings, label_values' second argument. */
function labelsIn(expr: string): string[] {
  const found = new Set<string>();
  for (const [, inside] of expr.matchAll(/\{([^}]*)\}/g)) for (const [, name] of inside!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) found.add(name!);
  for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const name of list!.split(",")) if (name.trim()) found.add(name.trim());
  for (const [, name] of expr.matchAll(/label_values\([^,]+,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)/g)) found.add(name!);
  return [...found];
}

/** What is wrong with `exprs` against the exposed `samples`: unknown samples, labels none of their metrics carry. */
function drift(exprs: readonly { where: string; expr: string }[], samples: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  for (const { where, expr } of exprs) {
    const names = metricsIn(expr);
    if (names.length === 0) problems.push(`${where}: no cashews metric in ${expr}`);
    const known = new Set<string>();
    for (const name of names) {
      const labels = samples.get(name);
      if (labels === undefined) problems.push(`${where}: ${name} is not exposed`);
      else labels.forEach((l) => known.add(l));
    }
    for (const label of labelsIn(expr)) if (!known.has(label)) problems.push(`${where}: label ${label} is on none of ${names.join(", ")}`);
  }
  return problems;
}

/** The samples a registry exposes once a fresh mem:// cache named `name` is instrumented on it. */
async function instrumentedSamples(name: string): Promise<Awaited<ReturnType<typeof exposed>>> {
  const registry = new Registry();
  const cache = new Cache(name).setup("mem://");
  cleanup.push(() => cache.close());
  cleanup.push(instrument(cache, { registry }));
  return exposed(registry);
}

describe("examples/grafana/cashews-dashboard.json", () => {
  it("is a Grafana dashboard with a Prometheus datasource variable that every panel and target uses", () => {
    expect(dashboard.title).toBe("cashews cache");
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const datasource = dashboard.templating.list.find((v) => v.type === "datasource");
    expect(datasource).toMatchObject({ name: "datasource", query: "prometheus" });
    expect(panels.length).toBeGreaterThanOrEqual(10);
    for (const panel of panels) {
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets!) expect(target.datasource, panel.title).toEqual(panel.datasource);
    }
    // Panel ids are unique (Grafana keys panels by id).
    const ids = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("uses only samples and labels an instrumented registry exposes, and has a panel for every metric", async () => {
    const samples = await instrumentedSamples("dashboard");
    expect(samples.size).toBe(Object.values(METRICS).reduce((n, m) => n + (m.kind === "histogram" ? 3 : 1), 0));

    const problems = drift(expressions, samples);
    expect(problems).toEqual([]);

    const used = new Set(expressions.flatMap((e) => metricsIn(e.expr)).map((n) => n.replace(/_(bucket|sum|count)$/, "")));
    for (const metric of Object.values(METRICS)) expect(used, metric.prometheus).toContain(metric.prometheus);
    // The panels: command latency p50 and p99 from the buckets, hit ratio by backend and strategy.
    const all = expressions.map((e) => e.expr).join("\n");
    expect(all).toContain("histogram_quantile(0.5, sum by (le, backend, command) (rate(cashews_command_duration_seconds_bucket");
    expect(all).toContain("histogram_quantile(0.99, sum by (le, backend, command) (rate(cashews_command_duration_seconds_bucket");
    expect(all).toMatch(/sum by \(backend, strategy\) \(rate\(cashews_hits_total/);
    expect(all).toMatch(/decision="refused"/);
  });

  it("the checks catch drift: a renamed metric, a missing suffix or a foreign label would be reported", async () => {
    const samples = await instrumentedSamples("dashboard-drift");
    const drifted = [
      { where: "renamed", expr: "sum(rate(cashews_hit_total[5m]))" },
      { where: "no suffix", expr: "histogram_quantile(0.5, sum by (le) (rate(cashews_command_duration_seconds[5m])))" },
      { where: "foreign label", expr: "sum by (command) (rate(cashews_hits_total[5m]))" },
      { where: "le on a counter", expr: 'sum(rate(cashews_sets_total{le="1"}[5m]))' },
      { where: "none", expr: "up" },
      { where: "fine", expr: 'sum by (le, backend) (rate(cashews_command_duration_seconds_bucket{outcome="ok"}[5m]))' },
    ];
    expect(drift(drifted, samples)).toEqual([
      "renamed: cashews_hit_total is not exposed",
      "no suffix: cashews_command_duration_seconds is not exposed",
      "no suffix: label le is on none of cashews_command_duration_seconds",
      "foreign label: label command is on none of cashews_hits_total",
      "le on a counter: label le is on none of cashews_sets_total",
      "none: no cashews metric in up",
    ]);
    expect(labelsIn('sum by (le, kind) (rate(cashews_stampede_wait_seconds_bucket{backend=~"$backend",strategy!="x"}[5m]))').sort()).toEqual(["backend", "kind", "le", "strategy"]);
    expect(labelsIn("label_values(cashews_hits_total, strategy)")).toEqual(["strategy"]);
    // Every label the catalog defines is a label some metric carries (the dashboard's vocabulary).
    const carried = new Set([...samples.values()].flatMap((s) => [...s]));
    for (const label of Object.values(LABELS)) expect(carried).toContain(label.prometheus);
  });

  it.skipIf(!redisUrl)("after real calls, the samples each expression reads are in a scrape (redis:// with a local copy, mem://)", async () => {
    const registry = new Registry();
    const remote = new Cache("dashboard-redis").setup(redisUrl, { prefix: "", namespace: `dash-${process.pid}-${Date.now()}`, local: { ttl: "1m" } } as never);
    cleanup.push(() => remote.close());
    cleanup.push(instrument(remote, { registry }));
    const fn = remote.cache({ ttl: "1m", key: "dash" })(async () => "v");
    await fn();
    let local = false;
    for (let i = 0; i < 100 && !local; i++) {
      await sleep(20);
      await fn();
      local = /^cashews_local_hits_total\{[^}]*\} [1-9]/m.test(await registry.metrics());
    }
    expect(local).toBe(true);
    await remote.set("text", "x");
    await remote.incr("text"); // an error
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = remote.cache({ ttl: "1m", key: "dash-slow" })(async () => (await gate, 1));
    const both = Promise.all([slow(), slow()]); // an in-flight wait
    release();
    await both;
    const api = remote.limiter({ algorithm: "fixed", limit: 1, period: "1m", prefix: "dash-api" });
    await api.limit("u");
    await api.limit("u");
    await remote.clear();

    const text = await registry.metrics();
    const scraped = new Set(text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]!));
    for (const { where, expr } of expressions) for (const name of metricsIn(expr)) expect(scraped, `${where}: ${name}`).toContain(name);
  });
});
