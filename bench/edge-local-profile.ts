/**
 * Where a local-tier hit spends its time inside workerd, against a mem:// hit
 * (`node --import tsx bench/edge-local-profile.ts`): bench/edge-local-profile-worker.ts, bundled like
 * the edge tier's Worker, in one workerd instance (miniflare, in-memory KV, Cache API, nodejs_compat).
 * Each layer: `n` sequential calls between two awaited KV reads, one KV read's cost subtracted,
 * median over interleaved rounds. Env: N (default 200000), ROUNDS (default 7).
 */
import { Miniflare } from "miniflare";
import { bundleWorker } from "../runtimes/workers/build.js";
import { COMPATIBILITY_DATE } from "../test/support/workerd.js";

const N = Number(process.env.N ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const { code } = await bundleWorker("bench/edge-local-profile-worker.ts");
const mf = new Miniflare({
  modules: [{ type: "ESModule", path: "worker.mjs", contents: code }],
  compatibilityDate: COMPATIBILITY_DATE,
  compatibilityFlags: ["nodejs_compat"],
  kvNamespaces: ["KV"],
  cache: true,
});
try {
  const response = await mf.dispatchFetch(`http://localhost/run?n=${N}&rounds=${ROUNDS}`);
  const out = (await response.json()) as { error?: string; stack?: string; tickNs: number; layers: [string, number][] };
  if (out.error) throw new Error(`${out.error}\n${out.stack}`);
  console.log(`| layer (in workerd, ${N} sequential calls per sample, one KV read of ${Math.round(out.tickNs / 1000)} µs subtracted) | ns per call (median of ${ROUNDS}) |`);
  console.log("|---|--:|");
  for (const [name, ns] of out.layers) console.log(`| ${name} | ${Math.round(ns)} |`);
} finally {
  await mf.dispose();
}
