// A signed value tampered with in KV reads as a miss (and is deleted), like on every backend.
import { afterAll, beforeAll, expect, it } from "vitest";
import { Cache } from "../../../src/index.js";
import "../../../src/cloudflare-kv.js";
import { startKv, type KvServer } from "../../support/kv.js";

let server: KvServer;
beforeAll(async () => {
  server = await startKv(["KV"]);
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

it("a tampered signed value is a miss, reported, and deleted", async () => {
  const cache = new Cache("kv-tampered").setup("cloudflare-kv://KV", { binding: server.kv, secret: "s3cret", namespace: "tam" });
  const events: string[] = [];
  cache.on("tampered", () => void events.push("tampered"));
  await cache.set("k", "genuine", { expire: "1m" });
  const raw = await server.kv.get("tam:k", { type: "text" });
  await server.kv.put("tam:k", raw!.replace("genuine", "forged!"));
  expect(await cache.get("k")).toBeUndefined();
  expect(events).toEqual(["tampered"]);
  expect(await server.kv.get("tam:k", { type: "text" })).toBeNull();
  await cache.close();
});
