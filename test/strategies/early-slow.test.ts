// early: a refresh slower than earlyTtl is still the only one for that expiry, across instances
// that share one Redis (each Cache instance stands for a process).
import { afterAll, describe, expect, inject, it } from "vitest";
import { Cache } from "../../src/index.js";

const redisUrl = inject("redisUrl");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!redisUrl)("early with a refresh slower than earlyTtl (redis://)", () => {
  const namespace = `early-slow-${Math.random().toString(36).slice(2, 8)}`;
  const a = new Cache("a").setup(redisUrl, { namespace });
  const b = new Cache("b").setup(redisUrl, { namespace });
  afterAll(async () => {
    await a.clear();
    await a.close();
    await b.close();
  });

  it("starts one refresh per expiry, not one per lock expiry", async () => {
    let runs = 0;
    const fn = async (x: number): Promise<number> => {
      runs++;
      await sleep(400);
      return x * 10 + runs;
    };
    const options = { ttl: "1m", earlyTtl: 100, key: "slow:{x}" };
    const onA = a.early(options)(fn);
    const onB = b.early(options)(fn);
    expect(await onA(1)).toBe(11);
    await sleep(150); // due now
    expect(await onA(1)).toBe(11); // stale value served; A starts the (slow) refresh
    await sleep(150); // longer than earlyTtl: the refresh is still running
    expect(await onB(1)).toBe(11); // B sees the due value but must not start a second refresh
    await sleep(450);
    expect(runs).toBe(2);
    expect(await onB(1)).toBe(12);
  });
});
