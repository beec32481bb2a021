// Reliability on upstash://: the REST endpoint (our Upstash-compatible server in front of the
// shared redis-server) goes down, or turns slow (every request answered only after 5 s), while
// calls stay in flight through decorated functions (cache, early, soft, failover, hit, locked,
// rateLimit). Safe mode promises: each call is bounded by `timeout` (+250 ms allowance), the
// functions' results are still returned, nothing escapes as an unhandled rejection, and caching
// works again once the endpoint is healthy. Quiet outages (issue 19, item 3): one backend-down and one
// backend-up per fault (failedOpen: the failures counted by stats but the late ones), and at most
// one error event per second of outage instead of one per failed command.
//
// Durations: each call's bound is checked on its own time, i.e. without the moments the event
// loop could not run at all (the REST server shares this process, other test files the CPUs).
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Cache } from "../../../src/index.js";
import { expectFailOpen, expectQuietOutage, RECOVERY_MS, slowerThan, underLoad, type ChaosRun } from "../../support/chaos.js";
import { startUpstashServer, type UpstashServer } from "../../support/upstash-server.js";

// "" = no redis-server binary; global-setup already failed the run if CI=true.
const redisUrl = inject("redisUrl");

const TIMEOUT = 400;
const BOUND = TIMEOUT + 250;
const WORKERS = 40;
const FAULT_MS = 1500;

/**
 * The calls the endpoint's trouble could touch: those still running when it began, and all later
 * ones (the warm-up's first calls pay for connections and script loading, not for the fault).
 */
const fromFault = (run: ChaosRun) => run.records.filter((r) => r.start + r.ms > run.faultAt);

describe.skipIf(!redisUrl)("chaos: Upstash endpoint down, then slow (upstash://)", () => {
  let server: UpstashServer;
  const caches: Cache[] = [];
  beforeAll(async () => {
    server = await startUpstashServer({ redisUrl }); // our own REST server: stopped and slowed here
  });
  afterAll(async () => {
    for (const cache of caches) await cache.close();
    server?.setDelay(0);
    await server?.stop();
  });
  const cacheFor = (label: string): Cache => {
    const cache = new Cache(`chaos-${label}`).setup(server.url.replace(/^http:/, "upstash+http:"), {
      token: server.token,
      namespace: `chaos-${label}-${process.pid}`,
      timeout: TIMEOUT,
    });
    caches.push(cache);
    return cache;
  };

  it("endpoint stopped (connection refused): zero failed calls, every call within timeout + 250 ms, caching back after the restart", async () => {
    const run = await underLoad(cacheFor("down"), {
      label: "upstash down",
      workers: WORKERS,
      warmMs: 1000,
      faultMs: FAULT_MS,
      recoveryMs: RECOVERY_MS + 2000,
      fault: () => server.stop(),
      heal: () => server.restart(),
    });
    expectFailOpen(run);
    expectQuietOutage(run, "upstash+http");
    expect(slowerThan(fromFault(run), BOUND, run.loop, run.origin), run.summary).toEqual([]);
  }, 20_000);

  let slow: ChaosRun | undefined;
  it("endpoint slow (answers after 5 s): zero failed calls, results returned, commands time out, caching back afterwards", async () => {
    slow = await underLoad(cacheFor("slow"), {
      label: "upstash slow",
      workers: WORKERS,
      warmMs: 1000,
      faultMs: FAULT_MS,
      recoveryMs: RECOVERY_MS + 2000,
      fault: () => server.setDelay(5000),
      heal: () => server.setDelay(0),
    });
    expectFailOpen(slow);
    expectQuietOutage(slow, "upstash+http");
    expect(slow.errors.some((e) => /timed out after 400 ms/.test(String((e.error as Error | undefined)?.message)))).toBe(true);
    // No hang: however many round trips a strategy makes (4 at most: hit), each is bounded by the timeout.
    expect(slowerThan(fromFault(slow), 4 * TIMEOUT + 250, slow.loop, slow.origin), slow.summary).toEqual([]);
  }, 20_000);

  // The strategies' sequential round trips: the first request to time out makes the endpoint
  // unresponsive, and later commands fail at once until a PING answers, so a call against a slow
  // endpoint pays at most one timeout.
  it("endpoint slow: every call within timeout + 250 ms (one timeout per call, not one per round trip)", () => {
    expect(slow, "the slow run above completed").toBeDefined();
    if (!slow) return;
    expect(slowerThan(fromFault(slow), BOUND, slow.loop, slow.origin), slow.summary).toEqual([]);
  });
});
