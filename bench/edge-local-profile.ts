/**
 * Where a local-tier hit spends its time inside workerd, against a mem:// hit
 * (`node --import tsx bench/edge-local-profile.ts`): bench/edge-local-profile-worker.ts, bundled like
 * the edge tier's Worker, in one workerd instance (miniflare, in-memory KV, Cache API, nodejs_compat).
 * Each layer: `n` sequential calls between two awaited KV reads, one KV read's cost subtracted,
 * median over interleaved rounds; once in an isolate that never enters a cashews scope, once in one
 * that runs inside `withCache` (as the edge tier). Env: N (default 200000), ROUNDS (default 7).
 */
import { Miniflare } from "miniflare";
import { bundleWorker } from "../runtimes/workers/build.js";
import { COMPATIBILITY_DATE } from "../test/support/workerd.js";

const N = Number(process.env.N ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const { code } = await bundleWorker("bench/edge-local-profile-worker.ts");
type Out = { error?: string; stack?: string; tickNs: number; layers: [string, number][] };

/** One workerd instance: scoped (the isolate inside withCache, as the edge tier) or not. */
async function profile(scoped: boolean): Promise<Out> {
  const mf = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: code }],
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: ["nodejs_compat"],
    kvNamespaces: ["KV"],
    cache: true,
    bindings: { SCOPED: scoped ? "1" : "0" },
  });
  try {
    const response = await mf.dispatchFetch(`http://localhost/run?n=${N}&rounds=${ROUNDS}`);
    const out = (await response.json()) as Out;
    if (out.error) throw new Error(`${out.error}\n${out.stack}`);
    return out;
  } finally {
    await mf.dispose();
  }
}

const plain = await profile(false);
const scoped = await profile(true);
const plainNs = new Map(plain.layers);
console.log(
  `| layer (in workerd, ${N} sequential calls per sample, one KV read subtracted: ${Math.round(plain.tickNs / 1000)} / ${Math.round(scoped.tickNs / 1000)} µs) | ns per call, no scope entered (median of ${ROUNDS}) | ns per call, isolate inside withCache |`,
);
console.log("|---|--:|--:|");
for (const [name, ns] of scoped.layers) {
  const p = plainNs.get(name);
  console.log(`| ${name} | ${p === undefined ? "–" : Math.round(p)} | ${Math.round(ns)} |`);
}
