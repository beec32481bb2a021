// The limit calls of one tick run as one LIMIT script (LimitBatcher, src/backends/remote.ts), on
// redis://, redis+cluster:// (one script per hash slot) and upstash:// (one command in the tick's
// request): counted on the wire (a counting ioredis client; the REST server's command counts).
// Within a script the calls run in issue order, each as if alone; a call that fails there (a key
// of another type) fails alone.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createRedisBackend, type RedisBackend } from "../../../src/backends/redis/backend.js";
import { createUpstashBackend } from "../../../src/backends/upstash/backend.js";
import type { Backend, LimitAnswer, LimitRequest } from "../../../src/backends/types.js";
import { countingClient } from "../../support/counting-client.js";
import { startUpstashServer, type UpstashServer } from "../../support/upstash-server.js";

const redisUrl = inject("redisUrl");
const clusterUrl = inject("redisClusterUrl");

const fixed = (limit: number): LimitRequest => ({ rules: [{ algorithm: "fixed", limit, periodMs: 60_000, refill: limit }], cost: 1 });
const all = (limit: number): LimitRequest => ({
  rules: [
    { algorithm: "fixed", limit, periodMs: 60_000, refill: limit },
    { algorithm: "sliding", limit, periodMs: 60_000, refill: limit },
    { algorithm: "tokenBucket", limit, periodMs: 60_000, refill: limit },
  ],
  cost: 1,
});

/** How much `total()` grew since the last call. */
function sinceLast(total: () => number): () => number {
  let seen = 0;
  return () => {
    const grown = total() - seen;
    seen += grown;
    return grown;
  };
}

/**
 * A redis backend (namespace `namespace`) on a counting client of `url` for `body`, with the LIMIT
 * scripts sent since the last `scripts()`; cleared and closed after.
 */
async function withCountedBackend(
  url: string,
  namespace: string,
  body: (t: { backend: RedisBackend; client: Awaited<ReturnType<typeof countingClient>>["client"]; scripts: () => number }) => Promise<void>,
): Promise<void> {
  const { client, commands } = await countingClient(url);
  const backend = createRedisBackend(url, { namespace, client });
  try {
    await backend.init();
    await body({ backend, client, scripts: sinceLast(() => (commands.evalsha ?? 0) + (commands.eval ?? 0)) });
  } finally {
    await backend.clear();
    await backend.close();
    client.disconnect();
  }
}

/**
 * What every backend must show, `scripts()` counting the LIMIT scripts sent since the last call.
 * `solo`: the backend writes the first call of a tick at once (redis://, like its solo GET): a
 * tick of n calls after a lone one is then that call's script and the others' (see `settled`).
 */
function batchingTests(
  name: string,
  make: () => Promise<{ backend: Backend; solo: boolean; perScript: number; scripts: () => number; setRaw: (key: string) => Promise<void>; close: () => Promise<void> }>,
): void {
  describe(name, () => {
    let t: Awaited<ReturnType<typeof make>>;
    const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    /** A lone call, awaited: the next tick starts as after any lone call (its first call solo, where the backend does that). */
    const settled = async (): Promise<void> => {
      await t.backend.limit(`${run}-settle`, fixed(1_000_000));
      t.scripts();
    };
    beforeAll(async () => {
      t = await make();
      await t.backend.limit(`${run}-warm`, fixed(1)); // the script is loaded
      t.scripts();
    });
    afterAll(() => t.close());

    it("100 concurrent calls on 100 ids are scripts of perScript calls at most, after a solo first; a lone call is one script", async () => {
      const scriptsOf = (calls: number): number => Math.ceil(calls / t.perScript);
      await settled();
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => t.backend.limit(`${run}-ids-${i}`, all(3))));
      expect(answers.every((a) => a.success && a.states.every((s) => s.remaining === 2))).toBe(true);
      // Solo: the first call was written at once, the 99 others are full scripts and the rest.
      expect(t.scripts()).toBe(t.solo ? 1 + scriptsOf(99) : scriptsOf(100));
      // The tick after one that held more batches from its first call.
      const again = await Promise.all(Array.from({ length: 100 }, (_, i) => t.backend.limit(`${run}-ids-${i}`, all(3))));
      expect(again.every((a) => a.success && a.states.every((s) => s.remaining === 1))).toBe(true);
      expect(t.scripts()).toBe(scriptsOf(100));
      expect((await t.backend.limit(`${run}-ids-0`, all(3))).states.map((s) => s.remaining)).toEqual([0, 0, 0]);
      expect(t.scripts()).toBe(1);
    });

    it("calls on one id run in issue order, each as if alone: the first `limit` are admitted", async () => {
      await settled();
      const answers: LimitAnswer[] = await Promise.all(Array.from({ length: 120 }, () => t.backend.limit(`${run}-order`, all(50))));
      expect(answers.map((a) => a.success)).toEqual(Array.from({ length: 120 }, (_, i) => i < 50));
      expect(answers.slice(0, 50).map((a) => a.states[0]!.remaining)).toEqual(Array.from({ length: 50 }, (_, i) => 49 - i));
      // 120 calls: scripts of perScript calls at most, run in turn (solo: the first alone, then the others).
      expect(t.scripts()).toBe(t.solo ? 1 + Math.ceil(119 / t.perScript) : Math.ceil(120 / t.perScript));
    });

    it("a call on a key of another type fails alone; the others of its script are answered", async () => {
      await t.setRaw(`{${run}-bad}:f60000`);
      await settled();
      const answered = await Promise.allSettled([
        t.backend.limit(`${run}-ok1`, fixed(1)),
        t.backend.limit(`{${run}-bad}`, fixed(1)),
        t.backend.limit(`${run}-ok2`, all(1)),
      ]);
      expect(t.scripts()).toBe(t.solo ? 2 : 1);
      expect(answered[0]).toMatchObject({ status: "fulfilled", value: { success: true } });
      expect(answered[1]).toMatchObject({ status: "rejected", reason: { name: "CacheBackendError" } });
      expect(String((answered[1] as PromiseRejectedResult).reason.message)).toMatch(/LIMIT: WRONGTYPE/);
      expect(answered[2]).toMatchObject({ status: "fulfilled", value: { success: true } });
      // Nothing was written for the failed call, and the others' calls counted.
      expect((await t.backend.limit(`${run}-ok1`, fixed(1))).success).toBe(false);
    });
  });
}

describe.skipIf(!redisUrl)("limit batching", () => {
  batchingTests("redis://", async () => {
    const { client, commands } = await countingClient(redisUrl);
    const backend = createRedisBackend(redisUrl, { namespace: "limit-batch", client });
    await backend.init();
    return {
      backend,
      solo: true,
      perScript: 16,
      scripts: sinceLast(() => (commands.evalsha ?? 0) + (commands.eval ?? 0)),
      setRaw: async (key) => void (await client.set(`limit-batch:${key}`, "value")),
      close: async () => {
        await backend.clear();
        await backend.close();
        client.disconnect();
      },
    };
  });

  batchingTests("upstash://", async () => {
    const server: UpstashServer = await startUpstashServer({ redisUrl });
    const backend = createUpstashBackend(server.url.replace(/^http:/, "upstash+http:"), { token: server.token, namespace: "limit-batch-up" });
    await backend.init();
    return {
      backend,
      solo: false,
      perScript: 32,
      scripts: sinceLast(() => server.commandCount("EVALSHA") + server.commandCount("EVAL")),
      setRaw: async (key) => void (await backend.set(key, "value", undefined)),
      close: async () => {
        await backend.clear();
        await backend.close();
        await server.stop();
      },
    };
  });
});

describe.skipIf(!redisUrl)("limit: a solo call on redis://", () => {
  it("is answered after SCRIPT FLUSH (NOSCRIPT, then EVAL), and its timeout or failure is a CacheBackendError", () =>
    withCountedBackend(redisUrl, "limit-solo", async ({ backend, client }) => {
      const id = `solo-${Date.now().toString(36)}`;
      expect((await backend.limit(id, fixed(3))).states[0]!.remaining).toBe(2);
      await client.script("FLUSH");
      expect((await backend.limit(id, fixed(3))).states[0]!.remaining).toBe(1);
      await client.set(`limit-solo:{${id}-bad}:f60000`, "text");
      await expect(backend.limit(`{${id}-bad}`, fixed(3))).rejects.toMatchObject({ name: "CacheBackendError", message: expect.stringMatching(/LIMIT: WRONGTYPE/) });
    }));
});

describe.skipIf(!redisUrl)("limit: a full script on redis://", () => {
  it("goes out as soon as it is full, before the tick that makes the calls ends", () =>
    withCountedBackend(redisUrl, "limit-full", async ({ backend, scripts: sent }) => {
      const id = `full-${Date.now().toString(36)}`;
      // A tick of several calls (one solo, then a batch): the next ticks batch from their first call.
      await Promise.all(Array.from({ length: 5 }, (_, i) => backend.limit(`${id}-warm-${i}`, fixed(100))));
      sent();
      const calls: Promise<LimitAnswer>[] = [];
      for (let i = 0; i < 15; i++) calls.push(backend.limit(`${id}-${i}`, fixed(100)));
      expect(sent()).toBe(0);
      calls.push(backend.limit(`${id}-15`, fixed(100)));
      // The 16th call filled a script: written at once, in this tick.
      expect(sent()).toBe(1);
      for (let i = 16; i < 20; i++) calls.push(backend.limit(`${id}-${i}`, fixed(100)));
      expect(sent()).toBe(0);
      expect((await Promise.all(calls)).every((a) => a.success && a.states[0]!.remaining === 99)).toBe(true);
      // The other 4 at the tick's end.
      expect(sent()).toBe(1);
      // A tick whose queue a full script emptied still ends when its calls stop coming, not at the
      // first hop that finds the queue as long as before: a call one hop later joins it, and the
      // tick counts as one of 17 calls (the next tick batches from its first call).
      const more: Promise<LimitAnswer>[] = [];
      for (let i = 0; i < 16; i++) more.push(backend.limit(`${id}-m${i}`, fixed(100)));
      await Promise.resolve();
      more.push(backend.limit(`${id}-m16`, fixed(100)));
      await Promise.all(more);
      expect(sent()).toBe(2);
      await Promise.all([0, 1, 2].map((i) => backend.limit(`${id}-n${i}`, fixed(100))));
      expect(sent()).toBe(1);
    }));
});

describe.skipIf(!clusterUrl)("limit batching on Redis Cluster", () => {
  it("one script per hash slot, sent together; every call answered", () =>
    withCountedBackend(clusterUrl, "limit-batch-cl", async ({ backend, scripts }) => {
      // 30 ids in one slot (one hash tag: one script), 40 spread over the slots.
      const ids = [...Array.from({ length: 30 }, (_, i) => `{same}-${i}`), ...Array.from({ length: 40 }, (_, i) => `spread-${i}`)];
      // The first round loads the script on every master (NOSCRIPT, then EVAL), the second is counted.
      expect((await Promise.all(ids.map((id) => backend.limit(id, all(2))))).every((a) => a.success)).toBe(true);
      scripts();
      expect((await Promise.all(ids.map((id) => backend.limit(id, all(2))))).every((a) => a.success && a.states[0]!.remaining === 0)).toBe(true);
      const sent = scripts();
      // The 30 ids of one tag share scripts (16 calls each at most: 2); the others take one each
      // (unless two share a slot).
      expect(sent).toBeGreaterThan(2);
      expect(sent).toBeLessThanOrEqual(42);
      expect((await backend.limit("{same}-0", all(2))).success).toBe(false);
    }));
});
