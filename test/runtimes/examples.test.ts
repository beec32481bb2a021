// The example apps of runtimes/: the Node demo behind `npm start`, and the example Hono app
// (runtimes/shared/app.ts) served on Node (@hono/node-server), Deno (`Deno.serve`) and Bun
// (`Bun.serve`), and as the example Worker in workerd (`npm run worker`: miniflare), each started as
// its own process and requested over HTTP.
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "node_modules", ".bin");
const redisUrl = inject("redisUrl");

interface Started {
  url: string;
  child: ChildProcess;
  output: () => string;
}

/** Cleaned environment for a child: no inherited cache URL or node options. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", PORT: "0", ...extra };
  delete env.NODE_OPTIONS;
  delete env.FORCE_COLOR;
  if (!("CACHE_URL" in extra)) delete env.CACHE_URL;
  delete env.REDIS_URL;
  return env;
}

/** Spawns a server and waits for its "listening on http://…" line. */
function startServer(command: string, args: string[], env: Record<string, string> = {}): Promise<Started> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: ROOT, env: childEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`${command} ${args.join(" ")} did not start listening within 60 s:\n${output}`));
    }, 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        done({ url: match[1]!, child, output: () => output });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`${command} ${args.join(" ")} exited with ${code} before listening:\n${output}`));
    });
  });
}

async function stopServer(server: Started | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null) return;
  const exited = new Promise((done) => server.child.once("exit", done));
  server.child.kill("SIGTERM");
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Requests the example app the way a client would; asserts what every runtime must show. */
async function exerciseExample(base: string, client: string): Promise<void> {
  const first = await fetch(`${base}/users/1`);
  const firstBody = await first.json();
  expect(first.status).toBe(200);
  expect(first.headers.get("x-from-cache")).toBeNull();
  expect(first.headers.get("etag")).toMatch(/^"[^"]+"$/);
  expect(firstBody).toMatchObject({ id: "1", name: "Grace" });

  const second = await fetch(`${base}/users/1`);
  expect(second.status).toBe(200);
  expect(second.headers.get("x-from-cache")).toBeTruthy();
  expect(Number(second.headers.get("x-from-cache-expire-in"))).toBeGreaterThan(0);
  expect(Number(second.headers.get("x-from-cache-expire-in"))).toBeLessThanOrEqual(30);
  expect(await second.json()).toEqual(firstBody); // the same loadedAt: served, not recomputed
  expect(second.headers.get("etag")).toBe(first.headers.get("etag"));

  const notModified = await fetch(`${base}/users/1`, { headers: { "if-none-match": first.headers.get("etag")! } });
  expect(notModified.status).toBe(304);

  // The response of /profile/1 is not cached, but the decorated getUser("1") inside was.
  const profile = await fetch(`${base}/profile/1`);
  expect(profile.status).toBe(200);
  expect(profile.headers.get("x-from-cache")).toContain("user:1");
  expect(await profile.json()).toEqual({ user: firstBody });

  const statuses: number[] = [];
  const remaining: (string | null)[] = [];
  for (let i = 0; i < 6; i++) {
    const response = await fetch(`${base}/limited`, { headers: { "x-client-id": client } });
    statuses.push(response.status);
    remaining.push(response.headers.get("ratelimit-remaining"));
    if (response.status === 429) expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    await response.arrayBuffer();
  }
  expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  expect(remaining).toEqual(["4", "3", "2", "1", "0", "0"]);
  // Another client has its own window.
  expect((await fetch(`${base}/limited`, { headers: { "x-client-id": `${client}-other` } })).status).toBe(200);

  const stats = (await (await fetch(`${base}/stats`)).json()) as { loads: number };
  expect(stats.loads).toBe(1); // getUser("1") ran once for /users/1, its hits and /profile/1
}

describe("the example Hono app", () => {
  const servers: Started[] = [];
  afterAll(async () => {
    await Promise.all(servers.map(stopServer));
  }, 30_000);

  it.concurrent("on Node (@hono/node-server), mem://", async () => {
    const server = await startServer(process.execPath, ["--import", "tsx", "runtimes/node/server.ts"]);
    servers.push(server);
    await exerciseExample(server.url, "node");
  }, 90_000);

  (redisUrl === "" ? it.skip : it.concurrent)("on Node (@hono/node-server), CACHE_URL=redis://", async () => {
    const server = await startServer(process.execPath, ["--import", "tsx", "runtimes/node/server.ts"], {
      CACHE_URL: `${redisUrl}${redisUrl.includes("?") ? "&" : "?"}safe=0`,
    });
    servers.push(server);
    // The test redis-server is new for this run: nothing is cached under "cashews-example" yet.
    await exerciseExample(server.url, `node-redis-${Date.now()}`);
  }, 90_000);

  it.concurrent("on Deno (Deno.serve), mem://", async () => {
    const server = await startServer(join(BIN, "deno"), [
      "run",
      "--sloppy-imports",
      "--no-lock",
      "--allow-env",
      "--allow-read",
      "--allow-net=127.0.0.1,localhost",
      "runtimes/deno/server.ts",
    ]);
    servers.push(server);
    await exerciseExample(server.url, "deno");
  }, 90_000);

  it.concurrent("as the example Worker in workerd (npm run worker: miniflare, wrangler.toml), mem://", async () => {
    const server = await startServer(process.execPath, ["--import", "tsx", "runtimes/workers/serve.ts"]);
    servers.push(server);
    await exerciseExample(server.url, "worker");
  }, 90_000);

  it.concurrent("on Bun (Bun.serve), mem://", async () => {
    const server = await startServer(join(BIN, "bun"), ["runtimes/bun/server.ts"]);
    servers.push(server);
    await exerciseExample(server.url, "bun");
  }, 90_000);
});

describe("npm start (runtimes/node/demo.ts)", () => {
  let output = "";
  let code: number | null = null;
  beforeAll(async () => {
    await new Promise<void>((done, fail) => {
      const child = spawn(process.execPath, ["--import", "tsx", "runtimes/node/demo.ts"], {
        cwd: ROOT,
        env: childEnv({}),
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.once("error", fail);
      child.once("exit", (exitCode) => {
        clearTimeout(timer);
        code = exitCode;
        done();
      });
    });
  }, 90_000);

  it("serves the Hono app on mem://, shows a miss, then a hit from the cache, then the rate limit, and exits 0", () => {
    expect(code, output).toBe(0);
    expect(output).toContain("a Hono app on mem://");
    expect(output).toMatch(/GET \/users\/1 \(miss\)\s+200\s+[\d.]+ ms\s+computed/);
    expect(output).toMatch(/GET \/users\/1 \(hit\)\s+200\s+[\d.]+ ms\s+from cache: \S+ \(\d+ s left\)/);
    expect(output).toMatch(/GET \/profile\/1 \(detect\)\s+200\s+[\d.]+ ms\s+from cache: .*user:1/);
    expect(output).toMatch(/GET \/limited #6\s+429/);
    expect(output).toMatch(/stats: 2 slow loads, /);
  });
});

describe("the caching reverse proxy example (runtimes/node/proxy.ts)", () => {
  let proxy: Started | undefined;
  let origin: import("node:http").Server | undefined;
  const hits: string[] = [];
  afterAll(async () => {
    await stopServer(proxy);
    await new Promise((done) => (origin ? origin.close(done) : done(undefined)));
  });

  it("caches what the origin allows, revalidates with its ETag and invalidates on POST", async () => {
    const { createServer } = await import("node:http");
    let version = 1;
    origin = createServer((req, res) => {
      hits.push(`${req.method} ${req.url} ${req.headers["if-none-match"] ?? ""}`);
      if (req.method === "POST") return void res.writeHead(204).end();
      if (req.url === "/stale" && req.headers["if-none-match"] === `"v${version}"`) return void res.writeHead(304).end();
      const cc = req.url === "/stale" ? "max-age=0" : req.url === "/private" ? "private, max-age=60" : "max-age=60";
      res.writeHead(200, { "cache-control": cc, etag: `"v${version}"`, "content-type": "text/plain" }).end(`${req.url} v${version}`);
    });
    await new Promise<void>((done) => origin!.listen(0, "127.0.0.1", done));
    const port = (origin.address() as import("node:net").AddressInfo).port;
    proxy = await startServer(process.execPath, ["--import", "tsx", "runtimes/node/proxy.ts"], { ORIGIN: `http://127.0.0.1:${port}` });
    const get = async (path: string) => {
      const res = await fetch(`${proxy!.url}${path}`);
      return { body: await res.text(), from: res.headers.get("x-from-cache") };
    };
    expect(await get("/fresh")).toEqual({ body: "/fresh v1", from: null });
    expect(await get("/fresh")).toEqual({ body: "/fresh v1", from: "response:GET:/fresh" });
    await get("/stale");
    expect(await get("/stale")).toEqual({ body: "/stale v1", from: "response:GET:/stale" }); // answered by a 304
    await get("/private");
    expect((await get("/private")).from).toBeNull();
    version = 2;
    expect((await fetch(`${proxy.url}/fresh`, { method: "POST" })).status).toBe(204);
    expect(await get("/fresh")).toEqual({ body: "/fresh v2", from: null });
    // A path that looks like another host stays a path on the origin (not an open proxy).
    expect(await get("//elsewhere.invalid/x")).toEqual({ body: "//elsewhere.invalid/x v2", from: null });
    expect(hits).toEqual(["GET /fresh ", "GET /stale ", 'GET /stale "v1"', "GET /private ", "GET /private ", "POST /fresh ", "GET /fresh ", "GET //elsewhere.invalid/x "]);
  }, 90_000);
});
