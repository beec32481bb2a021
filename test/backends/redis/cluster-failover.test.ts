// Redis Cluster failover (issue 19, item 4): a cluster of its own, 3 masters with one replica
// each and cluster-node-timeout 1 s. Under a load of reads, writes and limiter calls on keys spread
// over every slot, the master of one chosen slot is SIGKILLed. Safe mode promises: no call
// throws, each resolves within `timeout` + a generous margin (a miss, `false` or an admitted limit:
// fail open), and once the cluster has promoted the replica the same cache (not recreated) reads
// and writes that slot again. Then: the local tier does not serve a value from before the failover
// (flushed when the master was lost; later changes come over its bus), a fresh lock is granted
// once, a fresh limit admits exactly its limit.
//
// Not asserted (Redis replication is asynchronous, WAIT is not used): that writes acknowledged by
// the old master just before it died survive; they may be lost, counters and locks included.
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Cache } from "../../../src/index.js";
import { runLoad, sleep, summarize, waitUntil, watchEventLoopLag, watchUnhandledRejections, slowerThan } from "../../support/chaos.js";
import { startRedisCluster, type RedisCluster } from "../../support/redis-cluster.js";

// "" = no redis-server or redis-cli binary; global-setup already failed the run if CI=true.
const available = inject("redisClusterUrl") !== "";

const TIMEOUT = 300;
/** Generous: the bound is `timeout`, the margin is for a shared, busy machine. */
const BOUND = TIMEOUT + 1500;
const WORKERS = 30;
/** How long the promotion may take (node timeout 1 s; usually 2-4 s). */
const FAILOVER_DEADLINE_MS = 30_000;
const RUN = `${process.pid}-${Date.now()}`;

describe.skipIf(!available)("Redis Cluster failover: a master SIGKILLed under load, its replica promoted", () => {
  let cluster: RedisCluster;
  const caches: Cache[] = [];
  const namespace = `fo-${RUN}`;
  const make = (label: string, local: boolean): Cache => {
    const cache = new Cache(`failover-${label}`).setup(cluster.url, {
      timeout: TIMEOUT,
      namespace,
      ...(local ? { local: { ttl: "1m" } } : {}),
    });
    cache.on("error", () => {}); // failures during the outage are expected (counted below)
    caches.push(cache);
    return cache;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: 1000 });
  }, 60_000);
  afterAll(async () => {
    for (const cache of caches) await cache.close();
    await cluster?.stop();
  });

  it("fails open within timeout during the outage, then uses the promoted replica without a restart; local tier, locks and limits are right after it", async () => {
    expect(cluster.ports).toHaveLength(3);
    expect(cluster.replicaPorts).toHaveLength(3);
    const cache = make("main", true); // the cache under load, with a local tier
    const other = make("other", true); // another instance, local tier too (publishes its writes)
    const plain = make("plain", false); // reads straight from Redis
    await Promise.all([cache.init(), other.init(), plain.init()]);

    // Every key of the chosen slot shares the hash tag {fo}.
    const probe = "{fo}:probe";
    const shared = "{fo}:shared";
    const victim = await cluster.masterOf(`${namespace}:${probe}`);
    expect(await cluster.masterOf(`${namespace}:${shared}`)).toBe(victim);
    expect(await cluster.masterOf(`${namespace}:limiter:{fo}:after`)).toBe(victim);

    // Before: the local tier of `cache` holds v1 (its own write, read back).
    expect(await cache.set(shared, "v1")).toBe(true);
    expect(await cache.get(shared)).toBe("v1");

    const limiter = cache.limiter({ algorithm: "fixed", limit: 1_000_000, period: "1m" });
    /** Each write of the load: whether it succeeded, and whether its key is in the chosen slot. */
    const setResults: { ok: boolean; victimSlot: boolean }[] = [];
    const unhandled = watchUnhandledRejections();
    const loop = watchEventLoopLag();
    // Keys spread over the slots (and so over the 3 masters), the chosen slot included.
    const load = runLoad(WORKERS, (worker, i) => {
      // A call may settle without I/O (a local hit, a refusal while the backend is down): yield to
      // the event loop first, or the workers would starve the timers (microtasks only).
      const call = (fn: string, run: () => Promise<void>) => ({ fn, run: async () => (await yieldToLoop(), run()) });
      const key = i % 4 === 0 ? `{fo}:load:${worker}` : `load:${worker}:${i % 25}`;
      switch (i % 3) {
        case 0:
          return call("set", async () => void setResults.push({ ok: await cache.set(key, { worker, i }, { expire: "1m" }), victimSlot: i % 4 === 0 }));
        case 1:
          return call("get", async () => void (await cache.get(key)));
        default:
          return call("limit", async () => {
            const answer = await limiter.limit(i % 4 === 0 ? `{fo}:${worker}` : `w${worker}`);
            if (!answer.success) throw new Error("a 1 000 000 per minute limit refused a call");
          });
      }
    });
    try {
      await sleep(1000); // warm
      const setsBefore = setResults.length;
      expect(setResults.every((r) => r.ok), "every write succeeded before the kill").toBe(true);

      const origin = performance.now();
      await cluster.kill(victim);
      const killedAt = performance.now();

      // Poll the chosen slot on the same cache until a write succeeds and reads back from Redis.
      let polls = 0;
      const failoverMs = await waitUntil(
        async () => {
          polls++;
          if (!(await cache.set(probe, polls))) return false;
          return (await plain.get(probe)) === polls;
        },
        FAILOVER_DEADLINE_MS,
        100,
      );
      const recoveredAt = performance.now();
      const setsAfterRecovery = setResults.length;
      const promoted = await cluster.masterOf(`${namespace}:${probe}`);
      expect(promoted).not.toBe(victim);
      expect(cluster.replicaPorts).toContain(promoted);

      await sleep(1000); // load on the recovered cluster
      const records = await load.stop();
      const during = records.filter((r) => r.start >= killedAt && r.start < recoveredAt);
      const outageSets = setResults.slice(setsBefore, setsAfterRecovery);
      const failedSets = outageSets.filter((r) => !r.ok).length;
      // Other slots' writes during the outage (informative: a slow dead node may make the backend unresponsive for all).
      const otherSlots = outageSets.filter((r) => !r.victimSlot);
      const otherFailed = otherSlots.filter((r) => !r.ok).length;
      const slowest = during.reduce((max, r) => Math.max(max, r.ms), 0);
      const summary = `${summarize(during, origin)}; failover in ${failoverMs.toFixed(0)} ms (${polls} polls), ${failedSets} of ${outageSets.length} writes failed open (${otherFailed} of ${otherSlots.length} on the other masters' slots), slowest call during the outage ${slowest.toFixed(0)} ms`;
      console.log(`[cluster failover] ${summary}`);

      expect(during.length, summary).toBeGreaterThan(WORKERS);
      expect(failedSets, `writes to the dead master's slots failed open: ${summary}`).toBeGreaterThan(0);
      // Safe mode: nothing threw, nothing was refused, nothing hung.
      expect(records.filter((r) => r.failure !== undefined).map((r) => `${r.fn}: ${r.failure}`), summary).toEqual([]);
      expect(slowerThan(during, BOUND, loop, origin), summary).toEqual([]);
      expect(unhandled.reasons).toEqual([]);
      // The last writes of the load, after the recovery, went through (every slot served again).
      expect(setResults.slice(-WORKERS).filter((r) => !r.ok), summary).toEqual([]);
    } finally {
      await load.stop();
      loop.stop();
      unhandled.stop();
    }

    // The same cache reads and writes the promoted slot.
    expect(await cache.set(`{fo}:after`, "round trip")).toBe(true);
    expect(await plain.get(`{fo}:after`)).toBe("round trip");
    const direct = new Redis({ host: "127.0.0.1", port: await cluster.masterOf(`${namespace}:{fo}:after`), lazyConnect: true });
    try {
      await direct.connect();
      expect(await direct.exists(`${namespace}:{fo}:after`)).toBe(1);
    } finally {
      direct.disconnect();
    }

    // Local tier, 1: `cache` held v1 locally from before the failover. A write no bus carries
    // (`plain` has no local tier; or the old master's last write lost by the asynchronous
    // replication) leaves the promoted master with something else: the copy was flushed when the
    // connection lost the master, so `cache` reads what the cluster holds now.
    expect(await plain.set(shared, "v3")).toBe(true);
    expect(await cache.get(shared)).toBe("v3");
    // Local tier, 2: another instance with a local tier overwrites it; the bus delivers the change.
    // (`other`'s first command on the slot may still meet a node that has not heard of the
    // promotion yet and answers CLUSTERDOWN: failed open at once, so it is retried here.)
    await waitUntil(() => other.set(shared, "v2"), 5000, 50);
    await waitUntil(async () => (await cache.get(shared)) === "v2", 5000, 20);
    expect(await plain.get(shared)).toBe("v2");

    // A fresh lock on the promoted slot: granted to exactly one of 10, released exactly once.
    const lockKey = `{fo}:lock`;
    const owners = Array.from({ length: 10 }, (_, i) => `owner-${i}`);
    const granted = await Promise.all(owners.map((owner) => cache.setLock(lockKey, owner, "30s")));
    expect(granted.filter(Boolean)).toHaveLength(1);
    const holder = owners[granted.indexOf(true)]!;
    expect(await cache.unlock(lockKey, owners.find((o) => o !== holder)!)).toBe(false);
    expect(await cache.unlock(lockKey, holder)).toBe(true);
    expect(await cache.unlock(lockKey, holder)).toBe(false);
    expect(await cache.setLock(lockKey, "next", "30s")).toBe(true);

    // A fresh rate limit on the promoted slot: exactly 5 of 20 concurrent calls, none failed open.
    const perMinute = cache.limiter({ algorithm: "fixed", limit: 5, period: "1m" });
    const answers = await Promise.all(Array.from({ length: 20 }, () => perMinute.limit("{fo}:after")));
    expect(answers.filter((a) => a.success)).toHaveLength(5);
    expect(answers.every((a) => Number.isFinite(a.remaining)), "no answer came from safe mode").toBe(true);
  }, 90_000);
});
