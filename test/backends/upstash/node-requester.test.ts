// The Upstash backend's transport on Node (src/backends/upstash/node-requester.ts): node:http
// instead of fetch for our own client (a supplied @upstash/redis client keeps its fetch), and the
// requester's protocol: read-your-writes sync token, retries of network failures, aborts, HTTP
// errors, base64 replies decoded as @upstash/redis decodes them.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "@upstash/redis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { createUpstashBackend } from "../../../src/backends/upstash/backend.js";
import { nodeRequester } from "../../../src/backends/upstash/node-requester.js";
import { startUpstashServer, type UpstashServer } from "../../support/upstash-server.js";

const redisUrl = inject("redisUrl");

describe.skipIf(!redisUrl)("upstash:// on Node: node:http, not fetch", () => {
  let server: UpstashServer;
  const realFetch = globalThis.fetch;
  let fetches = 0;
  beforeAll(async () => {
    server = await startUpstashServer({ redisUrl });
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
  });
  afterAll(() => server.stop());

  const countFetches = (): void => {
    fetches = 0;
    globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      fetches++;
      return realFetch(input, init);
    }) as typeof fetch;
  };

  it("our own client's requests go through node:http; the same replies", async () => {
    countFetches();
    const backend = createUpstashBackend(server.url.replace(/^http:/, "upstash+http:"), { token: server.token, namespace: "node-req" });
    const before = server.requests;
    await backend.set("k", "ü ✓ \"quoted\"", 60_000);
    expect(await backend.get("k")).toBe("ü ✓ \"quoted\"");
    expect(await backend.getMany(["k", "absent"])).toEqual(["ü ✓ \"quoted\"", expect.anything()]);
    expect(server.requests - before).toBeGreaterThanOrEqual(3);
    expect(fetches).toBe(0);
    await backend.clear();
    await backend.close();
  });

  it("a supplied @upstash/redis client keeps its own fetch", async () => {
    countFetches();
    const client = new Redis({ url: server.url, token: server.token, automaticDeserialization: false });
    const backend = createUpstashBackend(server.url.replace(/^http:/, "upstash+http:"), { client, namespace: "node-req-client" });
    await backend.set("k", "v", 60_000);
    expect(await backend.get("k")).toBe("v");
    expect(fetches).toBeGreaterThan(0);
    await backend.clear();
  });

  it("an HTTP error is the reply's error", async () => {
    const requester = nodeRequester(server.url, "wrong-token", 0, 10)!;
    await expect(requester.request({ path: ["pipeline"], body: [["PING"]] })).rejects.toThrow(/Unauthorized/);
    const ok = nodeRequester(server.url, server.token, 0, 10)!;
    expect(await ok.request({ path: ["pipeline"], body: [["PING"], ["ECHO", "é"]] })).toEqual([{ result: "PONG" }, { result: "é" }]);
  });
});

describe("node:http requester: protocol", () => {
  let http: Server;
  let url = "";
  const seen: IncomingMessage["headers"][] = [];
  /** Connections to cut before answering (a network failure for the client). */
  let cut = 0;
  let delayMs = 0;
  beforeAll(async () => {
    http = createServer((req, res) => {
      if (cut > 0) {
        cut--;
        req.socket.destroy();
        return;
      }
      seen.push(req.headers);
      req.resume();
      req.on("end", () => {
        setTimeout(() => {
          res.setHeader("upstash-sync-token", `token-${seen.length}`);
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify([{ result: btoa("PONG") }, { result: [btoa("a"), 1, [btoa("b")]] }, { error: "ERR nope" }]));
        }, delayMs);
      });
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => http.close(() => resolve())));

  it("sends the token and base64 encoding, decodes replies, sends back the last sync token", async () => {
    const requester = nodeRequester(url, "secret", 0, 10)!;
    const reply = await requester.request({ path: ["pipeline"], body: [["PING"]] });
    expect(reply).toEqual([{ result: "PONG" }, { result: ["a", 1, ["b"]] }, { error: "ERR nope", result: undefined }]);
    expect(seen.at(-1)!.authorization).toBe("Bearer secret");
    expect(seen.at(-1)!["upstash-encoding"]).toBe("base64");
    expect(seen.at(-1)!["upstash-sync-token"]).toBeUndefined();
    await requester.request({ path: ["pipeline"], body: [["PING"]] });
    expect(seen.at(-1)!["upstash-sync-token"]).toBe(`token-${seen.length - 1}`);
  });

  it("retries a network failure `retries` times, then fails with it", async () => {
    const requester = nodeRequester(url, "secret", 2, 5)!;
    cut = 2;
    expect(await requester.request({ path: ["pipeline"], body: [["PING"]] })).toHaveLength(3);
    cut = 3;
    await expect(requester.request({ path: ["pipeline"], body: [["PING"]] })).rejects.toThrow(/socket hang up|ECONNRESET/);
    cut = 0;
  });

  it("an abort rejects with the signal's reason, without a retry", async () => {
    const requester = nodeRequester(url, "secret", 3, 5)!;
    delayMs = 300;
    const before = seen.length;
    const error = await requester.request({ path: ["pipeline"], body: [["PING"]], signal: () => AbortSignal.timeout(30) }).then(() => undefined, (e: unknown) => e as Error);
    delayMs = 0;
    expect(error?.name).toBe("TimeoutError");
    expect(seen.length - before).toBe(1);
  });
});
